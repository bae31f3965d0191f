"""呼我必回 end to end in a real browser (Chromium via Playwright) against a live server: a request on the portal
→ the district officer's queue in the back office with its countdown → the reminder at 50 % of the working time
(the worker's sweep with a fake clock) → the officer records "answered" → the requester sees it with the code sent
to the phone and rates it."""

from __future__ import annotations

import re
from base64 import b32decode
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import TOTP

from mianshen.notify.callbacks import callbacks_sweep, step_times, working_calendar
from mianshen.notify.models import CallbackRequest, Message
from mianshen.staff.second_factor import second_factor_enrol
from mianshen.staff.services import staff_add

from ..portal.conftest import sent_codes
from .test_portal_journeys import DESKTOP, PHONE, new_page, no_horizontal_scroll

PASSWORD = "a-long-passphrase-for-the-test"


@pytest.fixture
def var(transactional_db: None, settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    settings.NOTIFY_OUTBOX_DIR = tmp_path / "outbox"
    return tmp_path


def officer_signs_in(browser: Any, live_server: Any) -> Any:
    staff_add(username="haidian", role="district_officer", district="110108", password=PASSWORD)
    user = get_user_model().objects.get(username="haidian")
    user.staff.phone = "13900001111"
    user.staff.save(update_fields=["phone"])
    secret = second_factor_enrol(user=user, actor="test").secret
    office = new_page(browser, DESKTOP)
    office.goto(live_server.url + "/office/login/")
    office.locator("#id_username").fill("haidian")
    office.locator("#id_password").fill(PASSWORD)
    office.locator("main form button[type=submit]").click()
    office.wait_for_url("**/office/login/verify/**")
    office.locator("main form input[name=token]").fill(f"{TOTP(b32decode(secret)).token():06d}")
    office.locator("main form button[type=submit]").click()
    office.wait_for_url("**/office/")
    return office


def test_request_queue_reminder_answered_and_rated(
    browser: Any, live_server: Any, var: Path, shots: Any
) -> None:
    page = new_page(browser, PHONE)
    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="呼我必回").click()
    page.wait_for_url("**/callback/")
    page.get_by_role("button", name="继续").click()  # nothing filled in: the first error is named
    assert page.locator(".error-summary").is_visible() and page.locator("#name-error").is_visible()
    page.get_by_label("您的姓名").fill("李四")
    page.get_by_label("手机号码").fill("13912345678")
    page.get_by_label("咨询主题").fill("返还何时到账")
    page.get_by_label("您的问题").fill("我单位在公示名单上，请问返还款什么时候到账？")
    page.get_by_label("所在区（选填）").select_option("110108")
    page.get_by_role("button", name="继续").click()
    page.wait_for_url("**/callback/check/")
    assert "139****5678" in page.content() and "海淀区" in page.content()
    no_horizontal_scroll(page)
    shots(page, "phone-callback-check")
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url("**/callback/done/")
    reference = page.locator("#reference").inner_text()
    assert re.match(r"^C-[0-9A-HJKMNP-TV-Z]{10}$", reference)
    cb = CallbackRequest.objects.get(reference=reference)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", page.locator("#promise").inner_text())
    no_horizontal_scroll(page)
    shots(page, "phone-callback-done")

    office = officer_signs_in(browser, live_server)
    office.get_by_role("link", name="呼我必回").first.click()
    office.wait_for_url("**/office/callbacks/")
    row = office.locator(f"tr[data-callback='{reference}']")
    assert (
        "剩" in row.locator(".countdown").inner_text() or "已超时" in row.locator(".countdown").inner_text()
    )

    # the worker's sweep, with a fake clock at half the working time: the officer's phone gets the reminder
    half = step_times(cb.started_at, working_calendar())[0]
    assert callbacks_sweep(now=half).reminded == 1
    reminder = Message.objects.get(kind="callback_reminder")
    assert reminder.to == "13900001111" and reference in reminder.body_zh

    office.reload()
    office.locator(f"tr[data-callback='{reference}'] a").click()
    office.wait_for_url(f"**/office/callbacks/{cb.pk}/")
    office.get_by_label("已答复").check()
    office.get_by_label("回电情况说明").fill("已电话告知：公示期满后 10 个工作日内拨付。")
    office.get_by_role("button", name="保存").click()
    office.get_by_text("回电结果已记录。").wait_for()
    assert "已答复" in office.locator("#state").inner_text()
    shots(office, "office-callback-answered")
    office.context.close()

    page.get_by_role("link", name="查询回电进度").click()
    page.get_by_label("受理编号").fill(reference.lower())
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("短信验证码").wait_for()
    page.get_by_label("短信验证码").fill(sent_codes(var / "outbox" / "sms")[-1])
    page.get_by_role("button", name="查看进度").click()
    page.locator("#progress").wait_for()
    assert page.locator("#progress").inner_text() == "已答复"
    page.locator("#rating-5").check()
    page.get_by_role("button", name="提交评价").click()
    page.locator("#rating").wait_for()
    assert (
        page.locator("#rating").inner_text() == "5 / 5" and page.locator("#progress").inner_text() == "已办结"
    )
    no_horizontal_scroll(page)
    shots(page, "phone-callback-rated")
    page.context.close()
    cb.refresh_from_db()
    assert (cb.state, cb.rating, cb.outcome) == ("closed", 5, "answered")
