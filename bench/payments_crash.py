"""The crash test at scale: 1,000 seeded runs of the disbursement worker killed at its named points.

    MIANSHEN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/payments_crash.py
    .venv/bin/python bench/payments_crash.py --runs 300          # SQLite (the default database)

Each run: 5–20 approved cases over three simulated banks (some lose files, block accounts, return payments),
crashes at random named points (``mianshen.payments.crashpoints``), restarts, officers fixing failed payments
with four eyes — until every case is paid. Checked after each run: every approved refund settled exactly once at
the simulated bank (from its own camt.054 files), no DU01 failed a payment, reconciliation holds to ¥0.00.
It runs ``tests/payments_db/test_crash.py`` with ``MIANSHEN_CRASH_RUNS`` set (the test suite runs 200 / 30).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    args, rest = parser.parse_known_args(argv)
    os.environ["MIANSHEN_CRASH_RUNS"] = str(args.runs)
    database = os.environ.get("MIANSHEN_DATABASE_URL", "") or "sqlite (default)"
    print(f"{args.runs} seeded crash runs on {database}")
    started = time.perf_counter()
    code = pytest.main(
        [str(ROOT / "tests" / "payments_db" / "test_crash.py"), "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
         *rest]
    )  # fmt: skip
    print(
        f"{args.runs} runs in {time.perf_counter() - started:.1f} s: {'all held' if code == 0 else 'FAILED'}"
    )
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
