"""How cases react to the apps below them (connected in ``CasesConfig.ready()``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from django.dispatch import receiver

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record_many
from mianshen.policy.families import family_of
from mianshen.policy.parameters import UnknownPolicy
from mianshen.screening.models import RoundDecision, ScreeningRound
from mianshen.screening.signals import round_completed, round_inputs

from .models import BenefitLedger, Case, PersonLedger
from .services import applications_settle_reissued, case_apply_round
from .signals import cases_moved
from .states import State


@receiver(round_completed, dispatch_uid="cases.apply_completed_round")
def apply_completed_round(
    sender: type[ScreeningRound], *, round: ScreeningRound, **kwargs: Any
) -> dict[str, int]:
    """A completed round decides its cases (opens, moves, confirms or freezes them); the counts go into the
    round job's result."""
    applied = case_apply_round(round=round, actor=f"round {round.number}")
    return {
        "cases_opened": applied.opened,
        "cases_moved": applied.moved,
        "cases_unchanged": applied.unchanged,
        "cases_frozen": applied.frozen,
        "cases_amended": applied.amended,
    }


@receiver(cases_moved, dispatch_uid="cases.settle_reissued_applications")
def settle_reissued_applications(
    sender: type[Case], *, moved: Sequence[tuple[Case, str]], actor: str, **kwargs: Any
) -> int:
    """A payment re-issued after a failure (``awaiting_correction → released``: the payment side pays only the
    account on file in a drop imported after the failure) grants the unit's wrong-bank-details application."""
    ids = [c.pk for c, frm in moved if frm == State.AWAITING_CORRECTION and c.state == State.RELEASED]
    return applications_settle_reissued(case_ids=ids, actor=actor) if ids else 0


@receiver(cases_moved, dispatch_uid="cases.record_once_only_benefits")
def record_once_only_benefits(
    sender: type[Case], *, moved: Sequence[tuple[Case, str]], actor: str, **kwargs: Any
) -> int:
    """A case of a once-only family (``RuleFamily.once_per_unit``) that reaches ``approved`` enters the benefit
    ledger, in the same transaction. A unit already in the ledger through another case makes the insert fail on
    the unique constraint, which refuses the whole change (``case_apply_round`` excludes such units first)."""
    approved = [
        case
        for case, before in moved
        if case.state == State.APPROVED
        and before != State.APPROVED
        and family_of(case.policy_id).once_per_unit
    ]
    if not approved:
        return 0
    # a case approved again (excluded at a later comparison, then approved) keeps its one entry
    entered = set(BenefitLedger.objects.filter(case__in=approved).values_list("case_id", flat=True))
    entries = [
        BenefitLedger(
            benefit=family_of(case.policy_id).kind,
            unit_id=case.unit_id,
            case=case,
            policy_id=case.policy_id,
            amount_fen=case.amount_fen,
        )
        for case in approved
        if case.pk not in entered
    ]
    if not entries:
        return 0
    BenefitLedger.objects.bulk_create(entries)
    audit_record_many(
        actor=actor,
        events=[
            dict(
                action=Action.BENEFIT_RECORDED,
                obj_type="case",
                obj_id=str(e.case.pk),
                after={
                    "benefit": e.benefit,
                    "unit_id": e.unit_id,
                    "policy_id": e.policy_id,
                    "amount_fen": e.amount_fen,
                },
            )
            for e in entries
        ],
    )
    return len(entries)


@receiver(cases_moved, dispatch_uid="cases.record_person_benefits")
def record_person_benefits(
    sender: type[Case], *, moved: Sequence[tuple[Case, str]], actor: str, **kwargs: Any
) -> int:
    """A case of a once-per-person family (``RuleFamily.once_per_person``) that reaches ``approved`` enters the
    persons its decision counted (the evidence's ``persons``, of the round that decided it) in the person ledger,
    in the same transaction. A person already in the ledger through another case makes the insert fail on the
    unique constraint, which refuses the whole change (the rounds pass the ledger to the engine, which leaves such
    persons out first: ``paid_persons_for_round``). A case approved again keeps its entries."""
    approved = [
        case
        for case, before in moved
        if case.state == State.APPROVED
        and before != State.APPROVED
        and case.last_round_id is not None
        and _once_per_person(case.policy_id)
    ]
    if not approved:
        return 0
    entered = set(PersonLedger.objects.filter(case__in=approved).values_list("case_id", flat=True))
    todo = [c for c in approved if c.pk not in entered]
    evidence: dict[tuple[int | None, str], Any] = {
        (d.round_id, d.unit_id): d.evidence
        for d in RoundDecision.objects.filter(
            round_id__in={c.last_round_id for c in todo}, unit_id__in={c.unit_id for c in todo}
        ).only("round_id", "unit_id", "evidence")
    }
    entries: list[PersonLedger] = []
    events = []
    for case in todo:
        found = evidence.get((case.last_round_id, case.unit_id)) or {}
        persons = sorted(found.get("persons") or [])
        per_person = int(found.get("per_person_fen") or 0)
        if not persons:
            continue
        benefit = family_of(case.policy_id).kind
        entries += [
            PersonLedger(
                benefit=benefit,
                person_id=p,
                unit_id=case.unit_id,
                case=case,
                policy_id=case.policy_id,
                amount_fen=per_person,
            )
            for p in persons
        ]
        events.append(
            dict(
                action=Action.PERSONS_RECORDED,
                obj_type="case",
                obj_id=str(case.pk),
                after={
                    "benefit": benefit,
                    "unit_id": case.unit_id,
                    "policy_id": case.policy_id,
                    "persons": persons,
                    "per_person_fen": per_person,
                },
            )
        )
    if not entries:
        return 0
    PersonLedger.objects.bulk_create(entries)
    audit_record_many(actor=actor, events=events)
    return len(entries)


@receiver(round_inputs, dispatch_uid="cases.paid_persons_for_round")
def paid_persons_for_round(
    sender: type[ScreeningRound], *, round: ScreeningRound, family: str, **kwargs: Any
) -> dict[str, pl.DataFrame] | None:
    """The job-expansion engine's ``paid_persons`` for a round: every person of the family's person ledger, with
    the unit when paid for under the round's own policy id (that unit keeps counting the person)."""
    if not _once_per_person(round.policy_id):
        return None
    rows = PersonLedger.objects.filter(benefit=family).values_list("person_id", "unit_id", "policy_id")
    return {
        "paid_persons": pl.DataFrame(
            [(p, u if policy == round.policy_id else None) for p, u, policy in rows],
            schema={"person_id": pl.String, "unit_id": pl.String},
            orient="row",
        )
    }


def _once_per_person(policy_id: str) -> bool:
    try:
        return family_of(policy_id).once_per_person
    except UnknownPolicy:
        return False


def _once_only(policy_id: str) -> bool:
    try:
        return family_of(policy_id).once_per_unit
    except UnknownPolicy:  # a case of a policy no parameter file declares any more: not a once-only benefit
        return False
