"""The scripted cycle on generated data (issue 4): round 1 → round 2 on a changed drop → publicity →
objections → round 3 → approvals. The expected approvals are computed independently, from the policy engine's
decisions on each drop and the objection outcomes, never from the case machinery under test."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from django.utils import timezone

from mianshen.audit.models import AuditEvent
from mianshen.audit.verify import audit_verify
from mianshen.cases.models import Case, CaseHistory, NoticeEntry
from mianshen.cases.services import (
    CaseError,
    case_apply_round,
    mask_credit_code,
    notice_open,
    objection_decide,
    objection_record,
)
from mianshen.cases.states import State
from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.policy.engine import decisions, evaluate
from mianshen.policy.parameters import resolve
from mianshen.registry.services import snapshot_import
from mianshen.screening.models import Checkpoint, RoundDecision, RoundStatus
from mianshen.screening.services import round_diff, round_run, round_start

pytestmark = pytest.mark.django_db

POLICY = "beijing-2021"
AS_OF = date(2021, 7, 1)
AS_OF_3 = date(2021, 7, 20)


def _screen(drop: Path, as_of: date) -> pl.DataFrame:
    return decisions(evaluate(validate_drop(drop).tables, resolve(POLICY, as_of), as_of))


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Drop A (generated), B (A with fresh data: one unit fixed, two newly flagged, a confirmation arrived),
    C (B with one publicised unit deregistered before the last comparison)."""
    root = tmp_path_factory.mktemp("cycle")
    a = root / "a"
    generate(units=500, seed=11, out=a, fmt="csv")
    da = _screen(a, AS_OF)
    eligible = da.filter(pl.col("decision") == "eligible")["unit_id"].sort().to_list()
    arrears_only = da.filter(pl.col("failed") == "ARREARS")["unit_id"].sort().to_list()
    pending = da.filter(pl.col("decision") == "pending_confirmation")["unit_id"].sort().to_list()
    assert len(eligible) > 100 and arrears_only and pending, "the generated city must exercise every path"

    b = root / "b"
    shutil.copytree(a, b)
    # fresh data: the unit with arrears paid them; two eligible units newly on the serious-dishonesty list;
    # the host employers of a dispatch firm confirmed
    contributions = pl.read_csv(b / "contributions.csv", infer_schema=False)
    fixed = arrears_only[0]
    contributions = contributions.with_columns(
        pl.when(pl.col("unit_id") == fixed)
        .then(pl.col("due_fen"))
        .otherwise(pl.col("paid_fen"))
        .alias("paid_fen"),
        pl.when((pl.col("unit_id") == fixed) & (pl.col("paid_on").is_null()))
        .then(pl.lit("2021-06-15"))
        .otherwise(pl.col("paid_on"))
        .alias("paid_on"),
    )
    contributions.write_csv(b / "contributions.csv")
    units = pl.read_csv(a / "units.csv", infer_schema=False)
    flagged = eligible[:2]
    codes = units.filter(pl.col("unit_id").is_in(flagged))["credit_code"].to_list()
    with (b / "credit_flags.csv").open("a", encoding="utf-8") as f:
        for code in codes:
            f.write(f"{code},serious_dishonesty,2021-06-01,,发展改革委\n")
    with (b / "dispatch_confirmations.csv").open("a", encoding="utf-8") as f:
        f.write(f"{pending[0]},2021-06-20\n")

    c = root / "c"
    shutil.copytree(b, c)
    gone = eligible[10]
    units_c = pl.read_csv(c / "units.csv", infer_schema=False).with_columns(
        pl.when(pl.col("unit_id") == gone)
        .then(pl.lit("2021-07-10"))
        .otherwise(pl.col("deregistered_on"))
        .alias("deregistered_on")
    )
    units_c.write_csv(c / "units.csv")
    return {"a": a, "b": b, "c": c}


def _round(drop: Path, checkpoint: str, as_of: date, now: object = None) -> tuple[int, object]:
    snap = snapshot_import(drop=validate_drop(drop), extracted_on=as_of).snapshot
    rnd = round_start(
        policy_id=POLICY, snapshot=snap, actor="officer-city", as_of=as_of, checkpoint=checkpoint
    )
    rnd = round_run(round_id=rnd.pk)
    assert rnd.status == RoundStatus.COMPLETED
    applied = case_apply_round(round=rnd, actor=f"round {rnd.number}", now=now)  # type: ignore[arg-type]
    return rnd.pk, applied


def test_three_checkpoints_produce_exactly_the_expected_approvals(
    drops: dict[str, Path], small_parameter_limit: int
) -> None:
    # 500 units, at most 100 parameters a statement: no query of the cycle may list the units (issue 13: round 1
    # died at Beijing's size opening cases with ``unit_id IN (…)`` over every unit)
    assert small_parameter_limit < 500
    d_b = _screen(drops["b"], AS_OF)
    d_c = _screen(drops["c"], AS_OF_3)

    # round 1: first comparison
    r1, applied1 = _round(drops["a"], Checkpoint.INITIAL, AS_OF)
    assert applied1.opened == Case.objects.count() == 500
    stored = RoundDecision.objects.filter(round_id=r1).count()
    assert stored == 500

    # round 2: the comparison before publicity, on fresh data
    r2, _ = _round(drops["b"], Checkpoint.BEFORE_PUBLICITY, AS_OF)
    rechecked = set(Case.objects.filter(state=State.RECHECKED).values_list("unit_id", flat=True))
    assert rechecked == set(d_b.filter(pl.col("decision") == "eligible")["unit_id"])
    diff = round_diff(before=_get_round(r1), after=_get_round(r2))
    assert diff.counts.get("eligible→ineligible", 0) >= 2  # the newly flagged units
    assert diff.counts.get("ineligible→eligible", 0) >= 1  # the unit that paid its arrears

    # publicity: 7 days from three days ago, still open now
    start = timezone.localdate() - timedelta(days=3)
    notice = notice_open(policy_id=POLICY, actor="officer-city", start=start)
    entries = NoticeEntry.objects.filter(notice=notice)
    assert entries.count() == len(rechecked)
    some = entries.select_related("case").order_by("case__unit_id").first()
    assert some is not None and some.masked_credit_code == mask_credit_code(some.case.credit_code)
    assert some.masked_credit_code[6:14] == "********"

    # objections (checkpoint 2): one upheld, one rejected, one left undecided
    publicised = list(Case.objects.filter(state=State.PUBLICISED).order_by("unit_id"))
    upheld, rejected, pending = publicised[0], publicised[1], publicised[2]
    o1 = objection_record(
        case_id=upheld.pk, raised_by="public", contact="138****0000", grounds="已停业", actor="officer-d"
    )
    o2 = objection_record(
        case_id=rejected.pk, raised_by="unit", contact="13900000000", grounds="金额有误", actor="officer-d"
    )
    objection_record(
        case_id=pending.pk, raised_by="public", contact="13700000000", grounds="裁员未申报", actor="officer-d"
    )
    objection_decide(objection_id=o1.pk, outcome="upheld", reason="核实已停业", actor="officer-e")
    objection_decide(objection_id=o2.pk, outcome="rejected", reason="金额按规则计算无误", actor="officer-e")

    # round 3: the comparison right before payment, after the notice ended
    after_notice = notice.ends_at + timedelta(minutes=1)
    _round(drops["c"], Checkpoint.BEFORE_PAYMENT, AS_OF_3, now=after_notice)

    eligible_c = set(d_c.filter(pl.col("decision") == "eligible")["unit_id"])
    expected = (rechecked & eligible_c) - {upheld.unit_id, pending.unit_id}
    approved = set(Case.objects.filter(state=State.APPROVED).values_list("unit_id", flat=True))
    assert approved == expected
    assert len(expected) > 100
    # the unit deregistered before the last comparison dropped out and is never approved
    dropped = rechecked - eligible_c
    assert dropped and all(Case.objects.get(unit_id=u).state == State.EXCLUDED for u in dropped)
    assert Case.objects.get(pk=pending.pk).state == State.OBJECTED
    assert Case.objects.get(pk=upheld.pk).state == State.EXCLUDED
    # approved amounts are the last comparison's amounts
    amounts = dict(d_c.select("unit_id", "amount_fen").iter_rows())
    for case in Case.objects.filter(state=State.APPROVED):
        assert case.amount_fen == amounts[case.unit_id]
    # every move left a history row and the audit trail is intact
    assert CaseHistory.objects.filter(to_state=State.APPROVED).count() == len(expected)
    assert audit_verify(checkpoints=None).ok


def test_objection_after_the_notice_ended_is_refused(drops: dict[str, Path]) -> None:
    _round(drops["a"], Checkpoint.INITIAL, AS_OF)
    _round(drops["b"], Checkpoint.BEFORE_PUBLICITY, AS_OF)
    notice = notice_open(
        policy_id=POLICY, actor="officer-city", start=timezone.localdate() - timedelta(days=10)
    )
    case = Case.objects.filter(state=State.PUBLICISED).first()
    assert case is not None
    with pytest.raises(CaseError, match="notice ended"):
        objection_record(case_id=case.pk, raised_by="public", contact="x", grounds="y", actor="officer-d")
    assert notice.ends_at.hour == 0  # 24:00 Beijing time of day 7


def _get_round(pk: int) -> object:
    from mianshen.screening.models import ScreeningRound

    return ScreeningRound.objects.get(pk=pk)


def test_a_changed_amount_is_amended_through_the_transition_function(
    drops: dict[str, Path], tmp_path: Path
) -> None:
    """A case that stays where it is while a later round changes its amount is amended by the one transition
    function: the new amount, a history row and an audit event with the amounts before and after."""
    d_a = _screen(drops["a"], AS_OF)
    unit = d_a.filter((pl.col("decision") == "eligible") & (pl.col("amount_fen") > 0)).sort("unit_id")[
        "unit_id"
    ][5]
    later = tmp_path / "a-late-payment"
    shutil.copytree(drops["a"], later)
    contributions = pl.read_csv(later / "contributions.csv", infer_schema=False)
    more = (pl.col("unit_id") == unit) & pl.col("period").str.starts_with("2020")
    contributions.with_columns(
        pl.when(more).then(pl.col(c).cast(pl.Int64) + 10_000).otherwise(pl.col(c).cast(pl.Int64)).alias(c)
        for c in ("due_fen", "paid_fen")
    ).write_csv(later / "contributions.csv")
    d_later = _screen(later, AS_OF)
    old_amount = d_a.filter(pl.col("unit_id") == unit)["amount_fen"][0]
    new_amount = d_later.filter(pl.col("unit_id") == unit)["amount_fen"][0]
    assert d_later.filter(pl.col("unit_id") == unit)["decision"][0] == "eligible" and new_amount > old_amount

    _round(drops["a"], Checkpoint.INITIAL, AS_OF)
    case = Case.objects.get(unit_id=unit)
    assert (case.state, case.amount_fen) == (State.IDENTIFIED, old_amount)
    audit_before = AuditEvent.objects.count()
    r2, applied = _round(later, Checkpoint.AD_HOC, AS_OF)

    case.refresh_from_db()
    assert (case.state, case.amount_fen, case.last_round_id, case.version) == (
        State.IDENTIFIED,
        new_amount,
        r2,
        1,
    )
    assert applied.amended == 1 and applied.moved == 0  # type: ignore[attr-defined]
    history = CaseHistory.objects.filter(case=case).order_by("id").last()
    assert history is not None and (history.from_state, history.to_state) == ("identified", "identified")
    assert f"amount {old_amount} → {new_amount} fen" in history.reason
    event = AuditEvent.objects.filter(seq__gt=audit_before, object_id=str(case.pk)).get()
    assert (event.before["amount_fen"], event.after["amount_fen"]) == (old_amount, new_amount)
    # every other case rests on the later round's evidence, unchanged and without a history row of it
    assert not Case.objects.exclude(last_round_id=r2).exists()
    assert CaseHistory.objects.filter(round_id=r2).count() == 1
    assert audit_verify(checkpoints=None).ok
