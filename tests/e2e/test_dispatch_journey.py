"""A labour-dispatch firm's host employers confirm its workers in a real browser (Chromium via Playwright) against a
live server, on a generated city: the first round puts the firm in ``awaiting_confirmation`` and tells its hosts;
each host signs in through /lookup/ as its own unit (its code read from the notify outbox), finds the firm on
/apply/, is told what is missing when it sends nothing, confirms (check answers, confirmation with an ``A-``
reference); the next round then moves the firm's case on — at 1200 px and 360 px, screenshots kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mianshen.cases.models import Case, HostAnswer
from mianshen.cases.states import State
from mianshen.screening.models import Checkpoint

from ..dispatch_world import PHONES, City, import_city, make_city, run_round
from ..portal.conftest import sent_codes
from .test_portal_journeys import DESKTOP, PHONE, new_page, no_horizontal_scroll


@pytest.fixture
def world(transactional_db: None, settings: Any, tmp_path: Path) -> tuple[City, Any, Case]:
    settings.VAR_DIR = tmp_path
    city = make_city(tmp_path)
    snapshot = import_city(city)
    run_round(snapshot, Checkpoint.INITIAL)
    firm = Case.objects.get(unit_id=city.firm)
    assert firm.state == State.AWAITING_CONFIRMATION
    return city, snapshot, firm


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone360"])
def test_the_hosts_sign_in_and_confirm_the_next_round_moves_the_firm_on(
    browser: Any, live_server: Any, world: tuple[City, Any, Case], shots: Any, viewport: dict[str, int]
) -> None:
    city, snapshot, firm = world
    tag = "phone" if viewport is PHONE else "desktop"
    for role, host in (("host_a", city.host_a), ("host_b", city.host_b)):
        page = new_page(browser, viewport)
        page.goto(live_server.url + "/lookup/")
        page.get_by_label("统一社会信用代码").fill(city.codes[host])
        page.get_by_role("button", name="获取验证码").click()
        page.get_by_label("短信验证码").wait_for()
        page.get_by_label("短信验证码").fill(sent_codes(to=PHONES[role])[-1])
        page.get_by_role("button", name="查看进度").click()
        page.locator("#apply-link").click()
        page.wait_for_url("**/apply/")
        assert firm.unit_name in page.locator("#dispatch").inner_text()
        no_horizontal_scroll(page)
        shots(page, f"{tag}-dispatch-{role}-list")
        page.locator(f"#host-{firm.pk}").click()
        page.get_by_role("button", name="继续").click()  # nothing chosen: the question says so
        page.locator(".error-summary").wait_for()
        assert page.locator("#answer-error").is_visible()
        no_horizontal_scroll(page)
        shots(page, f"{tag}-dispatch-{role}-errors")
        page.locator("#answer-confirm").check()
        page.get_by_role("button", name="继续").click()
        page.wait_for_url("**/apply/dispatch/check/")
        no_horizontal_scroll(page)
        shots(page, f"{tag}-dispatch-{role}-check")
        page.get_by_role("button", name="确认提交").click()
        page.wait_for_url("**/apply/dispatch/done/")
        reference = page.locator("#reference").inner_text()
        assert reference == HostAnswer.objects.get(case=firm, host_unit_id=host).reference
        no_horizontal_scroll(page)
        shots(page, f"{tag}-dispatch-{role}-done")
        page.context.close()
    firm.refresh_from_db()
    assert firm.state == State.IDENTIFIED
    run_round(snapshot, Checkpoint.BEFORE_PUBLICITY)
    firm.refresh_from_db()
    assert firm.state == State.RECHECKED  # ready for the notice: the round passed it
