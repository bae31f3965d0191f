"""Fixtures for the notify tests: messages go to files under the test's own folder; no audit checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from mianshen.audit.testing import audit_flush_guard  # noqa: F401 - the session-wide flush guard
from mianshen.cases.models import Case
from mianshen.cases.states import State
from mianshen.notify import services
from mianshen.registry.models import Snapshot, Unit
from mianshen.screening.models import ScreeningRound


@pytest.fixture(autouse=True)
def _notify_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: object) -> Iterator[None]:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_EVERY", "0")
    settings.NOTIFY_OUTBOX_DIR = tmp_path / "outbox"  # type: ignore[attr-defined]
    settings.NOTIFY_SMS_GATEWAY_URL = ""  # type: ignore[attr-defined]
    settings.NOTIFY_SMTP_HOST = ""  # type: ignore[attr-defined]
    monkeypatch.setattr(services, "CRASH_HOOK", None)
    yield


_n = [0]


def a_round() -> ScreeningRound:
    _n[0] += 1
    snap = Snapshot.objects.create(
        content_hash=f"{_n[0]:064x}", source="test", extracted_on=date(2021, 6, 30)
    )
    return ScreeningRound.objects.create(
        policy_id="beijing-2021", number=_n[0], snapshot=snap, snapshot_hash=snap.content_hash,
        as_of=date(2021, 7, 1), started_by="test",
    )  # fmt: skip


def unit_case(
    rnd: ScreeningRound, i: int, *, state: State = State.IDENTIFIED, phone: str | None = "13800138000",
    amount: int = 1_234_56,
) -> Case:  # fmt: skip
    """A case of unit ``N<i>`` decided by ``rnd``, whose snapshot holds the unit with ``phone``."""
    uid = f"N{i:06d}"
    Unit.objects.create(
        snapshot=rnd.snapshot, line=i + 2, unit_id=uid, credit_code=f"91110105MA{i:08d}", name=f"测试{i}号公司",
        unit_type="enterprise", industry="65", district="110105", dispatch=False, phone=phone,
    )  # fmt: skip
    return Case.objects.create(
        policy_id="beijing-2021", unit_id=uid, credit_code=f"91110105MA{i:08d}", unit_name=f"测试{i}号公司",
        district="110105", state=state.value, amount_fen=amount, decision="eligible", last_round=rnd,
    )  # fmt: skip
