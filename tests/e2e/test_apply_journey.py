"""/apply/ in a real browser (Chromium via Playwright) against a live server: a unit on the commitment-breach
track signs in through /lookup/ (its code read from the notify outbox), sees why the other situations are not
open to it, applies under key supervision (errors first, then check answers, confirmation with an ``A-``
reference); two officers grant it (four eyes, through the review services the back office calls) and the unit
sees the outcome — at 1200 px and 360 px, screenshots kept."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mianshen.cases.models import Application, Case
from mianshen.cases.services import review_decide, review_prepare
from mianshen.cases.states import State
from mianshen.registry.models import Snapshot, Unit

from ..portal.conftest import make_cases, sent_codes
from .test_portal_journeys import DESKTOP, PHONE, new_page, no_horizontal_scroll


@pytest.fixture
def breach_unit(transactional_db: None, settings: Any, tmp_path: Path) -> Case:
    settings.VAR_DIR = tmp_path
    (case,) = make_cases(1, start=900, names=("北京守诺科技有限公司",))
    Case.objects.filter(pk=case.pk).update(state=State.AWAITING_APPLICATION, key_supervision=True,
                                           reason="COMMITMENT_BREACH")  # fmt: skip
    snap = Snapshot.objects.create(content_hash="90" * 32, source="test", extracted_on=date(2021, 6, 30))
    Unit.objects.create(snapshot=snap, line=2, unit_id=case.unit_id, credit_code=case.credit_code, name=case.unit_name,
                        unit_type="enterprise", industry="65", district=case.district, dispatch=False,
                        phone="13900000009")  # fmt: skip
    case.refresh_from_db()
    return case


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone360"])
def test_a_commitment_breach_unit_applies_and_sees_it_granted(
    browser: Any, live_server: Any, breach_unit: Case, shots: Any, viewport: dict[str, int]
) -> None:
    tag = "phone" if viewport is PHONE else "desktop"
    page = new_page(browser, viewport)
    page.goto(live_server.url + "/lookup/")
    page.get_by_label("统一社会信用代码").fill(breach_unit.credit_code)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("短信验证码").wait_for()
    page.get_by_label("短信验证码").fill(sent_codes(to="13900000009")[-1])
    page.get_by_role("button", name="查看进度").click()
    page.locator("#apply-link").click()
    page.wait_for_url("**/apply/")
    assert "仅适用于因银行账户信息有误" in page.content()
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-situations")
    page.locator(f"#offer-{breach_unit.pk}-key_supervision").click()
    page.get_by_role("button", name="继续").click()  # nothing filled in: every field says what is missing
    page.locator(".error-summary").wait_for()
    assert page.locator("#statement-error").is_visible() and page.locator("#contact_phone-error").is_visible()
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-errors")
    page.get_by_label("对未履行承诺或不配合核查情况的说明及整改情况").fill("已补足承诺的岗位数，并配合核查。")
    page.get_by_label("联系人姓名").fill("王经理")
    page.get_by_label("联系人手机号码").fill("13900000009")
    page.get_by_role("button", name="继续").click()
    page.wait_for_url("**/apply/check/")
    shots(page, f"{tag}-apply-check")
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url("**/apply/done/")
    reference = page.locator("#reference").inner_text()
    assert reference == Application.objects.get(case=breach_unit).reference and reference.startswith("A-")
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-done")
    review = review_prepare(
        case_id=breach_unit.pk, recommendation="approve", notes="整改属实", actor="officer-a"
    )
    review_decide(review_id=review.pk, approve=True, actor="reviewer-b", reason="同意")
    page.goto(live_server.url + "/apply/")
    assert page.locator(".outcome").first.inner_text().startswith("准予")
    no_horizontal_scroll(page)
    shots(page, f"{tag}-apply-granted")
    page.context.close()
