"""The commitment-breach journey in a real browser (Chromium via Playwright) against a live server, on a generated
city: the first round puts a unit on the key-supervision track (it must apply); the unit signs in through /lookup/
(its code read from the notify outbox), sees why the other situations are closed to it, applies under key
supervision (errors first, then check answers, confirmation with an ``A-`` reference); a district officer prepares
the review and a reviewer grants it in the back office (two browsers, four eyes); the next rounds carry it through
publicity to approval, the simulated banks pay it (the demo's payment step), and the unit sees its refund paid —
at 1200 px and 360 px, screenshots kept as artefacts."""

from __future__ import annotations

import csv
from base64 import b32decode
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from mianshen.cases.models import Application, Case
from mianshen.cases.states import State

from ..portal.conftest import sent_codes
from .test_portal_journeys import DESKTOP, PHONE, new_page, no_horizontal_scroll

PHONE_NO = "13900000009"
PASSWORD = "a-long-passphrase-for-the-test"
AS_OF = "2021-07-01"


@dataclass
class World:
    root: Path
    drop: Path
    snapshot: Any
    case: Case


def _round(snapshot: Any, checkpoint: str) -> None:
    from datetime import date

    from mianshen.core.jobs import job_drain
    from mianshen.screening.services import round_start

    round_start(policy_id="beijing-2021", snapshot=snapshot, actor="市级管理员 admin",
                as_of=date.fromisoformat(AS_OF), checkpoint=checkpoint)  # fmt: skip
    job_drain(stop_on_failure=True)


@pytest.fixture
def world(transactional_db: None, settings: Any, tmp_path: Path) -> World:
    """A generated city of 120 units (one on the commitment-breach track, given a phone on file), imported, the
    first round run; two officers of its district."""
    from datetime import date

    from mianshen.datadrop.generate import generate
    from mianshen.datadrop.validate import validate_drop
    from mianshen.registry.services import snapshot_import
    from mianshen.screening.models import Checkpoint

    settings.VAR_DIR = tmp_path
    drop = tmp_path / "drop"
    generate(units=120, seed=2021, out=drop, fmt="csv")
    with open(drop / "units.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    breach = "11069355345"  # the one unit of this city with an active commitment_breach flag
    for row in rows:
        if row["unit_id"] == breach:
            row["phone"] = PHONE_NO
    with open(drop / "units.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    snapshot = snapshot_import(drop=validate_drop(drop), extracted_on=date.fromisoformat(AS_OF)).snapshot
    _round(snapshot, Checkpoint.INITIAL)
    case = Case.objects.get(unit_id=breach)
    assert (case.state, case.key_supervision) == (State.AWAITING_APPLICATION, True)
    return World(tmp_path, drop, snapshot, case)


def _office(browser: Any, live_server: Any, username: str, role: str, district: str | None) -> Any:
    """A back-office session of a new officer (password; the reviewer also its authenticator code)."""
    from django.contrib.auth import get_user_model
    from django_otp.oath import TOTP

    from mianshen.staff.second_factor import second_factor_enrol
    from mianshen.staff.services import staff_add

    staff_add(username=username, role=role, district=district, password=PASSWORD)
    secret = ""
    if role == "reviewer":
        secret = second_factor_enrol(
            user=get_user_model().objects.get(username=username), actor="test"
        ).secret
    office = new_page(browser, DESKTOP)
    office.goto(live_server.url + "/office/login/")
    office.locator("#id_username").fill(username)
    office.locator("#id_password").fill(PASSWORD)
    office.locator("main form button[type=submit]").click()
    if secret:
        office.wait_for_url("**/office/login/verify/**")
        office.locator("main form input[name=token]").fill(f"{TOTP(b32decode(secret)).token():06d}")
        office.locator("main form button[type=submit]").click()
    office.wait_for_url("**/office/")
    return office


def _grant_in_the_back_office(browser: Any, live_server: Any, case: Case, shots: Any, tag: str) -> None:
    maker = _office(browser, live_server, f"officer-{tag}", "district_officer", case.district)
    maker.goto(live_server.url + "/office/queues/applications/")
    maker.get_by_role("link", name=case.number).click()
    form = maker.locator(f"form[action$='/cases/{case.pk}/reviews/']")
    form.locator("select[name=recommendation]").select_option("approve")
    form.locator("textarea[name=notes]").fill("整改属实，材料核实无误。")
    form.locator("button[type=submit]").click()
    maker.get_by_text("审核意见已提交").wait_for()
    maker.context.close()
    checker = _office(browser, live_server, f"reviewer-{tag}", "reviewer", None)
    checker.goto(live_server.url + f"/office/cases/{case.pk}/")
    form = checker.locator("form[action*='/reviews/'][action$='/decide/']")
    form.locator("select[name=decision]").select_option("approve")
    form.locator("textarea[name=reason]").fill("同意，继续重点监管。")
    form.locator("button[type=submit]").click()
    checker.get_by_text("复核结论已记录").wait_for()
    shots(checker, f"office-{tag}-application-granted")
    checker.context.close()


def _next_rounds_pay(world: World) -> None:
    """Round 2 (before publicity), a notice that has already ended, round 3 (before payment), payment through the
    simulated banks — the demo's own steps."""
    from mianshen.cases.services import notice_open
    from mianshen.cli.demo import _pay
    from mianshen.screening.models import Checkpoint

    _round(world.snapshot, Checkpoint.BEFORE_PUBLICITY)
    world.case.refresh_from_db()
    assert world.case.state == State.RECHECKED  # not sent back to "must apply"
    notice_open(
        policy_id="beijing-2021", actor="市级管理员 admin", start=timezone.localdate() - timedelta(days=8)
    )
    _round(world.snapshot, Checkpoint.BEFORE_PAYMENT)
    world.case.refresh_from_db()
    assert world.case.state == State.APPROVED
    _pay(root=world.root, seed=2021, note=lambda step, text: None, drop=world.drop)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone360"])
def test_a_commitment_breach_unit_applies_two_officers_grant_it_the_next_round_pays_it(
    browser: Any, live_server: Any, world: World, shots: Any, viewport: dict[str, int]
) -> None:
    tag = "phone" if viewport is PHONE else "desktop"
    case = world.case
    page = new_page(browser, viewport)
    page.goto(live_server.url + "/lookup/")
    page.get_by_label("统一社会信用代码").fill(case.credit_code)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("短信验证码").wait_for()
    page.get_by_label("短信验证码").fill(sent_codes(to=PHONE_NO)[-1])
    page.get_by_role("button", name="查看进度").click()
    page.locator("#apply-link").click()
    page.wait_for_url("**/apply/")
    assert "仅适用于因银行账户信息有误" in page.content()
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-situations")
    page.locator(f"#offer-{case.pk}-key_supervision").click()
    page.get_by_role("button", name="继续").click()  # nothing filled in: every field says what is missing
    page.locator(".error-summary").wait_for()
    assert page.locator("#statement-error").is_visible() and page.locator("#contact_phone-error").is_visible()
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-errors")
    page.get_by_label("对未履行承诺或不配合核查情况的说明及整改情况").fill("已补足承诺的岗位数，并配合核查。")
    page.get_by_label("联系人姓名").fill("王经理")
    page.get_by_label("联系人手机号码").fill(PHONE_NO)
    page.get_by_role("button", name="继续").click()
    page.wait_for_url("**/apply/check/")
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-check")
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url("**/apply/done/")
    reference = page.locator("#reference").inner_text()
    assert reference == Application.objects.get(case=case).reference and reference.startswith("A-")
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-done")

    _grant_in_the_back_office(browser, live_server, case, shots, tag)
    page.goto(live_server.url + "/apply/")
    assert page.locator(".outcome").first.inner_text().startswith("准予")
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-granted")

    _next_rounds_pay(world)
    case.refresh_from_db()
    assert (case.state, case.key_supervision) == (State.PAID, True)
    page.goto(live_server.url + "/lookup/")
    page.locator("#payment").wait_for()
    assert (
        page.locator("#payment").inner_text().startswith("已到账")
        and page.locator("#state").inner_text() == "已拨付"
    )
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-paid")
    page.context.close()
