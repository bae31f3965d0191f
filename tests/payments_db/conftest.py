"""Fixtures for the payment database tests.

Transactional tests (and the subprocess test) flush the append-only audit table afterwards: the session
fixture ``audit_flush_guard`` from ``mianshen.audit.testing`` lifts its protection around that flush only.
Every test gets its own bank exchange folder and checkpoint file, and no armed crash point.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mianshen.audit.testing import audit_flush_guard  # noqa: F401 - the session-wide flush guard
from mianshen.payments import crashpoints


@pytest.fixture(autouse=True)
def _payment_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_EVERY", "0")
    monkeypatch.setenv("MIANSHEN_BANK_DIR", str(tmp_path / "bank"))
    for name in (
        "MIANSHEN_CRASH_AT",
        "MIANSHEN_CRASH_MODE",
        "MIANSHEN_HOLIDAYS",
        "MIANSHEN_INBOUND_MAX_BYTES",
    ):
        monkeypatch.delenv(name, raising=False)
    crashpoints.reset()
    yield
    crashpoints.reset()


@pytest.fixture
def fast_path(tmp_path: Path) -> Iterator[Path]:
    """A folder on tmpfs when there is one (the simulator fsyncs every step), else ``tmp_path``."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and shm.stat().st_mode & 0o002):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="mianshen-pay-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
