"""``Case.queue``: the state kept by the database for the queue states only, so that no index holds a column a
bulk move changes (issue 13: a round's UPDATE of 311,172 cases rewrote every row with its six indexes).

Both databases: ``queue`` is the state in a queue state and NULL otherwise, after every kind of write (the ORM,
the bulk path's plain rows, cases opened by COPY), the moved instances say what the row says, and ``in_states``
finds exactly the cases ``state__in`` finds. PostgreSQL: no index of cases_case holds a column a move writes, the
table leaves room on its pages, and a bulk move between states outside the queues is a HOT update (no index
entry written)."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mianshen.cases.transitions as transitions
from mianshen.cases.models import QUEUE_STATES, Case, in_states, queue_of
from mianshen.cases.states import TRANSITIONS, State
from mianshen.cases.transitions import Move, case_transition_many

pytestmark = pytest.mark.django_db
EXAMPLES = itertools.count()
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
MOVED_COLUMNS = {"state", "last_round_id", "amount_fen", "decision", "reason", "key_supervision", "version",
                 "updated_at"}  # fmt: skip


def _cases(states: list[State], prefix: str = "Q") -> list[Case]:
    return [
        Case.objects.create(policy_id="beijing-2021", unit_id=f"{prefix}{i}", credit_code="91110105MA01234567",
                            unit_name="北京测试有限公司", district="110105", state=s.value, amount_fen=100)
        for i, s in enumerate(states)
    ]  # fmt: skip


def test_queue_is_the_state_in_a_queue_state_and_null_otherwise() -> None:
    cases = _cases(list(State))
    for case in Case.objects.filter(pk__in=[c.pk for c in cases]):
        assert case.queue == (case.state if State(case.state) in QUEUE_STATES else None)
        assert case.queue == queue_of(case.state)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    states=st.lists(st.sampled_from(list(State)), min_size=1, max_size=30),
    moves=st.lists(st.tuples(st.integers(0, 29), st.sampled_from(list(State))), max_size=30),
    asked=st.sets(st.sampled_from(list(State)), min_size=1, max_size=4),
    bulk=st.booleans(),
)
def test_after_any_moves_queue_follows_the_state_and_in_states_finds_what_state_in_finds(
    states: list[State],
    moves: list[tuple[int, State]],
    asked: set[State],
    bulk: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transitions, "BULK_FROM", 0 if bulk else 10**9)  # the plain rows' path or the ORM's
    cases = _cases(states, prefix=f"E{next(EXAMPLES)}-")  # the examples share the test's transaction
    mine = Case.objects.filter(pk__in=[c.pk for c in cases])
    wanted = {}
    for i, to in moves:
        case = cases[i % len(cases)]
        if to in TRANSITIONS[State(case.state)]:
            wanted[case.pk] = Move(case.pk, to, "test", frozenset({State(case.state)}))
    moved = case_transition_many(moves=list(wanted.values()), actor="审核员 A", strict=False)
    rows = {c.pk: c for c in mine}
    for case in moved:  # the returned instances say what the rows say
        assert case.queue == rows[case.pk].queue
    for row in rows.values():
        assert row.queue == queue_of(row.state)
    values = [s.value for s in asked]
    assert set(mine.filter(in_states(*asked)).values_list("pk", flat=True)) == set(
        mine.filter(state__in=values).values_list("pk", flat=True)
    )


def test_in_states_reads_the_queue_only_for_queue_states() -> None:
    assert "queue__in" in str(in_states(State.UNDER_REVIEW, State.OBJECTED))
    assert "state__in" in str(in_states(State.UNDER_REVIEW, State.APPROVED))
    assert "case__queue__in" in str(in_states(State.OBJECTED, prefix="case__"))


@postgres_only
def test_no_index_holds_a_column_a_move_writes_and_pages_keep_room() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey) "
            "WHERE x.indrelid = 'cases_case'::regclass"
        )
        indexed = cursor.fetchall()
        cursor.execute(
            "SELECT pg_get_expr(x.indpred, x.indrelid) FROM pg_index x "
            "WHERE x.indrelid = 'cases_case'::regclass AND x.indpred IS NOT NULL"
        )
        predicates = [p for (p,) in cursor.fetchall()]
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = 'cases_case'::regclass")
        (options,) = cursor.fetchone()
    assert indexed and not {column for _, column in indexed} & MOVED_COLUMNS, indexed
    assert predicates == ["(queue IS NOT NULL)"]
    assert "fillfactor=50" in (options or [])


@postgres_only
@pytest.mark.parametrize(
    "changes", [False, True]
)  # the pipelined UPDATE per state; update_rows (COPY, UPDATE … FROM)
def test_a_bulk_move_outside_the_queues_writes_no_index_entry(
    changes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """600 publicised cases approved by the bulk path: every row updated in place (HOT)."""
    monkeypatch.setattr(transitions, "BULK_FROM", 0)
    cases = _cases([State.PUBLICISED] * 600)
    extra = {"amount_fen": 200, "decision": "eligible", "reason": ""} if changes else {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_xact_tuples_hot_updated('cases_case'::regclass)")
        (before,) = cursor.fetchone()
        case_transition_many(
            moves=[
                Move(c.pk, State.APPROVED, "round 3", frozenset({State.PUBLICISED}), extra) for c in cases
            ],
            actor="round 3",
        )
        cursor.execute("SELECT pg_stat_get_xact_tuples_hot_updated('cases_case'::regclass)")
        (after,) = cursor.fetchone()
    assert after - before == len(cases)
    assert set(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("state", "queue")) == {
        ("approved", None)
    }
