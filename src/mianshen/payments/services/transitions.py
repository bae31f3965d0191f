"""The one way an instruction's or a bank file's status changes (``states``: the tables), as
``cases.transitions`` is for cases: lock, check against the table, write, audit — all in one transaction.

- ``instruction_transition_many``: instructions by id, each with the status the caller saw (``frm``) and its
  target, and other columns written with the move (a file's id, the bank's facts). Small batches go through the
  ORM (rows locked ``FOR UPDATE`` in id order, checked, ``bulk_update``). Batches of more than ``BULK_FROM``
  (the 450,000 instructions of a build or a pain.002) are written as plain rows with compare-and-set: one
  ``UPDATE … WHERE id = … AND status = <frm>`` per row (``executemany``), or on PostgreSQL from 500 rows on
  COPY into a temporary table and one ``UPDATE … FROM``, and the count of rows written must be the count of
  moves (else the savepoint is rolled back and the first row out of step named). No second read of 450,000 rows:
  the caller read them under its lock (a build holds the banks' rows, ingest locked the instructions ``FOR
  UPDATE``), and the ``UPDATE`` locks each row and compares its status. The table is checked set-wise, on the
  distinct (from, to) pairs, before anything is written. Both paths refuse the same moves with the same words,
  and write the same rows.
- ``instruction_transition_in_file``: every instruction of one bank file in one status to another (the
  hand-over recorded; silence), one ``UPDATE`` whose ``WHERE`` names the status it moves from.
- ``bank_file_transitions`` / ``bank_file_transition``: bank files (a few a day) through the ORM, locked in id
  order, each move checked against the table and the status the caller expects, other fields written with it.

Staying in a status is not a move: it is allowed, and written only with other columns. A refused move raises
``PaymentTransitionRefused`` (one line, English and Chinese) and writes nothing; with ``strict=False`` refused bank
file moves are skipped instead (an answer does not move a file that was never handed over).

Audit: ``events`` are recorded with the write, in its transaction, when something was written. Where the
event of a move is known only later in the same transaction, the caller records it: ``bank_file.frozen`` once
the files' bytes are hashed (build), the ``no_answer`` hold (silence), ``payment.instruction_cancelled``
(cancel, also when no instruction was left to withdraw), ``bank_file.received`` (ingest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field
from django.utils.translation import gettext_lazy as _

from mianshen.core.bulkdb import COPY_FROM, bulk_update_batch
from mianshen.core.errors import Listing

from ..lifecycle import InstructionStatus
from ..models import BANK_FILE_STATUS_LABELS, INSTRUCTION_STATUS_LABELS, BankFile, Instruction
from ..states import BankFileStatus, bank_file_can_move, instruction_can_move
from .common import PaymentError, audit_many

BULK_FROM = 10
"""Batches of more distinct instructions than this are written as plain rows (see the module docstring). A
module constant so that tests can change it."""
IDS_PER_QUERY = 10_000  # ids per ``IN (…)`` when reading back why a bulk write did not match

_temp_seq = 0


class PaymentTransitionRefused(PaymentError):
    """A move the state table does not allow, or a row not in the status the caller saw: nothing written."""


class InstructionMove(NamedTuple):  # a tuple: a build or a pain.002 makes 450,000 of them
    pk: int
    frm: InstructionStatus  # the status the caller saw (under its lock): the move is made only from it
    to: InstructionStatus
    values: tuple[Any, ...] = ()  # the ``columns`` written with the move, in their order


@dataclass(frozen=True)
class FileMove:
    pk: int
    to: BankFileStatus
    expect: frozenset[BankFileStatus] | None = None  # refuse unless the file is in one of these (under lock)
    changes: dict[str, Any] = field(default_factory=dict)  # other BankFile fields to set with the move


# ---- instructions ---------------------------------------------------------------------------------------------


def instruction_transition_many(
    *,
    moves: Sequence[InstructionMove],
    actor: str,
    columns: Sequence[str] = (),
    events: Sequence[dict[str, Any]] = (),
) -> int:
    """Move instructions (all or none) and write ``columns`` with them; returns how many rows were written.

    A move to the status it comes from without ``columns`` is nothing to do and is dropped. ``events`` (dicts of
    ``audit_record`` keyword arguments) are recorded in the same transaction when anything was written."""
    _check_columns(columns)
    width = len(columns)
    by_pk: dict[int, InstructionMove] = {}
    for m in moves:
        if len(m.values) != width:
            raise ValueError(f"instruction_transition_many: instruction {m.pk} has {len(m.values)} values "
                             f"for {width} columns")  # fmt: skip
        if width or m.to != m.frm:
            by_pk[m.pk] = m
    if not by_pk:
        return 0
    ids = sorted(by_pk)
    _check_table(ids, by_pk)
    with transaction.atomic():
        if len(ids) > BULK_FROM:
            _write_rows(ids, by_pk, columns)
        else:
            _write_objects(ids, by_pk, columns)
        if events:
            audit_many(actor=actor, events=events)
    return len(ids)


def instruction_transition_in_file(
    *,
    bank_file_id: int,
    frm: InstructionStatus,
    to: InstructionStatus,
    actor: str,
    events: Sequence[dict[str, Any]] = (),
) -> int:
    """Move every instruction of a bank file that is in ``frm`` to ``to`` (those in another status stay);
    returns how many moved."""
    if frm == to or not instruction_can_move(frm, to):
        raise PaymentTransitionRefused(
            _("银行文件 %(bank_file_id)s 的拨付指令：不允许从“%(frm_label)s”变为“%(to_label)s”"),
            bank_file_id=bank_file_id,
            frm=frm.value,
            to=to.value,
            frm_label=INSTRUCTION_STATUS_LABELS[frm],
            to_label=INSTRUCTION_STATUS_LABELS[to],
        )
    with transaction.atomic():
        moved = Instruction.objects.filter(bank_file_id=bank_file_id, status=frm.value).update(
            status=to.value
        )
        if moved and events:
            audit_many(actor=actor, events=events)
    return moved


def _check_columns(columns: Sequence[str]) -> None:
    meta = Instruction._meta
    for name in columns:
        f = meta.get_field(name)
        if not isinstance(f, Field) or not f.concrete or f.primary_key or f.attname in ("status", "id"):
            raise ValueError(f"instruction_transition_many: {name!r} is not a column a move can write")
        if f.attname != name:
            raise ValueError(f"instruction_transition_many: name the column {f.attname!r}, not {name!r}")


def _check_table(ids: list[int], by_pk: dict[int, InstructionMove]) -> None:
    """Set-wise: every distinct (from, to) pair against the table; the first refused move in id order."""
    pairs = {(frm, to) for _, frm, to, _ in by_pk.values()}
    refused = {pair for pair in pairs if not instruction_can_move(*pair)}
    if not refused:
        return
    first = next(pk for pk in ids if (by_pk[pk].frm, by_pk[pk].to) in refused)
    m = by_pk[first]
    raise PaymentTransitionRefused(
        _("拨付指令 %(instruction)s：不允许从“%(frm_label)s”变为“%(to_label)s”"),
        instruction=first,
        frm=m.frm.value,
        to=m.to.value,
        frm_label=INSTRUCTION_STATUS_LABELS[m.frm],
        to_label=INSTRUCTION_STATUS_LABELS[m.to],
    )


def _check_current(ids: list[int], by_pk: dict[int, InstructionMove], current: dict[int, str]) -> None:
    """Every instruction exists and is in the status its move comes from; else the first that is not."""
    for pk in ids:
        status = current.get(pk)
        if status is None:
            raise PaymentTransitionRefused(_("没有编号为 %(pk)s 的拨付指令"), pk=pk)
        frm = by_pk[pk].frm
        if status != frm.value:
            raise PaymentTransitionRefused(
                _("拨付指令 %(pk)s 的状态为“%(status_label)s”，应为“%(expected_label)s”"),
                pk=pk,
                status=status,
                expected=frm.value,
                status_label=INSTRUCTION_STATUS_LABELS[InstructionStatus(status)],
                expected_label=INSTRUCTION_STATUS_LABELS[frm],
            )


def _write_objects(ids: list[int], by_pk: dict[int, InstructionMove], columns: Sequence[str]) -> None:
    """The small path: Instruction objects locked in id order, ``bulk_update``."""
    found = list(
        Instruction.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .only("pk", "status", *columns)
    )
    _check_current(ids, by_pk, {inst.pk: inst.status for inst in found})
    for inst in found:
        move = by_pk[inst.pk]
        inst.status = move.to.value
        for name, value in zip(columns, move.values, strict=True):
            setattr(inst, name, value)
    Instruction.objects.bulk_update(
        found, ["status", *columns], batch_size=bulk_update_batch(1 + len(columns))
    )


class _Stale(Exception):
    """A bulk write matched fewer rows than it moves: rolled back, then the reason is looked up."""


def _write_rows(ids: list[int], by_pk: dict[int, InstructionMove], columns: Sequence[str]) -> None:
    """The bulk path: compare-and-set on plain rows, in a savepoint rolled back when a row did not match."""
    connection = connections[DEFAULT_DB_ALIAS]
    moves = [by_pk[pk] for pk in ids]
    rows = [(pk, frm.value, to.value, *values) for pk, frm, to, values in moves]
    try:
        with transaction.atomic():
            if _compare_and_set(connection, rows, columns) != len(rows):
                raise _Stale
    except _Stale:
        _check_current(ids, by_pk, _statuses(ids))
        raise AssertionError("a bulk instruction move matched fewer rows, yet every row matches") from None


def _compare_and_set(
    connection: BaseDatabaseWrapper, rows: list[tuple[Any, ...]], columns: Sequence[str]
) -> int:
    """Write ``rows`` (id, from, to, *values) where the row is still in ``from``; returns how many matched."""
    global _temp_seq
    qn = connection.ops.quote_name
    meta = Instruction._meta
    fields = {f.attname: f for f in meta.concrete_fields}
    table, pk, status = qn(meta.db_table), qn(fields["id"].column), qn(fields["status"].column)
    targets = [status, *(qn(fields[c].column) for c in columns)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= COPY_FROM:
            _temp_seq += 1
            temp = qn(f"_move_{meta.db_table}_{_temp_seq}")
            kind = fields["status"].db_type(connection)
            types = [f"{pk} bigint", f"_frm {kind}", f"{status} {kind}"] + [
                f"{qn(fields[c].column)} {fields[c].db_type(connection) or 'text'}" for c in columns
            ]
            cursor.execute(f"CREATE TEMPORARY TABLE {temp} ({', '.join(types)}) ON COMMIT DROP")
            with cursor.cursor.copy(f"COPY {temp} ({pk}, _frm, {', '.join(targets)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            sets = ", ".join(f"{c} = u.{c}" for c in targets)
            cursor.execute(
                f"UPDATE {table} AS t SET {sets} FROM {temp} AS u WHERE t.{pk} = u.{pk} AND t.{status} = u._frm"
            )
            matched = cursor.rowcount
            cursor.execute(f"DROP TABLE {temp}")
            return int(matched)
        sets = ", ".join(f"{c} = %s" for c in targets)
        convert = _sqlite_value(connection) if connection.vendor == "sqlite" else None
        params = [[*(v if convert is None else convert(v) for v in row[2:]), row[0], row[1]] for row in rows]
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE {pk} = %s AND {status} = %s", params)
        return int(cursor.rowcount)


def _sqlite_value(connection: BaseDatabaseWrapper) -> Any:
    """Dates and datetimes as Django stores them in SQLite (what ``bulk_update`` would write)."""
    ops = connection.ops

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, date):
            return ops.adapt_datefield_value(value)
        return value

    return convert


def _statuses(ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[start : start + IDS_PER_QUERY]
        found.update(Instruction.objects.filter(pk__in=chunk).values_list("pk", "status"))
    return found


# ---- bank files -----------------------------------------------------------------------------------------------


def bank_file_transition(
    *,
    pk: int,
    to: BankFileStatus,
    actor: str,
    expect: frozenset[BankFileStatus] | None = None,
    changes: dict[str, Any] | None = None,
    events: Sequence[dict[str, Any]] = (),
) -> BankFile:
    """Move one bank file (or keep its status and write ``changes``); returns the file (as written)."""
    written = bank_file_transitions(
        moves=[FileMove(pk, to, expect, changes or {})], actor=actor, events=events
    )
    return written[0] if written else BankFile.objects.defer("content").get(pk=pk)


def bank_file_transitions(
    *,
    moves: Sequence[FileMove],
    actor: str,
    events: Sequence[dict[str, Any]] = (),
    strict: bool = True,
) -> list[BankFile]:
    """Move bank files in one transaction; returns the files written (a stay without changes writes nothing).
    ``strict``: any refused move refuses them all; otherwise refused moves are skipped (a missing file is
    refused either way)."""
    if not moves:
        return []
    by_pk = {m.pk: m for m in moves}
    with transaction.atomic():
        files = list(
            BankFile.objects.select_for_update().defer("content").filter(pk__in=list(by_pk)).order_by("pk")
        )
        if len(files) != len(by_pk):
            missing = sorted(set(by_pk) - {f.pk for f in files})
            raise PaymentTransitionRefused(_("没有编号为 %(ids)s 的银行文件"), ids=missing[:5])
        written: list[BankFile] = []
        fields: dict[str, None] = {"status": None}
        for bf in files:
            move = by_pk[bf.pk]
            refusal = _file_refusal(bf, move)
            if refusal is not None and strict:
                raise refusal
            if refusal is not None or (move.to == bf.status and not move.changes):
                continue
            bf.status = move.to.value
            for name, value in move.changes.items():
                setattr(bf, name, value)
                fields[name] = None
            written.append(bf)
        if written:
            BankFile.objects.bulk_update(written, list(fields), batch_size=bulk_update_batch(len(fields)))
            if events:
                audit_many(actor=actor, events=events)
    return written


def _file_refusal(bf: BankFile, move: FileMove) -> PaymentTransitionRefused | None:
    current = BankFileStatus(bf.status)
    if move.expect is not None and current not in move.expect:
        expected = " / ".join(sorted(s.value for s in move.expect))
        return PaymentTransitionRefused(
            _("银行文件 %(msg_id)s 的状态为“%(status_label)s”，应为“%(expected_labels)s”"),
            msg_id=bf.msg_id,
            status=current.value,
            expected=expected,
            status_label=BANK_FILE_STATUS_LABELS[current],
            expected_labels=Listing(BANK_FILE_STATUS_LABELS[s] for s in sorted(move.expect)),
        )
    if not bank_file_can_move(current, move.to):
        return PaymentTransitionRefused(
            _("银行文件 %(msg_id)s：不允许从“%(frm_label)s”变为“%(to_label)s”"),
            msg_id=bf.msg_id,
            frm=current.value,
            to=move.to.value,
            frm_label=BANK_FILE_STATUS_LABELS[current],
            to_label=BANK_FILE_STATUS_LABELS[move.to],
        )
    return None
