"""Browser tests: Playwright driving Debian's Chromium (``/usr/bin/chromium``, or ``MIANSHEN_CHROMIUM``; never
``playwright install``) against a live server. Without Chromium they skip with one line naming the package; in CI
(``MIANSHEN_REQUIRE_BROWSER=1``, set by .ci/run) a missing browser fails instead.

Screenshots of each journey go to ``var/e2e/`` (or ``MIANSHEN_E2E_ARTEFACTS``); with
``MIANSHEN_UPDATE_SCREENSHOTS=1`` the ones named in docs/portal.md are copied to docs/portal/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("MIANSHEN_CHROMIUM", "/usr/bin/chromium")
MISSING = f"browser tests skipped: no Chromium at {CHROMIUM} (install Debian's package: apt-get install chromium fonts-noto-cjk)"
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "portal"


def _require_browser() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    if os.environ.get("MIANSHEN_REQUIRE_BROWSER") == "1":
        pytest.fail(MISSING + " — MIANSHEN_REQUIRE_BROWSER=1: a skipped browser test is a failure here")
    pytest.skip(MISSING)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module. Playwright's sync API keeps an event loop running in this thread while it
    lives, so Django is told that its synchronous ORM calls here are fine (only while the browser is open)."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            yield launched
            launched.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def artefacts() -> Path:
    folder = Path(os.environ.get("MIANSHEN_E2E_ARTEFACTS", ROOT / "var" / "e2e"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Shots:
    """Screenshots of one journey: ``shot(page, name)`` saves ``<artefacts>/<name>.png`` (the full page)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, page: Any, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("MIANSHEN_UPDATE_SCREENSHOTS") == "1":
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / path.name)
        return path


@pytest.fixture
def shots(artefacts: Path) -> Shots:
    return Shots(artefacts)
