"""The one transition function: allowed moves only, history and audit for each, nothing on refusal."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, CaseHistory
from mianshen.cases.states import PAYMENT_STATES, TRANSITIONS, State, can_move
from mianshen.cases.transitions import Move, TransitionRefused, case_transition, case_transition_many

pytestmark = pytest.mark.django_db


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


def test_random_moves_follow_the_table() -> None:
    run_state_machine_as_test(
        CaseMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
