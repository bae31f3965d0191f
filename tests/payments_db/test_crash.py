"""Crash test: the disbursement worker is killed at each of its named points, over many seeded runs; after the
restarts every approved refund is settled exactly once at the simulated bank, a DU01 answering a retried upload
fails nothing, and reconciliation holds to ¥0.00.

Runs: 200 on PostgreSQL, 30 on SQLite, or ``$MIANSHEN_CRASH_RUNS`` (``bench/payments_crash.py`` asks for
1,000). Each run is rolled back afterwards (a savepoint inside the test's transaction), so runs are independent.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection, transaction

from mianshen.payments import crashpoints

from .harness import run_world

pytestmark = pytest.mark.django_db
BATCHES = 10
MET: Counter[str] = Counter()


def _runs() -> int:
    configured = os.environ.get("MIANSHEN_CRASH_RUNS", "")
    if configured:
        return int(configured)
    return 200 if connection.vendor == "postgresql" else 30


@pytest.mark.parametrize("batch", range(BATCHES))
def test_crash_and_restart(batch: int, fast_path: Path) -> None:
    runs = _runs()
    for seed in range(batch, runs, BATCHES):
        with transaction.atomic():
            world = run_world(fast_path / f"seed{seed}", seed=seed)
            MET.update(world.crashes)
            transaction.set_rollback(True)


def test_every_crash_point_was_met() -> None:
    """Runs after the batches (file order): across the seeds, each named point crashed the worker at least once."""
    if not MET:
        pytest.skip("the crash batches did not run in this session")
    assert set(crashpoints.POINTS) <= set(MET), f"never crashed at: {set(crashpoints.POINTS) - set(MET)}"
