"""Verify the audit trail: recompute the chain in seq order and compare it with the checkpoints.

The chain is read in pages by keyset (``seq > last ORDER BY seq LIMIT n``, the unique index on seq), so memory
stays flat and writers are never blocked for long. Every event must have the next seq (1, 2, 3, ...), the
previous event's hash as ``prev_hash``, and a ``hash`` equal to the SHA-256 of its canonical form; every
checkpoint in the checkpoint file must name an existing seq with that very hash, and none may lie beyond the
head. The first violation stops the run and is diagnosed (a few indexed look-ups) into one of:

* ``changed`` - the event's fields no longer give its hash (or it was re-hashed: the next event's link breaks);
* ``missing (deleted)`` - no event at this seq;
* ``out of order`` - the event is chained somewhere else than where it is stored (seq swapped or renumbered);
* ``inserted (forged)`` - the event takes the place of a genuine event, which now follows it;
* ``hash mismatch with checkpoint`` - the chain is self-consistent but differs from what a checkpoint wrote
  down: it was rewritten from some point on;
* ``truncated after seq N`` - a checkpoint names a seq beyond the head: the end was cut off.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from .canonical import GENESIS_HASH, canonical_encoder, canonical_timestamp
from .checkpoints import Checkpoint, checkpoint_file, checkpoints_read
from .triggers import TABLE, protection_installed

FIELDS = (
    "id",
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
Row = tuple[Any, ...]  # a row as the database driver returns it, in FIELDS order
DEFAULT_BATCH = 20_000
# ``at`` as text, which is cheaper than building datetimes: PostgreSQL renders the canonical form itself;
# SQLite gives the stored text (Django writes naive UTC, "YYYY-MM-DD HH:MM:SS[.ffffff]").
_AT_AS_TEXT = {
    "postgresql": """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    "sqlite": "CAST(at AS TEXT)",
}
_raw_decode = json.JSONDecoder().raw_decode


@dataclass(frozen=True)
class Problem:
    """The first bad entry: where (seq, and the row id when there is a row) and what is wrong."""

    seq: int
    event_id: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq} (id {self.event_id})" if self.event_id is not None else f"seq {self.seq}"
        return f"{where}: {self.kind} - {self.detail}"


@dataclass(frozen=True)
class VerifyResult:
    events: int
    head_seq: int
    head_hash: str
    checkpoints_checked: int
    checkpoint_path: Path
    protected: bool
    seconds: float
    problem: Problem | None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return f"audit trail BROKEN at {self.problem}"
        checks = (
            f"{self.checkpoints_checked:,} checkpoint(s) match"
            if self.checkpoint_path.exists()
            else f"no checkpoint file at {self.checkpoint_path}"
        )
        return (
            f"audit trail intact: {self.events:,} events, head seq {self.head_seq} {self.head_hash[:16]}, "
            f"{checks}, {self.seconds:.1f} s"
        )


def audit_verify(
    *,
    checkpoints: Path | None = None,
    batch_size: int = DEFAULT_BATCH,
    advance: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Check the whole chain and the checkpoint file (default: ``checkpoints.checkpoint_file()``)."""
    started = time.perf_counter()
    path = checkpoints if checkpoints is not None else checkpoint_file()
    # Read the checkpoints first: each names a committed event, so all of them are <= the head we will reach.
    found, warnings = checkpoints_read(path)
    by_seq: dict[int, list[Checkpoint]] = {}
    for cp in found:
        by_seq.setdefault(cp.seq, []).append(cp)
    protected = protection_installed()
    if not protected:
        warnings.append("append-only protection is OFF (restore it: mianshen audit protection restore)")

    expected_seq, prev_hash, prev_row = 1, GENESIS_HASH, None
    matched = [cp for cp in by_seq.get(0, []) if cp.hash == GENESIS_HASH]
    last_good_checkpoint = 0
    problem: Problem | None = None
    last = -(2**63)
    sha256, encode = hashlib.sha256, canonical_encoder
    while problem is None:
        rows = _fetch("seq > %s", [last], limit=batch_size)
        if not rows:
            break
        for row in rows:
            _id, seq, at, actor, actor_id, action, obj_type, obj_id, before, after, reason, link, digest = row
            if seq != expected_seq or link != prev_hash:
                problem = _diagnose(row, expected_seq, prev_hash, prev_row)
                break
            try:
                payload = {
                    "seq": seq,
                    "at": _timestamp(at),
                    "actor": actor,
                    "actor_id": actor_id,
                    "action": action,
                    "object_type": obj_type,
                    "object_id": obj_id,
                    "before": _json(before),
                    "after": _json(after),
                    "reason": reason,
                    "prev_hash": link,
                }
                intact = sha256(encode(payload).encode()).hexdigest() == digest
            except (ValueError, TypeError, AttributeError):  # a stored value that cannot be read back
                intact = False
            if not intact:
                problem = _diagnose(row, expected_seq, prev_hash, prev_row)
                break
            for cp in by_seq.get(seq, ()):
                if cp.hash != digest:
                    problem = _checkpoint_mismatch(row, cp, last_good_checkpoint)
                    break
                matched.append(cp)
                last_good_checkpoint = seq
            if problem is not None:
                break
            prev_hash, prev_row, expected_seq = digest, row, seq + 1
        if advance is not None:
            advance(len(rows))
        last = rows[-1][1]

    head_seq = expected_seq - 1
    if problem is None:
        beyond = [cp for cp in found if cp.seq > head_seq]
        if beyond:
            cp = max(beyond, key=lambda c: c.seq)
            problem = Problem(
                head_seq + 1,
                None,
                f"truncated after seq {head_seq}",
                f"checkpoint {path.name}:{cp.line} (written {cp.written_at}) recorded seq {cp.seq}: "
                f"{cp.seq - head_seq} event(s) missing at the end",
            )
    return VerifyResult(
        events=head_seq,
        head_seq=head_seq,
        head_hash=prev_hash,
        checkpoints_checked=len(matched),
        checkpoint_path=path,
        protected=protected,
        seconds=time.perf_counter() - started,
        problem=problem,
        warnings=tuple(warnings),
    )


def row_hash(row: Row, *, seq: int | None = None) -> str | None:
    """The hash a fetched row should have, optionally as if stored at ``seq``; None if it cannot be read."""
    try:
        payload = dict(zip(FIELDS[1:12], row[1:12], strict=True))
        payload.update(at=_timestamp(row[2]), before=_json(row[8]), after=_json(row[9]))
        if seq is not None:
            payload["seq"] = seq
        return hashlib.sha256(canonical_encoder(payload).encode()).hexdigest()
    except (ValueError, TypeError, AttributeError):
        return None


def _diagnose(row: Row, expected_seq: int, expected_prev: str, prev_row: Row | None) -> Problem:
    """Name the first bad entry, given that ``row`` is the first one that does not fit the chain so far."""
    rid, seq, link, digest = row[0], row[1], row[11], row[12]
    if seq != expected_seq:
        successor = _first("prev_hash", expected_prev)
        if successor is not None and successor[1] != expected_seq:
            return Problem(
                expected_seq,
                successor[0],
                "out of order",
                f"event id {successor[0]} is chained at seq {expected_seq} but stored at seq {successor[1]}",
            )
        gap = seq - expected_seq
        span = f"seq {expected_seq}" if gap == 1 else f"seq {expected_seq}..{seq - 1} ({gap} events)"
        return Problem(
            expected_seq,
            None,
            "missing (deleted)",
            f"nothing at {span}; the next event is seq {seq} (id {rid})",
        )
    recomputed = row_hash(row)
    if link == expected_prev:
        what = (
            "its stored values cannot be read"
            if recomputed is None
            else "its fields no longer give its stored hash"
        )
        return Problem(seq, rid, "changed", what)
    pred = _first("hash", link)
    if pred is not None and pred[1] >= seq:
        return Problem(
            seq,
            rid,
            "out of order",
            f"it is chained after event id {pred[0]}, which is stored after it (seq {pred[1]})",
        )
    if pred is not None:
        if prev_row is not None and prev_row[11] == link and pred[1] == prev_row[1] - 1:
            return Problem(
                prev_row[1],
                prev_row[0],
                "inserted (forged)",
                f"it takes the place of event id {rid}, which is chained after seq {pred[1]} and now stored at seq {seq}",
            )
        return Problem(seq, rid, "out of order", f"it is chained after seq {pred[1]} (event id {pred[0]})")
    if recomputed == digest and prev_row is not None:
        return Problem(
            prev_row[1],
            prev_row[0],
            "changed",
            f"it was changed and re-hashed: seq {seq} (id {rid}) is chained to a different event here",
        )
    return Problem(seq, rid, "changed", "its fields (including its link to the previous event) were altered")


def _checkpoint_mismatch(row: Row, cp: Checkpoint, last_good: int) -> Problem:
    since = f" after seq {last_good} (the last checkpoint that matches)" if last_good else ""
    return Problem(
        row[1],
        row[0],
        "hash mismatch with checkpoint",
        f"checkpoint line {cp.line} (written {cp.written_at}) recorded hash {cp.hash[:16]}, the event has "
        f"{row[12][:16]}: the chain was rewritten at or before this seq{since}",
    )


def _fetch(where: str, params: list[Any], *, limit: int) -> list[Row]:
    """Rows in seq order straight from the driver (no ORM conversions: verify reads millions)."""
    connection = connections[DEFAULT_DB_ALIAS]
    columns = ", ".join(_AT_AS_TEXT.get(connection.vendor, "at") if f == "at" else f for f in FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {TABLE} WHERE {where} ORDER BY seq LIMIT %s", [*params, limit])
        return list(cursor.fetchall())


def _first(column: str, value: str) -> Row | None:
    """The lowest-seq event whose ``column`` (hash or prev_hash) is ``value``."""
    rows = _fetch(f"{column} = %s", [value], limit=1)
    return rows[0] if rows else None


def _timestamp(at: Any) -> str:
    """The canonical text of a stored timestamp, with fast paths for the texts ``_fetch`` selects."""
    if isinstance(at, str):
        size = len(at)
        if size == 27 and at[10] == "T" and at[26] == "Z":  # PostgreSQL's to_char: canonical already
            return at
        if size == 26 and at[10] == " " and at[19] == ".":  # SQLite, naive UTC with microseconds
            return f"{at[:10]}T{at[11:]}Z"
        if size == 19 and at[10] == " ":  # SQLite, naive UTC, whole second
            return f"{at[:10]}T{at[11:]}.000000Z"
        at = datetime.fromisoformat(at)  # any other spelling: parse it
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return canonical_timestamp(at)


def _json(value: Any) -> Any:
    """A stored JSON value, parsed (the drivers hand JSON columns over as text)."""
    if not isinstance(value, str):
        return value
    try:
        parsed, end = _raw_decode(value)  # a quarter of json.loads' cost
        if end == len(value):
            return parsed
    except ValueError:
        pass
    return json.loads(value)  # surrounding whitespace is fine, anything else raises ValueError
