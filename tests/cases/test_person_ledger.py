"""Once per person, ever: the person ledger of the job-expansion family, held by the database (unique benefit and
person), written in the transaction that approves a case, and read back by the rounds as the engine's
``paid_persons``; rounds of job-expansion-2022 through screening and cases."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.verify import audit_verify
from mianshen.cases.models import Case, PersonLedger
from mianshen.cases.receivers import paid_persons_for_round
from mianshen.cases.services import case_apply_round
from mianshen.cases.states import State
from mianshen.cases.transitions import case_transition
from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.payments.formats.types import parse_remittance, remittance_text
from mianshen.policy.families import family_of
from mianshen.registry.services import snapshot_import
from mianshen.screening.models import RoundDecision, ScreeningRound
from mianshen.screening.services import RoundRefused, round_run, round_start

pytestmark = pytest.mark.django_db
POLICY = "job-expansion-2022"
AS_OF = date(2022, 12, 31)
P1, P2 = "a" * 64, "b" * 64


def _case(unit: str, policy: str = POLICY, state: State = State.PUBLICISED) -> Case:
    return Case.objects.create(
        policy_id=policy,
        unit_id=unit,
        credit_code="91110105MA01234567",
        unit_name="北京测试有限公司",
        district="110105",
        state=state.value,
        amount_fen=150000,
    )


def test_the_database_refuses_a_second_entry_for_the_person() -> None:
    first, second = _case("U1"), _case("U2", policy="job-expansion-2023")
    PersonLedger.objects.create(
        benefit="job_expansion", person_id=P1, unit_id="U1", case=first, policy_id=POLICY, amount_fen=150000
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonLedger.objects.create(
            benefit="job_expansion",
            person_id=P1,
            unit_id="U2",
            case=second,
            policy_id="job-expansion-2023",
            amount_fen=150000,
        )
    # another person, or the same person for another benefit, is fine
    PersonLedger.objects.create(
        benefit="job_expansion", person_id=P2, unit_id="U2", case=second, policy_id="x", amount_fen=1
    )
    PersonLedger.objects.create(
        benefit="other_benefit", person_id=P1, unit_id="U2", case=second, policy_id="x", amount_fen=1
    )
    assert PersonLedger.objects.count() == 3


def test_remittance_says_what_the_money_is_for() -> None:
    text = remittance_text(
        "JOB-EXPANSION-2022-00000012", "91110105MA01234567", family_of(POLICY).remittance_prefix
    )
    assert text.startswith("扩岗补助/")
    assert parse_remittance(text) == ("JOB-EXPANSION-2022-00000012", "91110105MA01234567")


@pytest.fixture
def completed_round(tmp_path: Path) -> ScreeningRound:
    generate(units=300, seed=3, out=tmp_path / "drop", job_expansion=True)
    snapshot = snapshot_import(drop=validate_drop(tmp_path / "drop"), extracted_on=AS_OF).snapshot
    rnd = round_start(policy_id=POLICY, snapshot=snapshot, actor="officer", as_of=AS_OF)
    done = round_run(round_id=rnd.pk)
    assert done.status == "completed"
    return done


def test_a_round_screens_and_an_approval_enters_its_persons_once(
    completed_round: ScreeningRound, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    decisions = RoundDecision.objects.filter(round=completed_round)
    assert decisions.count() == 300
    assert set(decisions.values_list("decision", flat=True)) == {"eligible", "ineligible"}
    eligible = decisions.filter(decision="eligible").first()
    assert eligible is not None
    persons = eligible.evidence["persons"]
    assert eligible.amount_fen == 150000 * len(persons) > 0
    case_apply_round(round=completed_round, actor="round 1")
    case = Case.objects.get(policy_id=POLICY, unit_id=eligible.unit_id)
    assert case.amount_fen == eligible.amount_fen and case.last_round_id == completed_round.pk
    # the back office and the public lookup explain it in the family's own words, from the stored evidence
    from mianshen.backoffice.selectors import case_explanation
    from mianshen.reports.unit_facts import public_explanation

    explained = case_explanation(case, "en")
    assert explained is not None and "hires are eligible" in explained.text
    assert "a person" in explained.text and "人社部发〔2022〕31号" in explained.text
    public = public_explanation(case, "zh")
    assert "符合条件" in public and "参数（版本）" not in public
    Case.objects.filter(pk=case.pk).update(state=State.PUBLICISED.value)
    case_transition(case_id=case.pk, to=State.APPROVED, actor="round 2", reason="notice ended")
    entries = PersonLedger.objects.filter(case=case)
    assert sorted(entries.values_list("person_id", flat=True)) == sorted(persons)
    assert {(e.benefit, e.unit_id, e.policy_id, e.amount_fen) for e in entries} == {
        ("job_expansion", case.unit_id, POLICY, 150000)
    }
    event = AuditEvent.objects.filter(action=Action.PERSONS_RECORDED).get()
    assert event.object_id == str(case.pk) and event.after["persons"] == sorted(persons)
    assert audit_verify().ok
    # approved again (excluded at a later round, then approved): the entries stay as they were
    for step in (State.EXCLUDED, State.RECHECKED, State.PUBLICISED, State.APPROVED):
        case_transition(case_id=case.pk, to=step, actor="round 3", reason="test")
    assert PersonLedger.objects.filter(case=case).count() == len(persons)

    # the rounds read the ledger back: under this policy the person stays with the unit; under another, paid
    same = paid_persons_for_round(sender=ScreeningRound, round=completed_round, family="job_expansion")
    assert same is not None
    assert set(same["paid_persons"].iter_rows()) == {(p, case.unit_id) for p in persons}
    later = ScreeningRound(policy_id="job-expansion-2023")
    other = paid_persons_for_round(sender=ScreeningRound, round=later, family="job_expansion")
    assert other is not None and set(other["paid_persons"].iter_rows()) == {(p, None) for p in persons}
    refund = ScreeningRound(policy_id="beijing-2021")
    assert paid_persons_for_round(sender=ScreeningRound, round=refund, family="refund") is None

    # a second case counting the same person cannot be approved: the database refuses the whole move
    intruder = _case("U-OTHER")
    RoundDecision.objects.create(
        round=completed_round,
        unit_id="U-OTHER",
        credit_code="91110105MA01234567",
        decision="eligible",
        amount_fen=150000,
        evidence={"persons": [persons[0]], "per_person_fen": 150000},
    )
    Case.objects.filter(pk=intruder.pk).update(last_round=completed_round)
    with pytest.raises(IntegrityError):
        case_transition(case_id=intruder.pk, to=State.APPROVED, actor="round 5", reason="test")
    intruder.refresh_from_db()
    assert intruder.state == State.PUBLICISED.value
    assert not PersonLedger.objects.filter(case=intruder).exists()


def test_a_later_round_leaves_out_the_persons_paid_under_the_policy_for_another_unit(
    completed_round: ScreeningRound,
) -> None:
    eligible = RoundDecision.objects.filter(round=completed_round, decision="eligible").first()
    assert eligible is not None
    person = eligible.evidence["persons"][0]
    holder = _case("U-HOLDER", state=State.APPROVED)
    PersonLedger.objects.create(
        benefit="job_expansion",
        person_id=person,
        unit_id="U-HOLDER",
        case=holder,
        policy_id=POLICY,
        amount_fen=1,
    )
    again = round_run(
        round_id=round_start(
            policy_id=POLICY, snapshot=completed_round.snapshot, actor="officer", as_of=AS_OF
        ).pk
    )
    redo = RoundDecision.objects.get(round=again, unit_id=eligible.unit_id)
    assert person not in redo.evidence["persons"]
    assert redo.evidence["n_already_paid"] == 1
    assert redo.amount_fen == eligible.amount_fen - 150000


def test_a_snapshot_without_the_family_tables_is_refused(tmp_path: Path) -> None:
    generate(units=50, seed=4, out=tmp_path / "drop")
    snapshot = snapshot_import(drop=validate_drop(tmp_path / "drop"), extracted_on=AS_OF).snapshot
    with pytest.raises(RoundRefused) as refused:
        round_start(policy_id=POLICY, snapshot=snapshot, actor="officer", as_of=AS_OF)
    assert refused.value.params["table"] == "hires"
