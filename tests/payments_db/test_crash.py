"""Crash test: the disbursement worker is killed at each of its named points, over many seeded runs; after the
restarts every approved refund is settled exactly once at the simulated bank, a DU01 answering a retried upload
fails nothing, and reconciliation holds to ¥0.00.

Runs: 200 on PostgreSQL, 30 on SQLite, or ``$MIANSHEN_CRASH_RUNS`` (``bench/payments_crash.py`` asks for
1,000). Each run is rolled back afterwards (a savepoint inside the test's transaction), so runs are independent.

A seeded run aims at one point, ``POINTS[seed % len(POINTS)]`` (``harness.run_world``), so the runs are shared out
by point: ``test_crash_and_restart[point]`` runs the seeds that aim at its point and checks, on its own (in any
order, alone under ``-k``), that the point did crash the worker in one of them. A world may never reach its point
(no failed payment to re-issue, say): then up to ``SPARE`` more seeds aimed at it are run.
"""

from __future__ import annotations

import os
from itertools import count
from pathlib import Path

import pytest
from django.db import connection, transaction

from mianshen.payments import crashpoints

from .harness import run_world

pytestmark = pytest.mark.django_db
SPARE = 6


def _runs() -> int:
    configured = os.environ.get("MIANSHEN_CRASH_RUNS", "")
    if configured:
        return int(configured)
    return 200 if connection.vendor == "postgresql" else 30


def _crashes(seed: int, root: Path) -> list[str]:
    """One seeded run (checked by ``run_world``), rolled back; the points at which it crashed the worker."""
    with transaction.atomic():
        world = run_world(root / f"seed{seed}", seed=seed)
        transaction.set_rollback(True)
    return world.crashes


@pytest.mark.parametrize("point", crashpoints.POINTS)
def test_crash_and_restart(point: str, fast_path: Path) -> None:
    """Every run aimed at ``point`` ends with each refund settled exactly once; ``point`` crashed the worker in
    at least one of them."""
    every = len(crashpoints.POINTS)
    aim = crashpoints.POINTS.index(point)
    share = len(range(aim, _runs(), every))
    met = 0
    for n, seed in enumerate(count(aim, every)):
        if n >= share + SPARE or (n >= share and met):
            break
        met += _crashes(seed, fast_path).count(point)
    assert met, f"no run aimed at {point} crashed there (seeds {aim}, {aim + every}, … {seed - every})"
