"""Once per unit, ever: the benefit ledger of the retention-training family, held by the database and written in
the transaction that approves a case; rounds of retention-training-2022 through screening and cases."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.verify import audit_verify
from mianshen.cases.models import BenefitLedger, Case
from mianshen.cases.services import _received_elsewhere, case_apply_round
from mianshen.cases.states import State
from mianshen.cases.transitions import case_transition
from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.payments.formats.types import parse_remittance, remittance_text
from mianshen.policy.families import family_of
from mianshen.registry.services import snapshot_import
from mianshen.screening.models import RoundDecision
from mianshen.screening.services import RoundRefused, round_run, round_start

pytestmark = pytest.mark.django_db
POLICY = "retention-training-2022"


def _case(policy: str = POLICY, unit: str = "U1", state: State = State.PUBLICISED) -> Case:
    return Case.objects.create(
        policy_id=policy,
        unit_id=unit,
        credit_code="91110105MA01234567",
        unit_name="北京测试有限公司",
        district="110105",
        state=state.value,
        amount_fen=150000,
    )


def test_approving_a_retention_case_enters_the_ledger_with_an_audit_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    case = _case()
    case_transition(case_id=case.pk, to=State.APPROVED, actor="round 3", reason="notice ended")
    entry = BenefitLedger.objects.get(unit_id="U1")
    assert (entry.benefit, entry.case_id, entry.policy_id, entry.amount_fen) == (
        "retention_training",
        case.pk,
        POLICY,
        150000,
    )
    event = AuditEvent.objects.filter(action=Action.BENEFIT_RECORDED).get()
    assert event.after["unit_id"] == "U1" and event.object_id == str(case.pk)
    assert audit_verify().ok


def test_a_refund_case_is_not_a_once_only_benefit() -> None:
    case = _case(policy="beijing-2021")
    case_transition(case_id=case.pk, to=State.APPROVED, actor="round 3", reason="notice ended")
    assert not BenefitLedger.objects.exists()
    assert _received_elsewhere("beijing-2021") == set()


def test_the_database_refuses_a_second_entry_for_the_unit() -> None:
    first, second = _case(), _case(policy="retention-training-2099")
    BenefitLedger.objects.create(
        benefit="retention_training", unit_id="U1", case=first, policy_id=POLICY, amount_fen=1
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitLedger.objects.create(
            benefit="retention_training",
            unit_id="U1",
            case=second,
            policy_id="retention-training-2099",
            amount_fen=1,
        )
    # another unit, or the same unit for another benefit, is fine
    BenefitLedger.objects.create(
        benefit="other_benefit", unit_id="U1", case=second, policy_id="x", amount_fen=1
    )
    assert BenefitLedger.objects.count() == 2


def test_a_unit_that_received_it_under_another_policy_id_is_known_to_rounds() -> None:
    other = _case(policy="retention-training-2099", unit="U7")
    BenefitLedger.objects.create(
        benefit="retention_training",
        unit_id="U7",
        case=other,
        policy_id="retention-training-2099",
        amount_fen=1,
    )
    assert _received_elsewhere(POLICY) == {"U7"}
    mine = _case(unit="U8")
    BenefitLedger.objects.create(
        benefit="retention_training", unit_id="U8", case=mine, policy_id=POLICY, amount_fen=1
    )
    assert _received_elsewhere(POLICY) == {"U7"}  # its own policy's entries are its own cases'


def test_remittance_says_what_the_money_is_for() -> None:
    prefix = family_of(POLICY).remittance_prefix
    text = remittance_text("RETENTION-TRAINING-2022-00000012", "91110105MA01234567", prefix)
    assert text.startswith("留工培训补助/")
    assert parse_remittance(text) == ("RETENTION-TRAINING-2022-00000012", "91110105MA01234567")
    assert remittance_text("C-1", "91110105MA01234567").startswith("稳岗返还/")
    with pytest.raises(ValueError):
        remittance_text("C-1", "91110105MA01234567", "别的补助")


def test_a_retention_round_screens_the_snapshot_and_opens_cases(tmp_path: Path) -> None:
    generate(units=300, seed=3, out=tmp_path / "drop", retention=True)
    snapshot = snapshot_import(drop=validate_drop(tmp_path / "drop"), extracted_on=date(2022, 6, 30)).snapshot
    rnd = round_start(policy_id=POLICY, snapshot=snapshot, actor="officer", as_of=date(2022, 6, 30))
    done = round_run(round_id=rnd.pk)
    assert done.status == "completed"
    decisions = RoundDecision.objects.filter(round=done)
    assert decisions.count() == 300
    assert set(decisions.values_list("decision", flat=True)) >= {"eligible", "ineligible"}
    assert all(d.routes == "" for d in decisions)
    eligible = decisions.filter(decision="eligible").first()
    assert eligible is not None and eligible.amount_fen % 50000 == 0 and eligible.amount_fen > 0
    assert eligible.evidence["reference_month"] == "2022-04"
    applied = case_apply_round(round=done, actor="round 1")
    assert applied.opened == 300 or Case.objects.filter(policy_id=POLICY).count() == 300
    case = Case.objects.get(policy_id=POLICY, unit_id=eligible.unit_id)
    assert case.amount_fen == eligible.amount_fen
    # the back office and the public lookup explain it in the family's own words, from the stored evidence
    from mianshen.backoffice.selectors import case_explanation
    from mianshen.reports.unit_facts import public_explanation

    explained = case_explanation(case, "en")
    assert explained is not None and "medium- or high-risk area" in explained.text
    assert "a head" in explained.text and "人社部发〔2022〕23号" in explained.text
    assert "中高风险地区" in public_explanation(case, "zh")


def test_a_snapshot_without_the_family_tables_is_refused(tmp_path: Path) -> None:
    generate(units=50, seed=4, out=tmp_path / "drop")
    snapshot = snapshot_import(drop=validate_drop(tmp_path / "drop"), extracted_on=date(2022, 6, 30)).snapshot
    with pytest.raises(RoundRefused) as refused:
        round_start(policy_id=POLICY, snapshot=snapshot, actor="officer", as_of=date(2022, 6, 30))
    assert refused.value.params["table"] == "risk_areas"
    assert "risk_areas" in str(refused.value) and "retention-training-2022" in str(refused.value)
