"""A case's amount and decision change only through the case choke point, with a history row and an audit event:
a round that keeps a case where it is but changes its amount amends it through ``case_transition_many``; once the
payment side holds the case its amount is the payment's and cannot be amended. Nothing else in ``src/`` writes a
case's state, amount or decision (an AST scan)."""

from __future__ import annotations

from datetime import date

import pytest

import mianshen.cases.transitions as transitions
from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, CaseHistory
from mianshen.cases.services import case_apply_round
from mianshen.cases.states import AMENDABLE, PAYMENT_STATES, ROUND_FROZEN, State, can_amend
from mianshen.cases.transitions import Move, TransitionRefused, case_transition, case_transition_many
from mianshen.registry.models import Snapshot
from mianshen.screening.models import Checkpoint, RoundDecision, RoundStatus, ScreeningRound

from .field_writes import Write, writes, writes_in_source

S = State
POLICY = "beijing-2021"
FIELDS = {"state", "amount_fen", "decision"}


def _writes() -> list[Write]:
    return writes(app_models="mianshen.cases.models", models={"Case"}, fields=FIELDS, tables={"cases_case"})


def _scan(source: str, module: str) -> list[Write]:
    return writes_in_source(
        source,
        module,
        app_models="mianshen.cases.models",
        models={"Case"},
        fields=FIELDS,
        tables={"cases_case"},
    )


@pytest.fixture(autouse=True)
def _no_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_EVERY", "0")


def _cases(n: int, state: State = S.IDENTIFIED, amount: int = 123_456) -> list[Case]:
    Case.objects.bulk_create(
        [
            Case(policy_id=POLICY, unit_id=f"A{i:05d}", credit_code="91110105MA01234567", unit_name=f"单位{i}",
                 district="110105", state=state.value, amount_fen=amount, decision="eligible")
            for i in range(n)
        ]
    )  # fmt: skip
    return list(Case.objects.filter(unit_id__startswith="A").order_by("pk"))


def _completed_round(decisions: dict[str, tuple[str, int]]) -> ScreeningRound:
    snap = Snapshot.objects.create(content_hash="cd" * 32, source="test", extracted_on=date(2021, 6, 30))
    rnd = ScreeningRound.objects.create(
        policy_id=POLICY, number=2, snapshot=snap, snapshot_hash=snap.content_hash, as_of=date(2021, 7, 1),
        checkpoint=Checkpoint.AD_HOC, status=RoundStatus.COMPLETED, started_by="test",
    )  # fmt: skip
    RoundDecision.objects.bulk_create(
        [
            RoundDecision(round=rnd, unit_id=unit, credit_code="91110105MA01234567", decision=decision,
                          amount_fen=amount, evidence={})
            for unit, (decision, amount) in decisions.items()
        ]
    )  # fmt: skip
    return rnd


@pytest.mark.django_db
@pytest.mark.parametrize("threshold", [10**9, 0], ids=["small", "bulk"])
def test_a_round_that_changes_only_the_amount_amends_the_case_with_history_and_event(
    threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transitions, "BULK_FROM", threshold)
    amended, same, moved = _cases(3)
    rnd = _completed_round(
        {
            amended.unit_id: ("eligible", 130_000),  # stays identified, another amount
            same.unit_id: ("eligible", 123_456),  # stays, same amount: only rests on this round
            moved.unit_id: ("manual_review", 123_456),  # moves to under_review
        }
    )
    applied = case_apply_round(round=rnd, actor="round 2")
    assert (applied.moved, applied.unchanged) == (1, 2)
    case = Case.objects.get(pk=amended.pk)
    assert (case.state, case.amount_fen, case.version, case.last_round_id) == (
        "identified",
        130_000,
        1,
        rnd.pk,
    )
    history = CaseHistory.objects.get(case=case)
    assert (history.from_state, history.to_state, history.round_id) == ("identified", "identified", rnd.pk)
    assert history.reason == "round 2 (ad_hoc): amended: amount 123456 → 130000 fen"
    event = AuditEvent.objects.get(object_type="case", object_id=str(case.pk))
    assert event.action == Action.CASE_TRANSITION and event.actor == "round 2"
    assert (event.before["amount_fen"], event.after["amount_fen"]) == (123_456, 130_000)
    assert event.before["state"] == event.after["state"] == "identified"
    untouched = Case.objects.get(pk=same.pk)
    assert (untouched.version, untouched.last_round_id) == (0, rnd.pk)
    assert not CaseHistory.objects.filter(case=untouched).exists()
    assert Case.objects.get(pk=moved.pk).state == S.UNDER_REVIEW


def test_amendable_states_are_those_a_round_may_touch() -> None:
    assert frozenset(State) - ROUND_FROZEN == AMENDABLE
    assert not AMENDABLE & PAYMENT_STATES
    assert all(can_amend(s) != (s in ROUND_FROZEN) for s in State)


@pytest.mark.django_db
@pytest.mark.parametrize("threshold", [10**9, 0], ids=["small", "bulk"])
def test_a_case_held_by_payments_is_never_amended(threshold: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transitions, "BULK_FROM", threshold)
    [case] = _cases(1, S.RELEASED)
    with pytest.raises(TransitionRefused, match="its amount and decision are the payment's"):
        case_transition(case_id=case.pk, to=S.RELEASED, actor="a", reason="r", changes={"amount_fen": 1})
    skipped = case_transition_many(
        moves=[Move(case.pk, S.RELEASED, "r", changes={"decision": "ineligible"})], actor="a", strict=False
    )
    assert skipped == []
    case.refresh_from_db()
    assert (case.amount_fen, case.decision, case.version) == (123_456, "eligible", 0)
    assert not CaseHistory.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_staying_without_a_change_is_still_not_a_move() -> None:
    [case] = _cases(1)
    with pytest.raises(TransitionRefused, match="identified → identified is not an allowed move"):
        case_transition(case_id=case.pk, to=S.IDENTIFIED, actor="a", reason="r")


def test_nothing_outside_the_choke_point_writes_a_case_state_amount_or_decision() -> None:
    found = [str(w) for w in _writes() if w.module != "mianshen.cases.transitions"]
    assert found == []


def test_the_choke_point_itself_is_found() -> None:
    """The scan sees the writes it must see: those of the one transition function."""
    found = {w.what for w in _writes() if w.module == "mianshen.cases.transitions"}
    assert {"case.state = …", "update_rows(Case, …)"} <= found


@pytest.mark.parametrize(
    "line",
    [
        "Case.objects.filter(pk=1).update(amount_fen=2)",
        "Case.objects.filter(pk=1).update(**changes)",
        "qs.update(state='paid')",
        "case.decision = 'eligible'",
        "case.state, case.version = 'paid', 2",
        "case.amount_fen += 1",
        "setattr(case, 'state', 'paid')",
        "setattr(case, name, value)",
        "case.save(update_fields=['state'])",
        "Case.objects.bulk_update(cases, ['amount_fen'])",
        "Case.objects.bulk_update(cases, fields)",
        "Case.objects.bulk_create(cases, update_conflicts=True, update_fields=['decision'], unique_fields=['id'])",
        "update_rows(Case, ['decision'], rows)",
        "update_rows(Case, columns, rows)",
        "cursor.execute('UPDATE cases_case SET state = %s', ['paid'])",
    ],
)
def test_the_scan_finds_each_kind_of_write(line: str) -> None:
    source = f"from mianshen.cases.models import Case\nfrom mianshen.core.bulkdb import update_rows\n{line}\n"
    assert _scan(source, "mianshen.someapp.services")
    assert _scan(f"from ..models import Case\n{line}\n", "mianshen.cases.services.sub")


def test_the_scan_leaves_other_models_and_reads_alone() -> None:
    source = (
        "from django.db.models import Case\nfrom mianshen.payments.models import Payment\n"
        "job.status = 'done'\npayment.amount_fen\nqs.update(last_round=r)\nCase(When(x=1))\n"
    )
    assert _scan(source, "mianshen.payments.services.x") == []


def test_the_scan_lets_other_columns_of_a_case_through() -> None:
    """A round pointing confirmed cases at itself (``last_round_id``) is not a write of a guarded field."""
    source = (
        "from mianshen.cases.models import Case\nfrom mianshen.core.bulkdb import update_rows\n"
        "update_rows(Case, ['last_round_id'], rows)\n"
    )
    assert not _scan(source, "mianshen.someapp.services")
