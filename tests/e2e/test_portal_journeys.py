"""Journeys through the public portal in a real browser (Chromium via Playwright) against a live server:
home → guide → publicity search → CSV; an objection raised, decided by a reviewer in the back office,
and its outcome seen with the code from the outbox; the same on a 360-pixel phone screen; the pages usable with
the keyboard alone (skip link first)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from mianshen.cases.models import Objection

from ..portal.conftest import Listed, make_cases, open_notice, sent_codes

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1200, "height": 900}


@pytest.fixture
def city(transactional_db: None, settings: Any, tmp_path: Path) -> Listed:
    settings.VAR_DIR = tmp_path
    names = ("北京星光科技有限公司", "北京晨曦餐饮管理有限公司", "北京律和律师事务所")
    cases = make_cases(30, names=names)
    return Listed(open_notice(cases), cases)


def new_page(browser: Any, viewport: dict[str, int], language: str = "zh-CN") -> Any:
    context = browser.new_context(viewport=viewport, locale=language, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (
        f"{page.url}: {width}px wide in a {page.viewport_size['width']}px screen"
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone360"])
def test_home_guide_publicity_search_and_csv(
    browser: Any, live_server: Any, city: Listed, shots: Any, viewport: dict[str, int]
) -> None:
    tag = "phone" if viewport is PHONE else "desktop"
    page = new_page(browser, viewport)
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "失业保险稳岗返还：免申即享"
    no_horizontal_scroll(page)
    shots(page, f"{tag}-home")
    page.get_by_role("link", name="查看政策指南").click()
    page.wait_for_url("**/guide/")
    assert page.locator("#fig-layoff").inner_text() == "6%"
    no_horizontal_scroll(page)
    shots(page, f"{tag}-guide")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="公示名单").click()
    page.wait_for_url("**/publicity/")
    page.get_by_label("单位名称或信用代码").fill("星光")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/publicity/?q=*")
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and "北京星光科技有限公司" in rows.first.inner_text()
    no_horizontal_scroll(page)
    shots(page, f"{tag}-publicity-search")
    with page.expect_download() as info:
        page.get_by_role("link", name="下载名单（CSV）").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert len(lines) == 2 and lines[1][1] == "北京星光科技有限公司" and "********" in lines[1][2]
    # English through the visible switch, kept on the next page
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Policy guide").click()
    assert page.locator("h1").inner_text() == "Policy guide"
    shots(page, f"{tag}-guide-en")
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone360"])
def test_an_objection_raised_decided_and_its_outcome_seen(
    browser: Any, live_server: Any, city: Listed, shots: Any, viewport: dict[str, int]
) -> None:
    tag = "phone" if viewport is PHONE else "desktop"
    page = new_page(browser, viewport)
    page.goto(live_server.url + "/publicity/?q=晨曦")
    page.get_by_role("link", name=re.compile("提出异议")).first.click()
    page.wait_for_url("**/objections/new/?entry=*")
    page.get_by_role("button", name="继续").click()  # nothing filled in: the errors are named by their fields
    assert page.locator(".error-summary").is_visible()
    assert "请说明异议理由" in page.locator("#grounds-error").inner_text()
    shots(page, f"{tag}-objection-errors")
    page.get_by_label("异议理由").fill("该单位去年已经停业，职工均已离职。")
    page.get_by_label("手机号码").fill("13812345678")
    page.get_by_role("button", name="继续").click()
    page.wait_for_url("**/objections/new/check/")
    assert "138****5678" in page.content()
    no_horizontal_scroll(page)
    shots(page, f"{tag}-objection-check")
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url("**/objections/new/done/")
    reference = page.locator("#reference").inner_text()
    assert re.match(r"^O-[0-9A-HJKMNP-TV-Z]{10}$", reference)
    shots(page, f"{tag}-objection-done")

    objection = Objection.objects.get(case__unit_name="北京晨曦餐饮管理有限公司")
    decide_in_the_back_office(browser, live_server, objection, shots)

    page.get_by_role("link", name="查询异议处理结果").click()
    page.get_by_label("受理编号").fill(reference.lower())
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("短信验证码").wait_for()
    code = sent_codes(Path(live_server_var(city)) / "outbox" / "sms")[-1]
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="查看结果").click()
    page.locator("#outcome").wait_for()
    assert page.locator("#outcome").inner_text() == "异议成立：该单位不予返还"
    no_horizontal_scroll(page)
    shots(page, f"{tag}-objection-outcome")
    page.context.close()


def decide_in_the_back_office(browser: Any, live_server: Any, objection: Objection, shots: Any) -> None:
    """A reviewer (the role that decides objections) signs in to the back office in its own browser, with
    password and authenticator code, finds the objection in the queue and decides it on the case page: the back
    office's own pages, form and service."""
    from base64 import b32decode

    from django.contrib.auth import get_user_model
    from django_otp.oath import TOTP

    from mianshen.staff.second_factor import second_factor_enrol
    from mianshen.staff.services import staff_add

    password = "a-long-passphrase-for-the-test"
    staff_add(username="checker", role="reviewer", password=password)
    secret = second_factor_enrol(user=get_user_model().objects.get(username="checker"), actor="test").secret
    office = new_page(browser, DESKTOP)
    office.goto(live_server.url + "/office/login/")
    office.locator("#id_username").fill("checker")
    office.locator("#id_password").fill(password)
    office.locator("main form button[type=submit]").click()
    office.wait_for_url("**/office/login/verify/**")
    office.locator("main form input[name=token]").fill(f"{TOTP(b32decode(secret)).token():06d}")
    office.locator("main form button[type=submit]").click()
    office.wait_for_url("**/office/")
    office.goto(live_server.url + "/office/queues/objections/")
    office.get_by_role("link", name=objection.case.number).click()
    form = office.locator(f"form[action$='/objections/{objection.pk}/decide/']")
    form.locator("select[name=outcome]").select_option("upheld")
    form.locator("textarea[name=reason]").fill("经核实，该单位已停业。")
    form.locator("button[type=submit]").click()
    office.get_by_text("异议处理结果已记录。").wait_for()
    shots(office, "office-objection-decided")
    office.context.close()
    objection.refresh_from_db()
    assert objection.outcome == "upheld" and objection.decided_by == "checker"


def live_server_var(city: Listed) -> str:
    from django.conf import settings

    return str(settings.VAR_DIR)


def test_the_keyboard_reaches_the_skip_link_first_and_the_search(
    browser: Any, live_server: Any, city: Listed
) -> None:
    page = new_page(browser, DESKTOP)
    page.goto(live_server.url + "/publicity/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "跳到主要内容"
    page.keyboard.press("Enter")
    page.wait_for_url(
        "**/publicity/#main"
    )  # the fragment navigation lands a moment later on a loaded machine
    page.get_by_label("单位名称或信用代码").focus()
    page.keyboard.type("律和")
    page.keyboard.press("Enter")
    page.wait_for_url("**/publicity/?q=*")
    assert page.locator("tbody tr").count() == 1
    page.context.close()


def test_a_second_notice_page_with_many_units(
    browser: Any, live_server: Any, transactional_db: None, shots: Any
) -> None:
    open_notice(make_cases(45))
    page = new_page(browser, PHONE)
    page.goto(live_server.url + "/publicity/")
    assert page.locator("tbody tr").count() == 20
    page.get_by_role("link", name="下一页").click()
    page.wait_for_url("**page=2")
    assert "第 2 页" in page.locator(".pagination").inner_text()
    page.context.close()


def test_the_api_docs_render_from_our_own_files(
    browser: Any, live_server: Any, transactional_db: None
) -> None:
    """Swagger UI is served from django-ninja's static files (no CDN) and renders under the site's CSP."""
    page = new_page(browser, DESKTOP)
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(live_server.url + "/api/docs")
    page.get_by_text("/api/publicity").first.wait_for()
    assert page.get_by_text("/api/objections/{ref}").first.is_visible()
    assert blocked == []
    page.context.close()
