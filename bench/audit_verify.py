"""Benchmark `audit verify`: bulk-load N hash-chained events, then time the verification.

    MIANSHEN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/mianshen_bench_audit \\
        .venv/bin/python bench/audit_verify.py --events 1000000

The events continue the chain from the current head (so run it on a fresh database, which it migrates). They
are computed in Python exactly as ``audit_record`` would (same canonical form and hash) and written in bulk:
COPY on PostgreSQL, executemany in one transaction on SQLite. A checkpoint of the head goes to a temporary
file, then ``audit_verify`` (what ``mianshen audit verify`` runs) checks the whole chain against it.
Target (design.md): 1,000,000 events in <= 60 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

COLUMNS = (
    "seq",
    "at",
    "actor",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "reason",
    "prev_hash",
    "hash",
)
STATES = ("eligible", "publicised", "approved", "instructed", "sent", "paid")


def _events(start_seq: int, prev_hash: str, n: int) -> Iterator[tuple[Any, ...]]:
    """N realistic events (case transitions with Chinese reasons, payments), chained from ``prev_hash``."""
    from mianshen.audit.canonical import event_hash

    base = datetime(2021, 7, 1, tzinfo=UTC)
    for i in range(n):
        seq = start_seq + i
        state = i % (len(STATES) - 1)
        fields: dict[str, Any] = {
            "seq": seq,
            "at": base + timedelta(milliseconds=seq),
            "actor": f"审核员{i % 97:02d}" if i % 3 else "system:round",
            "actor_id": i % 97 if i % 3 else None,
            "action": 300 if i % 5 else 520,
            "object_type": "case" if i % 5 else "payment",
            "object_id": f"U{i % 450_000:07d}-2021",
            "before": {"state": STATES[state], "amount_fen": 1_000 + i % 50_000},
            "after": {"state": STATES[state + 1], "amount_fen": 1_000 + i % 50_000, "round": 1 + i % 3},
            "reason": "第二轮比对: 符合条件" if i % 2 else "",
            "prev_hash": prev_hash,
        }
        prev_hash = event_hash(**fields)
        yield (
            *(fields[c] for c in COLUMNS[:7]),
            json.dumps(fields["before"], ensure_ascii=False),
            json.dumps(fields["after"], ensure_ascii=False),
            fields["reason"],
            fields["prev_hash"],
            prev_hash,
        )


def _load(n: int) -> float:
    from django.db import connection, transaction

    from mianshen.audit.selectors import audit_head

    started = time.perf_counter()
    head = audit_head()
    rows = _events(head.seq + 1, head.hash, n)
    table = "audit_auditevent"
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # the psycopg cursor underneath Django's wrapper
            with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"
            while chunk := list(itertools.islice(rows, 10_000)):
                cursor.executemany(insert, chunk)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=20_000, help="events per verify query")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    checkpoints = Path(tempfile.mkdtemp(prefix="bench-audit-")) / "audit-checkpoints.jsonl"
    os.environ["MIANSHEN_AUDIT_CHECKPOINT_FILE"] = str(checkpoints)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from mianshen.audit.services import audit_checkpoint
    from mianshen.audit.verify import audit_verify

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}", flush=True)
    load_s = _load(args.events)
    print(f"loaded {args.events:,} events in {load_s:.1f} s", flush=True)
    audit_checkpoint(actor="bench")

    result = audit_verify(batch_size=args.batch_size)
    if not result.ok:
        sys.exit(f"verify failed: {result.summary()}")
    rate = result.events / result.seconds if result.seconds else float("inf")
    print(f"verify: {result.events:,} events, {result.checkpoints_checked} checkpoint(s), {result.seconds:.1f} s "
          f"({rate:,.0f} events/s)")  # fmt: skip
    print(f"{result.seconds:.2f}")


if __name__ == "__main__":
    main()
