"""``python -m mianshen_banksim --root DIR --seed S [--date YYYY-MM-DD] [--advance-to D] [--once]``

Without ``--once`` it polls the inboxes every ``--interval`` seconds until stopped (SIGINT/SIGTERM; a kill -9 is
safe too). The caller moves the simulated business date by writing an ISO date into ``<root>/CLOCK`` (atomically:
temp file + rename) or, with ``--once``, by ``--advance-to``. One JSON line is printed per outcome.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path
from types import FrameType

from .simulator import BankSimulator, Outcome

CLOCK_FILE = "CLOCK"


def _print(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        print(json.dumps(asdict(outcome), ensure_ascii=False), flush=True)


def _clock(root: Path) -> date | None:
    path = root / CLOCK_FILE
    if not path.exists():
        return None
    try:
        return date.fromisoformat(path.read_text(encoding="utf-8").strip())
    except ValueError:
        print(f"ignoring unreadable {path}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mianshen_banksim", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--root", type=Path, required=True, help="folder holding <bank>/inbox, <bank>/outbox, state"
    )
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--date", type=date.fromisoformat, help="first business date (needed on a new root)")
    parser.add_argument(
        "--advance-to", type=date.fromisoformat, help="with --once: move the date after the inbox"
    )
    parser.add_argument("--once", action="store_true", help="handle the inboxes once and exit")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    args = parser.parse_args(argv)
    try:
        sim = BankSimulator(args.root, seed=args.seed, business_date=args.date)
    except ValueError as exc:
        print(f"banksim: {exc}", file=sys.stderr)
        return 2
    if args.once:
        _print(sim.process_inbox())
        if args.advance_to is not None:
            _print(sim.advance_to(args.advance_to))
        return 0
    stop = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop:
        _print(sim.process_inbox())
        target = _clock(args.root)
        if target is not None and target > sim.business_date:
            _print(sim.advance_to(target))
        time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
