"""Fixtures for the audit tests.

The audit table refuses DELETE and TRUNCATE, which pytest-django's flush after a transactional test needs:
``audit_flush_guard`` (imported from ``mianshen.audit.testing``) lifts the protection around that flush only.
Other test packages whose transactional tests write audit events need the same: the root ``tests/conftest.py``
should declare ``pytest_plugins = ["mianshen.audit.testing"]`` (or a package conftest imports
``audit_flush_guard`` like this one). Ordinary ``db`` tests need nothing: they are rolled back, never flushed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mianshen.audit.testing import audit_flush_guard  # noqa: F401 - the session-wide flush guard


@pytest.fixture(autouse=True)
def checkpoint_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its checkpoints to its own file (never to var/), automatic checkpoints off."""
    path = tmp_path / "checkpoints" / "audit-checkpoints.jsonl"
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_FILE", str(path))
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_EVERY", "0")
    return path
