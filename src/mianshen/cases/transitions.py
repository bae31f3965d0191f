"""The one way a case changes state (design invariant 2).

``case_transition`` (one case) and ``case_transition_many`` (a round moving thousands at once) are the same
function: lock the rows, check every move against ``states.TRANSITIONS``, write the new state, a history row
with actor and reason, and an audit event, all in one transaction; side effects run after commit.
``case_open_many`` opens cases the same way (case rows, a history row from no state, a ``case.opened`` event).

Small batches (the web UI moves one case at a time) go through the ORM. Batches of more than ``BULK_FROM``
cases are read and written as plain rows: on PostgreSQL one ``SELECT … WHERE id = ANY(%s) ORDER BY id FOR
UPDATE`` with the ids as one array parameter, history and audit rows by ``COPY``, and the case rows either by
one ``UPDATE … WHERE id = ANY(%s)`` per target state, sent in pipeline mode so that PostgreSQL writes them while
Python builds the cases and hashes the audit events (moves without ``changes``), or by ``update_rows`` (COPY
into a temporary table and one ``UPDATE … FROM``); on SQLite one ``IN (SELECT value FROM json_each(%s))`` and
``executemany`` (the ``IMMEDIATE`` transaction holds the write lock there). Both paths check the same, write
the same rows and events and return the moved cases as ``Case`` instances.

A move to the state the case is already in is an amendment: it only changes other fields (a later round's amount
or decision), allowed while a round may still touch the case (``states.can_amend``) and recorded like any move
(a history row from the state to itself, an audit event with the values before and after).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_appending, audit_record_many
from mianshen.core.bulkdb import allocate_ids, insert_rows, one_parameter, update_rows
from mianshen.core.errors import Listing, Refusal
from mianshen.screening.models import ScreeningRound

from .models import STATE_LABELS, Case, CaseHistory, queue_of
from .signals import cases_moved
from .states import State, can_amend, can_move

BULK_FROM = 10
"""Batches of more distinct cases than this are moved as plain rows (COPY on PostgreSQL) instead of model
instances through the ORM, whose ``bulk_update`` (a CASE WHEN per field and case, resolved in Python) costs
1-3 ms a case: the ~150 rejects of a 5,000-line pain.002 took 0.4 s that way. A module constant so that tests
can change it."""

_PLAIN = frozenset({str, int, bool, type(None)})  # values every backend stores as they are
_HISTORY_COLUMNS = ("case_id", "from_state", "to_state", "actor", "reason", "round_id", "at")
_T = TypeVar("_T")


class TransitionRefused(Refusal):
    """A move the transition table does not allow, or a case not in the state the caller expected."""


@dataclass(frozen=True)
class Move:
    case_id: int
    to: State
    reason: str
    expect: frozenset[State] | None = (
        None  # refuse unless the case is in one of these (re-checked under lock)
    )
    changes: dict[str, Any] = field(default_factory=dict)  # other Case fields to set with the move
    # (``to`` = the case's state with ``changes``: an amendment, see the module docstring)


def case_transition(
    *,
    case_id: int,
    to: State,
    actor: str,
    reason: str,
    expect: frozenset[State] | None = None,
    changes: dict[str, Any] | None = None,
    round: ScreeningRound | None = None,
    on_commit: Callable[[], None] | None = None,
) -> Case:
    """Move one case; raises ``TransitionRefused`` (nothing written) when the move is not allowed."""
    moved = case_transition_many(
        moves=[Move(case_id, to, reason, expect, changes or {})],
        actor=actor,
        round=round,
        on_commit=on_commit,
    )
    return moved[0]


def case_transition_many(
    *,
    moves: Sequence[Move],
    actor: str,
    round: ScreeningRound | None = None,
    on_commit: Callable[[], None] | None = None,
    strict: bool = True,
) -> list[Case]:
    """Move many cases in one transaction. ``strict``: any refused move refuses them all; otherwise refused
    moves are skipped (and returned cases are only those moved)."""
    if not moves:
        return []
    by_id = {m.case_id: m for m in moves}
    with transaction.atomic():
        if len(by_id) > BULK_FROM:
            moved, froms = _move_rows(by_id, actor, round, strict)
        else:
            moved, froms = _move_objects(by_id, actor, round, strict)
        if moved and cases_moved.has_listeners(Case):
            cases_moved.send(sender=Case, moved=[(c, froms[c.pk]) for c in moved], actor=actor)
        if on_commit is not None:
            transaction.on_commit(on_commit)
    return moved


@dataclass(frozen=True, slots=True)
class NewCase:
    """A case to open: a unit's first case in a policy year, in the state its first decision sends it to."""

    policy_id: str
    unit_id: str
    credit_code: str
    unit_name: str
    district: str
    state: State
    amount_fen: int
    decision: str
    reason: str
    key_supervision: bool


_CASE_COLUMNS = ("id", "policy_id", "unit_id", "credit_code", "unit_name", "district", "state", "amount_fen",
                 "decision", "reason", "key_supervision", "last_round_id", "opened_at", "updated_at", "version")  # fmt: skip


def case_open_many(*, cases: Sequence[NewCase], actor: str, round: ScreeningRound) -> list[int]:
    """Open cases (a round meeting units for the first time), in one transaction: the case rows, a history row
    each (from no state) and a ``case.opened`` audit event each, written as plain rows (COPY on PostgreSQL,
    ``executemany`` on SQLite) however many there are. Returns their ids, in the order given. Refuses them all
    (``TransitionRefused``) if one would start in a state no decision leads to; a unit that already has a case
    in the policy year fails the unique constraint, and nothing is written."""
    if not cases:
        return []
    for new in cases:
        if not can_move(None, new.state):
            raise TransitionRefused(
                _("单位 %(unit)s：案件不能以 %(state)s 状态开立"), unit=new.unit_id, state=new.state.value
            )
    connection = connections[DEFAULT_DB_ALIAS]
    now = timezone.now()
    with transaction.atomic():
        ids = allocate_ids(Case, len(cases))
        at = _bulk_datetime(now, connection)
        insert_rows(
            Case,
            _CASE_COLUMNS,
            [(pk, c.policy_id, c.unit_id, c.credit_code, c.unit_name, c.district, c.state.value, c.amount_fen,
              c.decision, c.reason, c.key_supervision, round.pk, at, at, 0) for pk, c in zip(ids, cases, strict=True)],
        )  # fmt: skip
        insert_rows(
            CaseHistory,
            _HISTORY_COLUMNS,
            [(pk, "", c.state.value, actor, f"opened by round {round.number}: {c.decision}"[:500], round.pk, at)
             for pk, c in zip(ids, cases, strict=True)],
        )  # fmt: skip
        audit_record_many(
            actor=actor,
            events=(
                {
                    "action": Action.CASE_OPENED,
                    "obj_type": "case",
                    "obj_id": str(pk),
                    "before": None,
                    "after": {
                        "state": c.state.value,
                        "amount_fen": c.amount_fen,
                        "unit_id": c.unit_id,
                        "round": round.number,
                    },
                    "reason": c.decision,
                }
                for pk, c in zip(ids, cases, strict=True)
            ),
        )
    return ids


def _move_objects(
    by_id: dict[int, Move], actor: str, round: ScreeningRound | None, strict: bool
) -> tuple[list[Case], dict[int, str]]:
    """The small path: Case objects, ``bulk_update`` and ``bulk_create``."""
    cases = list(Case.objects.select_for_update().filter(pk__in=by_id).order_by("pk"))
    _check_found(by_id, [c.pk for c in cases])
    moved = _allowed(((c.pk, c.state, c) for c in cases), by_id, strict)
    if not moved:
        return [], {}
    now = timezone.now()
    history, events = _apply(moved, by_id, round, now)
    changed = _changed(by_id)
    fields = ["state", "version", "last_round", "updated_at", *changed]
    Case.objects.bulk_update(moved, list(dict.fromkeys(fields)), batch_size=2000)
    CaseHistory.objects.bulk_create(
        [
            CaseHistory(case_id=pk, from_state=frm, to_state=to, actor=actor, reason=why, round=round)
            for pk, frm, to, why in history
        ],
        batch_size=2000,
    )
    audit_record_many(actor=actor, events=events)
    return moved, {pk: frm for pk, frm, _to, _why in history}


def _move_rows(
    by_id: dict[int, Move], actor: str, round: ScreeningRound | None, strict: bool
) -> tuple[list[Case], dict[int, str]]:
    """The bulk path (see the module docstring). Locks: the case rows (pk order), then the audit chain."""
    connection = connections[DEFAULT_DB_ALIAS]
    names, rows = _locked_rows(sorted(by_id))
    i_id, i_state = names.index("id"), names.index("state")
    _check_found(by_id, [row[i_id] for row in rows])
    moving = _allowed(((row[i_id], row[i_state], row) for row in rows), by_id, strict)
    if not moving:
        return [], {}
    now = timezone.now()
    changed = _changed(by_id)
    pipelined = connection.vendor == "postgresql" and not changed
    with audit_appending(actor=actor) as audit:
        # Without changes, the new values of a case are its target state, the round, ``now`` and version + 1
        # (the rows are locked: the version read): one UPDATE per target state, sent before the cases are
        # even built, and PostgreSQL writes the rows while Python builds the cases and hashes the events.
        updates = (
            _pipelined(connection, _state_updates(moving, by_id, i_id, round, now)) if pipelined else None
        )
        with updates or nullcontext():
            moved = _instances(names, moving, connection.alias)
            history, events = _apply(moved, by_id, round, now)
            audit.add(events)
        if updates is None:
            _update_rows(moved, changed, now, connection)
        at = _bulk_datetime(now, connection)
        round_id = None if round is None else round.pk
        insert_rows(
            CaseHistory,
            _HISTORY_COLUMNS,
            [(pk, frm, to, actor, why, round_id, at) for pk, frm, to, why in history],
        )
    return moved, {pk: frm for pk, frm, _to, _why in history}


def _check_found(by_id: dict[int, Move], found: list[int]) -> None:
    if len(found) != len(by_id):
        missing = sorted(set(by_id) - set(found))
        raise TransitionRefused(_("没有编号为 %(ids)s 的案件"), ids=missing[:5])


def _changed(by_id: dict[int, Move]) -> list[str]:
    return sorted({k for m in by_id.values() for k in m.changes})


def _allowed(items: Iterable[tuple[int, str, _T]], by_id: dict[int, Move], strict: bool) -> list[_T]:
    """The items (case id, current state, item) whose move is allowed, in order; ``strict``: refuse them all
    (``TransitionRefused``, for the first in pk order) if one is not."""
    allowed: dict[tuple[str, State, frozenset[State] | None, bool], bool] = {}
    kept = []
    for pk, state, item in items:
        move = by_id[pk]
        key = (state, move.to, move.expect, not move.changes)
        ok = allowed.get(key)
        if ok is None:
            ok = allowed[key] = _refusal(pk, State(state), move) is None
        if ok:
            kept.append(item)
        elif strict:
            refusal = _refusal(pk, State(state), move)
            assert refusal is not None
            raise refusal
    return kept


def _apply(
    cases: list[Case], by_id: dict[int, Move], round: ScreeningRound | None, now: datetime
) -> tuple[list[tuple[int, str, str, str]], list[dict[str, Any]]]:
    """Apply the (allowed) moves to ``cases``; their history rows (case id, from, to, reason) and audit events."""
    history: list[tuple[int, str, str, str]] = []
    events: list[dict[str, Any]] = []
    transition = Action.CASE_TRANSITION
    for case in cases:
        pk = case.id
        move = by_id[pk]
        frm = case.state
        before = _snapshot(case)
        case.state = move.to.value
        case.queue = queue_of(move.to)  # as the database computes it for the row written
        case.updated_at = now  # auto_now: neither bulk_update nor a plain UPDATE sets it
        for name, value in move.changes.items():
            setattr(case, name, value)
        if round is not None:
            case.last_round = round
        case.version += 1
        history.append((pk, frm, move.to.value, move.reason[:500]))
        events.append(
            {
                "action": transition,
                "obj_type": "case",
                "obj_id": str(pk),
                "before": before,
                "after": _snapshot(case),
                "reason": move.reason,
            }
        )
    return history, events


def _locked_rows(ids: list[int]) -> tuple[list[str], list[Sequence[Any]]]:
    """The attnames of Case's concrete fields and the rows of the cases with these (sorted) ids, in pk order,
    locked (``FOR UPDATE`` on PostgreSQL), as plain values.

    On PostgreSQL the ids go as one array parameter, and timestamps are read ``AT TIME ZONE`` the connection's
    zone and given that zone back here (what Django's own loader returns; it is Python, and costs seconds on
    450,000 rows). ``auto_now`` fields are not read (NULL): every moved case gets a new value."""
    connection = connections[DEFAULT_DB_ALIAS]
    meta = Case._meta
    fields = meta.concrete_fields
    names = [f.attname for f in fields]
    rows: list[Sequence[Any]]
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        tz = connection.timezone
        columns, params, zoned = [], [], []
        for i, f in enumerate(fields):
            if getattr(f, "auto_now", False):
                columns.append("NULL")
            elif tz is not None and f.get_internal_type() == "DateTimeField":
                columns.append(f"{qn(f.column)} AT TIME ZONE %s")
                params.append(connection.timezone_name)
                zoned.append(i)
            else:
                columns.append(qn(f.column))
        pk = qn(meta.pk.column)
        sql = (
            f"SELECT {', '.join(columns)} FROM {qn(meta.db_table)} "
            f"WHERE {pk} = ANY(%s) ORDER BY {pk} FOR UPDATE"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, ids])  # one array parameter, not one placeholder per id
            rows = cursor.fetchall()
        if zoned and tz is not None:
            rows = [_zone(row, zoned, tz) for row in rows]
    else:  # SQLite: the IMMEDIATE transaction already holds the write lock; the ids go as one parameter
        rows = list(Case.objects.filter(pk__in=one_parameter(ids)).order_by("pk").values_list(*names))
    return names, rows


def _zone(row: Sequence[Any], at: list[int], tz: tzinfo) -> list[Any]:
    values = list(row)
    for i in at:
        if values[i] is not None:
            values[i] = values[i].replace(tzinfo=tz)
    return values


def _instances(names: list[str], rows: Sequence[Sequence[Any]], alias: str) -> list[Case]:
    """``[Case.from_db(alias, names, row) for row in rows]``, in a third of the time: what ``Model.__init__``
    leaves behind for a full row of concrete fields (a fresh ``ModelState`` and each value in the instance's
    ``__dict__`` under its attname: no field descriptor of those intercepts the assignment on a new instance),
    built directly. Plain ``from_db`` when anything listens to Case's ``pre_init``/``post_init`` signals."""
    if pre_init.has_listeners(Case) or post_init.has_listeners(Case):
        return [Case.from_db(alias, names, row) for row in rows]
    new = Case.__new__
    cases = []
    for row in rows:
        case = new(Case)
        state = ModelState()
        state.adding, state.db = False, alias
        values = case.__dict__
        values["_state"] = state
        values.update(zip(names, row, strict=True))
        cases.append(case)
    return cases


def _state_updates(
    rows: list[Sequence[Any]], by_id: dict[int, Move], i_id: int, round: ScreeningRound | None, now: datetime
) -> list[tuple[str, list[Any]]]:
    """One ``UPDATE`` per target state for moves without ``changes``: the columns ``bulk_update`` writes
    (``last_round`` only when a round is given: otherwise it writes the value it read) and ``updated_at``."""
    connection = connections[DEFAULT_DB_ALIAS]
    meta = Case._meta
    qn = connection.ops.quote_name
    by_state: dict[str, list[int]] = {}
    for row in rows:
        pk = row[i_id]
        by_state.setdefault(by_id[pk].to.value, []).append(pk)
    fields = {f.name: f for f in meta.concrete_fields}
    state, updated_at, version, last_round = (
        qn(fields[name].column) for name in ("state", "updated_at", "version", "last_round")
    )
    sets = f"{state} = %s, {updated_at} = %s, {version} = {version} + 1"
    values = [fields["updated_at"].get_db_prep_save(now, connection)]
    if round is not None:
        sets += f", {last_round} = %s"
        values.append(round.pk)
    sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(meta.pk.column)} = ANY(%s)"
    return [(sql, [to, *values, ids]) for to, ids in by_state.items()]


@contextmanager
def _pipelined(connection: BaseDatabaseWrapper, statements: list[tuple[str, list[Any]]]) -> Iterator[None]:
    """Send ``statements`` in psycopg's pipeline mode, run the block while PostgreSQL executes them, and wait for
    them (raising their errors) when the block is left. The block must not query."""
    raw = connection.connection
    cursor = raw.cursor()
    try:
        with connection.wrap_database_errors, raw.pipeline():
            for sql, params in statements:
                cursor.execute(sql, params)
            yield
    finally:
        cursor.close()


def _update_rows(
    moved: list[Case], changed: list[str], now: datetime, connection: BaseDatabaseWrapper
) -> None:
    """Write the moved cases' rows, the columns ``bulk_update`` would write (and ``updated_at``), with
    ``update_rows``: COPY into a temporary table and one ``UPDATE … FROM`` on PostgreSQL, ``executemany`` on
    SQLite. Values are prepared as ``bulk_update`` prepares them (``get_db_prep_save``)."""
    meta = Case._meta
    fields: dict[str, Field[Any, Any]] = {}
    for name in ["state", "version", "last_round", "updated_at", *changed]:
        f = meta.get_field(name)
        if not isinstance(f, Field) or not f.concrete or f.many_to_many or f.primary_key:
            raise ValueError(f"case_transition_many: {name!r} is not a field a move can change")
        fields.setdefault(f.attname, f)
    prep_now = fields["updated_at"].get_db_prep_save(now, connection)
    prepared = list(fields.items())

    def value(case: Case, attname: str, f: Field[Any, Any]) -> Any:
        v = getattr(case, attname)
        if type(v) in _PLAIN:
            return v
        return prep_now if v is now else f.get_db_prep_save(v, connection)

    update_rows(
        Case,
        [f.column for f in fields.values()],
        [(case.id, *[value(case, a, f) for a, f in prepared]) for case in moved],
    )


def _bulk_datetime(value: datetime, connection: BaseDatabaseWrapper) -> Any:
    """A timestamp for ``insert_rows``: ISO text for PostgreSQL's COPY (the server parses it; cheaper than the
    driver formatting the same datetime on every row), Django's stored form on SQLite."""
    if connection.vendor == "postgresql":
        return value.isoformat()
    return CaseHistory._meta.get_field("at").get_db_prep_save(value, connection)


def _refusal(pk: int, current: State, move: Move) -> TransitionRefused | None:
    """Why the move is refused (None: it is allowed)."""
    if move.expect is not None and current not in move.expect:
        return TransitionRefused(
            _("案件 %(case)s 状态为“%(state_label)s”，应为以下之一：%(expected_labels)s"),
            case=pk,
            state=current.value,
            expected=sorted(s.value for s in move.expect),
            state_label=STATE_LABELS[current],
            expected_labels=Listing(STATE_LABELS[s] for s in sorted(move.expect)),
        )
    if move.to == current and move.changes:  # an amendment
        if not can_amend(current):
            return TransitionRefused(
                _("案件 %(case)s 状态为“%(state_label)s”：其金额和决定已属拨付环节或在人工处理中，不能修改"),
                case=pk,
                state=current.value,
                state_label=STATE_LABELS[current],
            )
        return None
    if not can_move(current, move.to):
        return TransitionRefused(
            _("案件 %(case)s：不允许从“%(frm_label)s”变为“%(to_label)s”"),
            case=pk,
            frm=current.value,
            to=move.to.value,
            frm_label=STATE_LABELS[current],
            to_label=STATE_LABELS[move.to],
        )
    return None


def _snapshot(case: Case) -> dict[str, Any]:
    return {
        "state": case.state,
        "amount_fen": case.amount_fen,
        "decision": case.decision,
        "reason": case.reason,
        "version": case.version,
    }
