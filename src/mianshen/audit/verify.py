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
* ``truncated after seq N`` - a checkpoint names a seq beyond the head: the end was cut off (or a restore from
  backup lost it: ``restore.audit_restore_accept`` records that the loss was seen and accepted).

Then the other way round: every ``audit.checkpoint`` event in the chain must have its line in the file. A file
that is missing while the chain records checkpoints (``checkpoint file missing``), or that lacks some of them
(``checkpoint file disagrees with the chain``: emptied, cut or rewritten), fails; so does an empty trail while
business tables hold rows (``missing (deleted)`` at seq 1). What remains invisible is a trail cut below its first
checkpoint together with the file deleted or cut to match: keep the file on another machine or write-once
storage.
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
from .catalogue import Action
from .checkpoints import Checkpoint, CheckpointFileError, checkpoint_file, checkpoints_read
from .selectors import AuditUnavailable, audit_table_require, business_rows
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
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()
    lost: tuple[Checkpoint, ...] = ()  # checkpoints of the file beyond the head: the end was cut off
    accepted: tuple[str, ...] = ()  # losses accepted after restores from backup

    @property
    def problem(self) -> Problem | None:
        """The first thing wrong (the one reported), or None when the trail is intact."""
        return self.problems[0] if self.problems else None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.problem is not None:
            return f"audit trail BROKEN at {self.problem}"
        checks = (
            f"{self.checkpoints_checked:,} checkpoint(s) match"
            if self.checkpoint_path.exists()
            else f"no checkpoint file at {self.checkpoint_path}"
        )
        accepted = "".join(f"; {text}" for text in self.accepted)
        return (
            f"audit trail intact: {self.events:,} events, head seq {self.head_seq} {self.head_hash[:16]}, "
            f"{checks}, {self.seconds:.1f} s{accepted}"
        )


@dataclass(frozen=True)
class Recorded:
    """An ``audit.checkpoint`` event of the chain: where it is, and the head it says it wrote to the file."""

    event_seq: int
    event_id: int
    seq: int
    hash: str
    file: str


class CheckpointBook:
    """The checkpoint file and the checkpoints the chain itself records, compared as the chain is read.

    Each line of the file must name an event of the chain with that very hash (``at``, as the chain reaches
    the line's seq); each ``audit.checkpoint`` event must have its line in the file (``unrecorded``): a file that
    is missing, emptied, cut or rewritten disagrees with the chain. An ``audit.restore_accepted`` event sets
    aside the lines it names - the checkpoints of events a restore from backup lost - and only lines naming a
    seq at or after its own, so it can never hide a disagreement earlier in the chain; and only when the file
    pins the event itself with a later checkpoint, so that accepting a loss needs the file as well as the
    database.
    """

    def __init__(self, path: Path, found: list[Checkpoint]) -> None:
        self.path = path
        self.pending: dict[int, list[Checkpoint]] = {}
        for cp in found:
            self.pending.setdefault(cp.seq, []).append(cp)
        self.lines = {(cp.seq, cp.hash) for cp in found}
        self.matched = [cp for cp in self.pending.pop(0, []) if cp.hash == GENESIS_HASH]
        self.last_good = 0
        self.recorded: list[Recorded] = []
        self.accepted: list[str] = []  # accepted restore losses, for the summary
        self.notes: list[str] = []  # warnings

    def at(self, row: Row, digest: str) -> Problem | None:
        """Compare the lines naming this row's seq with its hash (call only when ``row[1] in pending``)."""
        for cp in self.pending.pop(row[1]):
            if cp.hash != digest:
                return _checkpoint_mismatch(row, cp, self.last_good)
            self.matched.append(cp)
            self.last_good = row[1]
        return None

    def event(self, row: Row, after: Any) -> None:
        """Note an ``audit.checkpoint`` or ``audit.restore_accepted`` event (already verified in the chain)."""
        if not isinstance(after, dict):
            return
        if row[5] == CHECKPOINT:
            if isinstance(after.get("seq"), int) and isinstance(after.get("hash"), str):
                self.recorded.append(
                    Recorded(row[1], row[0], after["seq"], after["hash"], str(after.get("file") or ""))
                )
        else:
            self._restore_accepted(row, after)

    def _restore_accepted(self, row: Row, after: dict[str, Any]) -> None:
        """Set aside the lines an ``audit.restore_accepted`` event names, if the file pins the event: a line at
        or after its seq that is not one of those (the chain links it to the event; it is compared in turn)."""
        seq, actor, reason = row[1], row[3], row[10]
        items = after.get("superseded")
        set_aside = {
            (item.get("seq"), item.get("hash"))
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict)
        }
        if not any(s >= seq and (s, h) not in set_aside for s, h in self.lines):
            self.notes.append(
                f"the audit.restore_accepted event at seq {seq} is ignored: no checkpoint in the file at or "
                "after it (write one: mianshen audit checkpoint)"
            )
            return
        for at_seq in [s for s in self.pending if s >= seq]:
            keep = [cp for cp in self.pending.pop(at_seq) if (cp.seq, cp.hash) not in set_aside]
            if keep:
                self.pending[at_seq] = keep
        lost = f"seq {after.get('lost_from')}..{after.get('lost_to')}"
        self.accepted.append(f"events {lost} lost in a restore accepted at seq {seq}")
        self.notes.append(
            f"a restore from backup was accepted at seq {seq} by {actor}: events {lost} of the earlier trail "
            f"were lost and the checkpoints naming them set aside ({reason or 'no reason given'})"
        )

    def beyond(self, head_seq: int) -> list[Checkpoint]:
        """Lines naming a seq beyond the head: the end of the trail was cut off (or lost in a restore)."""
        return sorted((cp for cps in self.pending.values() for cp in cps if cp.seq > head_seq), key=_by_seq)

    def unrecorded(self) -> list[Recorded]:
        """The chain's checkpoints that have no line in the file. A checkpoint written while the chain was being
        read has its event in the chain and its line only in the file as it is now (the line is written before
        the event commits): the file is read again before anything is called missing."""
        missing = [r for r in self.recorded if (r.seq, r.hash) not in self.lines]
        if missing and self.path.exists():
            try:
                found, _ = checkpoints_read(self.path)
            except CheckpointFileError as exc:
                raise AuditUnavailable(str(exc)) from exc
            self.lines.update((cp.seq, cp.hash) for cp in found)
            missing = [r for r in missing if (r.seq, r.hash) not in self.lines]
        return missing


def _by_seq(cp: Checkpoint) -> tuple[int, int]:
    return cp.seq, cp.line


CHECKPOINT, RESTORE_ACCEPTED = int(Action.AUDIT_CHECKPOINT), int(Action.AUDIT_RESTORE_ACCEPTED)
_NOTED = frozenset({CHECKPOINT, RESTORE_ACCEPTED})


def audit_verify(
    *,
    checkpoints: Path | None = None,
    batch_size: int = DEFAULT_BATCH,
    advance: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Check the whole chain, and compare it with the checkpoint file (default: ``checkpoints.checkpoint_file()``)
    both ways. ``AuditUnavailable`` when there is no audit table or the file cannot be read."""
    started = time.perf_counter()
    audit_table_require()
    path = checkpoints if checkpoints is not None else checkpoint_file()
    # Read the checkpoints first: each names a committed event, so all of them are <= the head we will reach.
    try:
        found, warnings = checkpoints_read(path)
    except CheckpointFileError as exc:
        raise AuditUnavailable(str(exc)) from exc
    book = CheckpointBook(path, found)
    protected = protection_installed()
    if not protected:
        warnings.append("append-only protection is OFF (restore it: mianshen audit protection restore)")

    head_seq, head_hash, problem = _chain_walk(book, batch_size, advance)
    lost = tuple(book.beyond(head_seq)) if problem is None else ()
    if problem is not None:
        problems = [problem]
    else:
        problems = [
            p
            for p in (
                _truncated(lost, head_seq, path),
                _file_disagrees(book),
                _cut_at_checkpoint(book, head_seq, path),
                _emptied(head_seq),
            )
            if p is not None
        ]
    return VerifyResult(
        events=head_seq,
        head_seq=head_seq,
        head_hash=head_hash,
        checkpoints_checked=len(book.matched),
        checkpoint_path=path,
        protected=protected,
        seconds=time.perf_counter() - started,
        problems=tuple(problems),
        warnings=(*warnings, *book.notes),
        lost=lost,
        accepted=tuple(book.accepted),
    )


def _chain_walk(
    book: CheckpointBook, batch_size: int, advance: Callable[[int], None] | None
) -> tuple[int, str, Problem | None]:
    """Read the chain in seq order, recompute every hash and compare the file's lines as their seq comes by:
    (head seq, head hash, the first problem or None)."""
    expected_seq, prev_hash, prev_row = 1, GENESIS_HASH, None
    problem: Problem | None = None
    last = -(2**63)
    sha256, encode, pending = hashlib.sha256, canonical_encoder, book.pending
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
            if action in _NOTED:
                book.event(row, payload["after"])
            if seq in pending:
                problem = book.at(row, digest)
                if problem is not None:
                    break
            prev_hash, prev_row, expected_seq = digest, row, seq + 1
        if advance is not None:
            advance(len(rows))
        last = rows[-1][1]
    return expected_seq - 1, prev_hash, problem


def _truncated(lost: tuple[Checkpoint, ...], head_seq: int, path: Path) -> Problem | None:
    """The file names events beyond the head: they were cut off (or a restore from backup lost them)."""
    if not lost:
        return None
    cp = lost[-1]
    span = f"seq {head_seq + 1}" if cp.seq == head_seq + 1 else f"seq {head_seq + 1}..{cp.seq}"
    return Problem(
        head_seq + 1,
        None,
        f"truncated after seq {head_seq}",
        f"checkpoint {path.name}:{cp.line} (written {cp.written_at}) recorded seq {cp.seq}: "
        f"{cp.seq - head_seq} event(s) missing at the end, {span} (and any written after it)",
    )


def _cut_at_checkpoint(book: CheckpointBook, head_seq: int, path: Path) -> Problem | None:
    """The newest line of the file names the head itself: the ``audit.checkpoint`` event that wrote it (the
    head's successor, appended under the chain lock in the same transaction) is gone — the trail was cut exactly
    at it. (A checkpoint whose transaction failed after writing its line looks the same until the next event.)"""
    at_head = [cp for cp in book.matched if cp.seq == head_seq and head_seq > 0]
    if not at_head or any(cp.seq > head_seq for cp in book.matched):
        return None
    cp = at_head[-1]
    return Problem(
        head_seq + 1,
        None,
        f"truncated after seq {head_seq}",
        f"checkpoint {path.name}:{cp.line} (written {cp.written_at}) recorded seq {cp.seq}, but the "
        f"audit.checkpoint event that wrote it (seq {head_seq + 1}) is missing: the trail was cut at it "
        "(or that checkpoint failed after writing its line: then any new event or checkpoint clears this)",
    )


def _file_disagrees(book: CheckpointBook) -> Problem | None:
    """The chain records checkpoints the file does not hold: the file was deleted, emptied, cut or rewritten."""
    missing = book.unrecorded()
    if not missing:
        return None
    first = missing[0]
    elsewhere = f"; the event names {first.file}" if first.file and first.file != str(book.path) else ""
    if not book.path.exists():
        return Problem(
            first.event_seq,
            first.event_id,
            "checkpoint file missing",
            f"the chain records {len(book.recorded)} checkpoint(s) (the first of seq {first.seq}) but there is "
            f"no checkpoint file at {book.path}{elsewhere}: without it a trail cut short looks intact; "
            "restore the file from its copy",
        )
    return Problem(
        first.event_seq,
        first.event_id,
        "checkpoint file disagrees with the chain",
        f"this audit.checkpoint event wrote seq {first.seq} {first.hash[:16]} to the checkpoint file, but "
        f"{book.path} has no such line ({len(missing)} of the chain's {len(book.recorded)} checkpoint(s) "
        f"missing{elsewhere}): the file was emptied, cut or rewritten",
    )


def _emptied(head_seq: int) -> Problem | None:
    """No events at all while business tables hold rows: every event was deleted."""
    if head_seq:
        return None
    held = business_rows()
    if not held:
        return None
    what = ", ".join(f"{n} {label}" for label, n in held)
    return Problem(
        1,
        None,
        "missing (deleted)",
        f"the trail is empty, but the database holds {what}: its events were deleted (or never written)",
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
