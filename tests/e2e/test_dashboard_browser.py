"""The back-office dashboard in a real browser (Chromium via Playwright) against a live server: a city
administrator signs in with a password and a second factor; every chart is drawn by the vendored Chart.js from
the page's JSON data island with no Content-Security-Policy violation and no error in the console; without
JavaScript the tables are there and the chart boxes stay hidden; a district officer's page names only their
district. Screenshots (desktop, 360 px) go to docs/dashboard/ with ``MIANSHEN_UPDATE_SCREENSHOTS=1``."""

from __future__ import annotations

import os
import shutil
from base64 import b32decode
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import TOTP

from mianshen.backoffice.display import district_name
from mianshen.staff.second_factor import second_factor_enrol
from mianshen.staff.services import staff_add

from ..backoffice.payworld import PayWorld, build_payments
from ..backoffice.world import build
from .conftest import ROOT
from .test_portal_journeys import DESKTOP, PHONE, no_horizontal_scroll

PASSWORD = "a-long-passphrase-for-the-test"
DOCS = ROOT / "docs" / "dashboard"
TABLES = ("coverage_size", "coverage_district", "money_district", "days_to_money", "days_statistics",
          "payments_district", "objections_applications", "enquiries_channel", "rounds")  # fmt: skip
# Record what the page's Content-Security-Policy blocked (the browser fires securitypolicyviolation).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture
def pay_world(transactional_db: None, settings: Any, tmp_path: Path) -> PayWorld:
    settings.VAR_DIR = tmp_path
    settings.NOTIFY_OUTBOX_DIR = tmp_path / "outbox"
    return build_payments(build(tmp_path / "world"), tmp_path / "bank")


def _sign_in(browser: Any, live_server: Any) -> dict[str, Any]:
    """Sign in once as the city administrator ``boss`` (password, then the TOTP code: a code is accepted once, so
    the other pages reuse this session) and return the browser's storage state."""
    staff_add(username="boss", role="city_admin", password=PASSWORD)
    user = get_user_model().objects.get(username="boss")
    secret = second_factor_enrol(user=user, actor="test").secret
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/office/login/")
    page.locator("#id_username").fill("boss")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/office/login/verify/**")
    page.locator("main form input[name=token]").fill(f"{TOTP(b32decode(secret)).token():06d}")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/office/")
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


def _dashboard(
    browser: Any,
    live_server: Any,
    state: dict[str, Any],
    viewport: dict[str, int],
    *,
    javascript: bool = True,
) -> Any:
    """The dashboard in a new browser context of the signed-in session, watching the console and the CSP."""
    context = browser.new_context(
        viewport=viewport, locale="zh-CN", java_script_enabled=javascript, storage_state=state
    )
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.console = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.console.append((m.type, m.text, m.location.get("url", ""))))  # type: ignore[attr-defined]
    page.goto(live_server.url + "/office/")
    return page


def _shot(page: Any, artefacts: Path, name: str) -> None:
    path = artefacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("MIANSHEN_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / path.name)


def test_charts_render_without_csp_violations_and_tables_without_javascript(
    browser: Any, live_server: Any, pay_world: PayWorld, artefacts: Path
) -> None:
    state = _sign_in(browser, live_server)
    for viewport, name in ((DESKTOP, "dashboard-desktop"), (PHONE, "dashboard-360")):
        page = _dashboard(browser, live_server, state, viewport)
        page.wait_for_selector("html[data-charts=ready]")
        for table_id in TABLES:
            assert page.locator(f"#table-{table_id}").count() == 1, table_id
        drawn = page.locator("canvas[data-rendered='1']")
        assert drawn.count() >= 6, drawn.count()  # tables without rows draw no chart (e.g. no enquiries)
        box = page.locator("#chart-money_district").bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
        # the canvas holds pixels, not a blank box
        painted = page.evaluate(
            "(() => { const c = document.getElementById('chart-money_district');"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; })()"
        )
        assert painted > 1000, painted
        assert page.evaluate("window.__csp") == []
        # (the back office has no favicon: the browser's own request for one is not the page's)
        errors = [
            (text, url)
            for kind, text, url in page.console
            if kind == "error" and not url.endswith("/favicon.ico")
        ]  # type: ignore[attr-defined]
        assert errors == [], errors
        if viewport is PHONE:
            no_horizontal_scroll(page)
        _shot(page, artefacts, name)
        page.context.close()

    page = _dashboard(browser, live_server, state, DESKTOP, javascript=False)
    for table_id in TABLES:
        assert page.locator(f"#table-{table_id}").is_visible(), table_id
    assert page.locator("#chart-money_district").is_visible() is False  # its box stays hidden
    assert page.locator("#table-money_district").inner_text().count(district_name(pay_world.district)) == 1
    assert page.locator("#table-money_district a, #table-money_district tbody tr").count() >= 3
    _shot(page, artefacts, "dashboard-no-javascript")
    page.context.close()
