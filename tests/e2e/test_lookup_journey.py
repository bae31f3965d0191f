"""The progress lookup in a real browser (Chromium via Playwright) against a live server: a unit gives its credit
code, reads its code from the notify outbox (as ``mianshen notify outbox --kind otp --unmask`` shows it), signs in
and sees its paid refund; the same on a 360-pixel phone screen."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mianshen.cases.models import Case
from mianshen.registry.models import Snapshot, Unit

from ..portal.conftest import make_cases, paid, sent_codes
from .test_portal_journeys import DESKTOP, PHONE, new_page, no_horizontal_scroll


@pytest.fixture
def paid_unit(transactional_db: None, settings: Any, tmp_path: Path) -> Case:
    settings.VAR_DIR = tmp_path
    cases = make_cases(3, names=("北京星光科技有限公司", "北京晨曦餐饮管理有限公司"))
    snap = Snapshot.objects.create(content_hash="12" * 32, source="test", extracted_on=date(2021, 6, 30))
    for i, case in enumerate(cases):
        Unit.objects.create(
            snapshot=snap, line=i + 1, unit_id=case.unit_id, credit_code=case.credit_code, name=case.unit_name,
            unit_type="enterprise", industry="I", district=case.district, dispatch=False, phone=f"1380000000{i}",
        )  # fmt: skip
    return paid(cases[0])


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone360"])
def test_a_unit_looks_itself_up_and_sees_its_paid_refund(
    browser: Any, live_server: Any, paid_unit: Case, shots: Any, viewport: dict[str, int]
) -> None:
    tag = "phone" if viewport is PHONE else "desktop"
    page = new_page(browser, viewport)
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="进度查询").first.click()
    page.wait_for_url("**/lookup/")
    page.get_by_label("统一社会信用代码").fill(paid_unit.credit_code.lower())
    no_horizontal_scroll(page)
    shots(page, f"{tag}-lookup")
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("短信验证码").wait_for()
    assert "呼我必回" in page.locator("#sent").inner_text()
    no_horizontal_scroll(page)
    shots(page, f"{tag}-lookup-code")
    code = sent_codes(to="13800000000")[-1]
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="查看进度").click()
    page.locator("#payment").wait_for()
    assert page.locator("#payment").inner_text().startswith("已到账")
    assert page.locator("#state").inner_text() == "已拨付"
    text = page.content()
    assert "尾号 3445" in text and "北京晨曦餐饮管理有限公司" not in text
    no_horizontal_scroll(page)
    shots(page, f"{tag}-lookup-paid")
    page.context.close()
