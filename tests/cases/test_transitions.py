"""The one transition function: allowed moves only, history and audit for each, nothing on refusal."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

import mianshen.cases.transitions as transitions
from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.verify import audit_verify
from mianshen.cases.models import Case, CaseHistory
from mianshen.cases.states import PAYMENT_STATES, TRANSITIONS, State, can_move
from mianshen.cases.transitions import Move, TransitionRefused, case_transition, case_transition_many
from mianshen.registry.models import Snapshot
from mianshen.screening.models import ScreeningRound

pytestmark = pytest.mark.django_db
S = State


def _case(state: State = State.IDENTIFIED, unit: str = "U1") -> Case:
    return Case.objects.create(
        policy_id="beijing-2021",
        unit_id=unit,
        credit_code="91110105MA01234567",
        unit_name="北京测试有限公司",
        district="110105",
        state=state.value,
        amount_fen=123456,
    )


def test_every_state_has_a_row_and_targets_are_states() -> None:
    assert set(TRANSITIONS) == set(State)
    for targets in TRANSITIONS.values():
        assert targets <= set(State)
    # from released on, only the payment states: a round or an officer can never take a case back
    for state in PAYMENT_STATES:
        assert TRANSITIONS[state] <= PAYMENT_STATES
    assert TRANSITIONS[State.PAYMENT_CANCELLED] == frozenset()
    # an objected case can never be approved without its objection decided first
    assert State.APPROVED not in TRANSITIONS[State.OBJECTED]
    assert State.APPROVED not in TRANSITIONS[State.EXCLUDED]


def test_allowed_move_writes_state_history_and_audit() -> None:
    case = _case()
    before = AuditEvent.objects.count()
    moved = case_transition(case_id=case.pk, to=State.RECHECKED, actor="officer-a", reason="round 2")
    assert moved.state == State.RECHECKED
    case.refresh_from_db()
    assert case.state == State.RECHECKED and case.version == 1
    h = CaseHistory.objects.get(case=case)
    assert (h.from_state, h.to_state, h.actor, h.reason) == (
        "identified",
        "rechecked",
        "officer-a",
        "round 2",
    )
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert event.before["state"] == "identified" and event.after["state"] == "rechecked"


def test_forbidden_move_is_refused_and_leaves_no_trace() -> None:
    case = _case(State.OBJECTED)
    before = AuditEvent.objects.count()
    with pytest.raises(TransitionRefused, match="not an allowed move"):
        case_transition(case_id=case.pk, to=State.APPROVED, actor="officer-a", reason="skip the objection")
    case.refresh_from_db()
    assert case.state == State.OBJECTED and case.version == 0
    assert not CaseHistory.objects.filter(case=case).exists()
    assert AuditEvent.objects.count() == before


def test_expectation_is_rechecked_under_lock() -> None:
    case = _case(State.PUBLICISED)
    with pytest.raises(TransitionRefused, match="expected one of"):
        case_transition(
            case_id=case.pk, to=State.EXCLUDED, actor="a", reason="x", expect=frozenset({State.RECHECKED})
        )


def test_many_is_all_or_nothing_when_strict() -> None:
    a, b = _case(unit="A"), _case(State.RELEASED, unit="B")
    with pytest.raises(TransitionRefused):
        case_transition_many(
            moves=[Move(a.pk, State.RECHECKED, "r"), Move(b.pk, State.EXCLUDED, "r")], actor="round 2"
        )
    a.refresh_from_db()
    assert a.state == State.IDENTIFIED
    moved = case_transition_many(
        moves=[Move(a.pk, State.RECHECKED, "r"), Move(b.pk, State.EXCLUDED, "r")],
        actor="round 2",
        strict=False,
    )
    assert [c.pk for c in moved] == [a.pk]


class CaseMachine(RuleBasedStateMachine):
    """Random moves against one case: the state only ever follows TRANSITIONS; refusals change nothing."""

    @initialize(start=st.sampled_from([State.IDENTIFIED, State.UNDER_REVIEW, State.AWAITING_CONFIRMATION]))
    def open_case(self, start: State) -> None:
        self.case = _case(start, unit=f"M{Case.objects.count() + 1}")
        self.model = start
        self.moves = 0

    @rule(to=st.sampled_from(list(State)))
    def move(self, to: State) -> None:
        target = to
        allowed = can_move(self.model, target)
        try:
            case_transition(case_id=self.case.pk, to=target, actor="machine", reason="random")
        except TransitionRefused:
            assert not allowed
            return
        assert allowed
        self.model = target
        self.moves += 1

    @invariant()
    def matches_model(self) -> None:
        if not hasattr(self, "case"):
            return
        self.case.refresh_from_db()
        assert self.case.state == self.model
        assert self.case.version == self.moves
        history = list(CaseHistory.objects.filter(case=self.case).values_list("from_state", "to_state"))
        assert len(history) == self.moves
        for frm, to in history:
            assert can_move(State(frm), State(to))


@pytest.mark.parametrize("path", ["small", "bulk"])
def test_random_moves_follow_the_table(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if path == "bulk":
        monkeypatch.setattr(transitions, "BULK_FROM", 0)  # every batch, even of one case, takes the bulk path
    run_state_machine_as_test(
        CaseMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# ---- the bulk path (above BULK_FROM cases) writes exactly what the small path writes --------------------------

# (state of the case, target, expect, allowed?) — every kind of outcome, repeated over the batch
PATTERN: list[tuple[State, State, frozenset[State] | None, bool]] = [
    (S.IDENTIFIED, S.RECHECKED, None, True),
    (S.IDENTIFIED, S.APPROVED, None, False),  # not in the table
    (S.RECHECKED, S.PUBLICISED, frozenset({S.RECHECKED}), True),
    (S.PUBLICISED, S.EXCLUDED, frozenset({S.RECHECKED}), False),  # not what the caller expected
    (S.APPROVED, S.RELEASED, frozenset({S.APPROVED}), True),
    (S.OBJECTED, S.PUBLICISED, None, True),
    (S.UNDER_REVIEW, S.IDENTIFIED, None, True),
    (S.EXCLUDED, S.IDENTIFIED, None, True),
]


@pytest.fixture(autouse=True)
def _no_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_EVERY", "0")


def _round() -> ScreeningRound:
    snap = Snapshot.objects.create(content_hash="ab" * 32, source="test", extracted_on=date(2021, 6, 30))
    return ScreeningRound.objects.create(
        policy_id="beijing-2021", number=1, snapshot=snap, snapshot_hash=snap.content_hash,
        as_of=date(2021, 7, 1), started_by="test",
    )  # fmt: skip


def _batch(prefix: str, n: int) -> list[Case]:
    Case.objects.bulk_create(
        [
            Case(
                policy_id="beijing-2021",
                unit_id=f"{prefix}{i:05d}",
                credit_code="91110105MA01234567",
                unit_name=f"北京第{i}号测试有限公司",
                district="110105",
                state=PATTERN[i % len(PATTERN)][0].value,
                amount_fen=100_000 + i,
                decision="eligible",
                version=i % 3,
            )
            for i in range(n)
        ]
    )
    return list(Case.objects.filter(unit_id__startswith=prefix).order_by("pk"))


def _moves(cases: list[Case], *, changes: bool) -> list[Move]:
    moves = []
    for i, case in enumerate(cases):
        _, to, expect, _ = PATTERN[i % len(PATTERN)]
        change: dict[str, Any] = {}
        if changes:
            change = {"amount_fen": 200_000 + i, "decision": "manual_review", "key_supervision": i % 2 == 0}
            change["reason"] = "复核: 关联转移" if i % 5 == 0 else f"CODE{i}"  # non-ASCII in the snapshots
        moves.append(Move(case.pk, to, f"第2轮 move {i}", expect, change))
    return moves


def _outcome(cases: list[Case], moved: list[Case]) -> dict[str, Any]:
    """Everything the move wrote, with each case named by its place in the batch instead of its pk."""
    index = {c.pk: i for i, c in enumerate(cases)}
    rows = Case.objects.filter(pk__in=index).order_by("pk")
    history = CaseHistory.objects.filter(case_id__in=index).order_by("id")
    events = AuditEvent.objects.filter(object_type="case", object_id__in=[str(pk) for pk in index])
    return {
        "cases": [
            (index[pk], *rest)
            for pk, *rest in rows.values_list(
                "pk",
                "state",
                "version",
                "last_round_id",
                "amount_fen",
                "decision",
                "reason",
                "key_supervision",
            )
        ],
        "history": [
            (index[pk], *rest)
            for pk, *rest in history.values_list(
                "case_id", "from_state", "to_state", "actor", "reason", "round_id"
            )
        ],
        "events": [
            (index[int(obj)], *rest)
            for obj, *rest in events.order_by("seq").values_list(
                "object_id", "actor", "actor_id", "action", "before", "after", "reason"
            )
        ],
        "returned": [index[c.pk] for c in moved],
    }


def _concrete(case: Case) -> dict[str, Any]:
    return {f.attname: getattr(case, f.attname) for f in Case._meta.concrete_fields}


def _move_both(
    monkeypatch: pytest.MonkeyPatch, n: int, *, changes: bool, with_round: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same batch moved by the small path and (threshold lowered) by the bulk path."""
    rnd = _round() if with_round else None
    outcomes = []
    for prefix, threshold in (("S", 10**9), ("B", 0)):
        monkeypatch.setattr(transitions, "BULK_FROM", threshold)
        cases = _batch(prefix, n)
        opened = {c.pk: c.updated_at for c in cases}
        moved = case_transition_many(
            moves=_moves(cases, changes=changes), actor="审核员 A", round=rnd, strict=False
        )
        for case in moved:  # the returned cases are the rows as written, updated_at included
            assert isinstance(case, Case)
            fresh = Case.objects.get(pk=case.pk)
            assert _concrete(case) == _concrete(fresh)
            assert case.updated_at.utcoffset() == fresh.updated_at.utcoffset()
            assert case.updated_at > opened[case.pk]
            assert case.last_round == rnd
        untouched = Case.objects.filter(pk__in=opened).exclude(pk__in=[c.pk for c in moved])
        assert all(c.updated_at == opened[c.pk] for c in untouched)
        outcomes.append(_outcome(cases, moved))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize(
    ("n", "changes", "with_round"),
    [
        (24, False, False),  # PostgreSQL: the pipelined UPDATE per target state
        (24, True, True),  # update_rows (executemany)
        (520, True, False),  # update_rows through COPY and UPDATE … FROM on PostgreSQL (>= 500 rows)
        (520, False, True),
    ],
)
def test_bulk_path_writes_what_the_small_path_writes(
    n: int, changes: bool, with_round: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small, bulk = _move_both(monkeypatch, n, changes=changes, with_round=with_round)
    assert bulk == small
    allowed = [i for i in range(n) if PATTERN[i % len(PATTERN)][3]]
    assert small["returned"] == allowed  # refused moves skipped, the rest in pk order
    assert [h[0] for h in small["history"]] == allowed and [e[0] for e in small["events"]] == allowed
    first = small["events"][0]
    assert first[4]["state"] == "identified" and first[5]["state"] == "rechecked"
    assert first[5]["version"] == first[4]["version"] + 1
    result = audit_verify(checkpoints=tmp_path / "none.jsonl")
    assert result.ok, result.summary()
    # the case events, and the outbox's: one per batch that told units of a step (notify listens to the moves)
    told = AuditEvent.objects.filter(action=Action.NOTIFICATION_QUEUED).count()
    assert result.events == 2 * len(allowed) + told


@pytest.mark.parametrize("threshold", [10**9, 0], ids=["small", "bulk"])
def test_strict_refuses_the_whole_batch_on_both_paths(
    threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transitions, "BULK_FROM", threshold)
    cases = _batch("X", 16)
    audit_before = AuditEvent.objects.count()
    with pytest.raises(TransitionRefused) as refused:
        case_transition_many(moves=_moves(cases, changes=True), actor="a")
    # the first refused move in pk order, worded the same on both paths
    assert str(refused.value) == f"case {cases[1].pk}: identified → approved is not an allowed move"
    assert [(c.state, c.version, c.amount_fen) for c in Case.objects.filter(unit_id__startswith="X")] == [
        (c.state, c.version, c.amount_fen) for c in cases
    ]
    assert not CaseHistory.objects.filter(case__in=cases).exists()
    assert AuditEvent.objects.count() == audit_before
    expected = [Move(cases[3].pk, S.EXCLUDED, "r", frozenset({S.RECHECKED}))]
    with pytest.raises(TransitionRefused, match=f"case {cases[3].pk} is publicised, expected one of"):
        case_transition_many(moves=expected, actor="a")
    with pytest.raises(TransitionRefused, match="no such case"):
        case_transition_many(
            moves=[Move(cases[0].pk, S.RECHECKED, "r"), Move(-1, S.RECHECKED, "r")], actor="a"
        )


def test_nothing_allowed_writes_nothing_on_the_bulk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transitions, "BULK_FROM", 0)
    cases = _batch("N", 8)
    moves = [Move(c.pk, S.RELEASED, "r") for c in cases if c.state != S.APPROVED]
    assert case_transition_many(moves=moves, actor="a", strict=False) == []
    assert not CaseHistory.objects.exists() and not AuditEvent.objects.exists()


def test_threshold_chooses_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = _batch("T", 9)
    calls: list[int] = []
    move_rows = transitions._move_rows

    def spy(by_id: dict[int, Move], *args: Any) -> list[Case]:
        calls.append(len(by_id))
        return move_rows(by_id, *args)

    monkeypatch.setattr(transitions, "_move_rows", spy)
    monkeypatch.setattr(transitions, "BULK_FROM", 4)
    moves = [Move(c.pk, S.UNDER_REVIEW, "r") for c in cases if c.state == S.IDENTIFIED]
    case_transition_many(moves=moves + moves, actor="a")  # duplicates count once: 3 cases, small path
    assert calls == []
    more = [Move(c.pk, S.EXCLUDED, "r") for c in cases if c.state != S.RELEASED][:5]
    case_transition_many(moves=more, actor="a", strict=False)
    assert calls == [5]
