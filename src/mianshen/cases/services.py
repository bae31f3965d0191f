"""Case services: apply a round to the cases, public notice, objections, reviews, confirmations, applications.

Every state change goes through ``transitions.case_transition_many``; this module decides *which* moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.core.bulkdb import analyze_after_load, insert_rows, one_parameter, update_rows
from mianshen.core.errors import Listing, Refusal
from mianshen.policy.families import family_of, words_of
from mianshen.registry.models import Unit
from mianshen.screening.models import Checkpoint, RoundDecision, RoundStatus, ScreeningRound
from mianshen.staff.foureyes import FourEyes, four_eyes_close, four_eyes_open

from .documents import DocumentRefused, StoredDocument, document_bytes
from .models import (
    Application,
    ApplicationDocument,
    ApplicationKind,
    ApplicationOutcome,
    BenefitLedger,
    Case,
    HostConfirmation,
    Notice,
    NoticeEntry,
    Objection,
    ObjectionOutcome,
    Review,
    in_states,
)
from .signals import application_decided, application_submitted, cases_moved, notice_opened
from .states import DECISION_STATE, ROUND_FROZEN, State
from .transitions import (
    Move,
    NewCase,
    TransitionRefused,
    case_open_many,
    case_transition,
    case_transition_many,
)

BEIJING = ZoneInfo("Asia/Shanghai")
# Exclusions decided by staff stick: a later round does not undo them (an application reopens the case).
STAFF_EXCLUSIONS = frozenset({"OBJECTION_UPHELD", "REVIEW_REJECTED"})
ALREADY_RECEIVED = "ALREADY_RECEIVED"  # a once-only benefit the unit received under another policy id
S = State


class CaseError(Refusal):
    """A request the case rules refuse (one line for the user, in English and Chinese)."""


@dataclass(frozen=True)
class RoundApplied:
    opened: int
    moved: int
    unchanged: (
        int  # cases that stay where they are (of which ``amended`` had their amount or decision changed)
    )
    frozen: int  # cases a round may not touch (objected, released, excluded by staff)
    amended: int = 0


def mask_credit_code(code: str) -> str:
    """USCC as shown on a public notice: first 6 and last 4 characters, ``*`` between."""
    if len(code) <= 10:
        return code
    return code[:6] + "*" * (len(code) - 10) + code[-4:]


class _Decision(NamedTuple):
    """A unit's decision in a round, as the cases need it (not its evidence)."""

    unit_id: str
    credit_code: str
    decision: str
    failed: str
    unknown: str
    routes: str
    amount_fen: int


class _CaseRow(NamedTuple):
    """A case as a round sees it."""

    pk: int
    state: str
    reason: str
    amount_fen: int
    decision: str
    key_supervision: bool


MOVE_BATCH = 50_000
"""Cases moved per ``case_transition_many`` call when a round applies (all in the round's one transaction): the
moved cases, their history and audit rows of one batch are built in memory at a time, not 450,000 at once."""


def _effective(
    decision: _Decision, *, reviewed: bool, confirmed: bool, granted: bool = False
) -> tuple[State, str]:
    """Where a round's decision sends a case, after what staff already settled on it (``reviewed``: a manual
    review approved it; ``confirmed``: its host employers confirmed; ``granted``: a key-supervision or
    commitment-fulfilled application was granted, four eyes — the commitment-breach track's way through: a
    review without such an application does not let the unit skip applying)."""
    routes = set(filter(None, decision.routes.split("|")))
    if decision.decision == "ineligible":
        return S.EXCLUDED, decision.failed
    if decision.decision == "manual_review":
        if "COMMITMENT_BREACH" in routes and not granted:
            return S.AWAITING_APPLICATION, "COMMITMENT_BREACH"
        if not reviewed:
            return S.UNDER_REVIEW, "|".join(filter(None, [decision.unknown, decision.routes]))
        if "DISPATCH_UNCONFIRMED" not in routes:
            return S.IDENTIFIED, "reviewed"
    if "DISPATCH_UNCONFIRMED" in routes and not confirmed:
        return S.AWAITING_CONFIRMATION, "DISPATCH_UNCONFIRMED"
    return DECISION_STATE["eligible"], ""


def case_apply_round(*, round: ScreeningRound, actor: str, now: datetime | None = None) -> RoundApplied:
    """Open or move every unit's case by this round's decisions, as the round's checkpoint allows, in one
    transaction (a round decides the cases whole or not at all).

    - first/ad-hoc rounds move a case to where its decision sends it;
    - the comparison before publicity marks still-eligible cases ``rechecked`` (ready for the notice);
    - the comparison before payment approves a publicised case whose notice has ended with no open
      objection, if it is still eligible; a unit that dropped out is excluded, never approved.
    Objected and released cases are left alone. A case that stays where it is but whose amount or decision
    changed is amended through the transition function (history and audit event).

    Built for a city of 450,000 units: every read is one query over the policy or the round (no list of units
    as parameters), new cases are written as plain rows (``case_open_many``), moves in batches.
    """
    if round.status != RoundStatus.COMPLETED:
        raise CaseError(
            _("第 %(number)s 轮比对状态为 %(status)s：只有已完成的比对才能确定案件"),
            number=round.number,
            status=round.status,
        )
    now = now or timezone.now()
    policy = round.policy_id
    with transaction.atomic():
        decisions = {
            d[0]: _Decision(*d)
            for d in RoundDecision.objects.filter(round=round)
            .values_list(*_Decision._fields)
            .iterator(20_000)
        }
        cases = _policy_cases(policy)
        opened = _open_missing(round, decisions, cases, actor)
        _announce_opened(policy, opened, cases, actor)
        reviewed = set(
            Review.objects.filter(case__policy_id=policy, outcome="approve").values_list("case_id", flat=True)
        )
        granted = set(
            Application.objects.filter(
                case__policy_id=policy, outcome=ApplicationOutcome.GRANTED, kind__in=list(BREACH_GRANTS)
            ).values_list("case_id", flat=True)
        )
        confirmed_hosts = set(
            HostConfirmation.objects.filter(case__policy_id=policy).values_list("case_id", flat=True)
        )
        received = _received_elsewhere(policy)
        ended_notices = set(
            NoticeEntry.objects.filter(notice__ends_at__lte=now, case__policy_id=policy).values_list(
                "case_id", flat=True
            )
        )
        moves: list[Move] = []
        amended: set[int] = set()
        confirmed: list[int] = []
        unchanged = frozen = 0
        for unit_id, case in cases.items():
            decision = decisions.get(unit_id)
            if decision is None:
                continue  # the unit is not in this snapshot: its case waits for a round that has it
            current = State(case.state)
            if current in ROUND_FROZEN or (current == S.EXCLUDED and case.reason in STAFF_EXCLUSIONS):
                frozen += 1
                continue
            target, why = _effective(
                decision,
                reviewed=case.pk in reviewed,
                confirmed=case.pk in confirmed_hosts,
                granted=case.pk in granted,
            )
            target = _at_checkpoint(round.checkpoint, current, target, case.pk in ended_notices)
            if target == S.APPROVED and current != S.APPROVED and unit_id in received:
                target, why = S.EXCLUDED, ALREADY_RECEIVED  # once per unit, ever (the benefit ledger)
            changes = {
                "amount_fen": decision.amount_fen,
                "decision": decision.decision,
                "reason": why,
                "key_supervision": case.key_supervision or "COMMITMENT_BREACH" in decision.routes,
            }
            head = f"round {round.number} ({round.checkpoint})"
            if target == current:
                unchanged += 1
                if case.amount_fen != decision.amount_fen or case.decision != decision.decision:
                    amended.add(case.pk)
                    moves.append(Move(case.pk, current, f"{head}: amended: {_amendment(case, decision)}",
                                      frozenset({current}), changes))  # fmt: skip
                elif case.pk not in opened:
                    confirmed.append(case.pk)  # same outcome: the case now rests on this round's evidence
                continue
            reason = f"{head}: {decision.decision}"
            if why:
                reason += f" [{why}]"
            moves.append(Move(case.pk, target, reason, frozenset({current}), changes))
        del cases, decisions
        update_rows(Case, ["last_round_id"], [(pk, round.pk) for pk in confirmed])
        moved = amendments = 0
        for start in range(0, len(moves), MOVE_BATCH):
            batch = moves[start : start + MOVE_BATCH]
            done = case_transition_many(moves=batch, actor=actor, round=round, strict=False)
            changed = sum(1 for c in done if c.pk in amended)
            amendments += changed
            moved += len(done) - changed
    return RoundApplied(
        opened=len(opened), moved=moved, unchanged=unchanged, frozen=frozen, amended=amendments
    )


# Cases opened straight into a state where someone else must act are announced like a move (from no state), so
# that they are told at once: a dispatch firm's host employers (``confirm_dispatch``).
ANNOUNCED_ON_OPENING = frozenset({S.AWAITING_CONFIRMATION})


def _announce_opened(policy: str, opened: set[int], cases: dict[str, _CaseRow], actor: str) -> None:
    ids = sorted(c.pk for c in cases.values() if c.pk in opened and c.state in ANNOUNCED_ON_OPENING)
    if ids and cases_moved.has_listeners(Case):
        rows = Case.objects.filter(policy_id=policy, pk__in=one_parameter(ids)).order_by("pk")
        cases_moved.send(sender=Case, moved=[(c, "") for c in rows], actor=actor)


def _received_elsewhere(policy_id: str) -> set[str]:
    """Units that already received the once-only benefit of the policy's family under another policy id (the
    benefit ledger); empty for a family a unit may receive again (the refund, every year)."""
    family = family_of(policy_id)
    if not family.once_per_unit:
        return set()
    return set(
        BenefitLedger.objects.filter(benefit=family.kind)
        .exclude(policy_id=policy_id)
        .values_list("unit_id", flat=True)
    )


def _amendment(case: _CaseRow, decision: _Decision) -> str:
    parts = []
    if case.amount_fen != decision.amount_fen:
        parts.append(f"amount {case.amount_fen} → {decision.amount_fen} fen")
    if case.decision != decision.decision:
        parts.append(f"decision {case.decision or '-'} → {decision.decision}")
    return ", ".join(parts)


def _policy_cases(policy_id: str) -> dict[str, _CaseRow]:
    rows = Case.objects.filter(policy_id=policy_id).values_list("unit_id", *_CaseRow._fields)
    return {unit_id: _CaseRow(*rest) for unit_id, *rest in rows.iterator(20_000)}


def _at_checkpoint(checkpoint: str, current: State, target: State, notice_ended: bool) -> State:
    if target != S.IDENTIFIED:
        if current == S.APPROVED:
            return S.EXCLUDED  # dropped out at a later comparison: never paid
        if current in {S.PUBLICISED} and target not in {S.EXCLUDED, S.UNDER_REVIEW, S.AWAITING_APPLICATION}:
            return S.EXCLUDED  # dropped out while on the notice (e.g. now awaiting confirmation): never paid
        return target
    if current == S.PUBLICISED:
        if checkpoint == Checkpoint.BEFORE_PAYMENT and notice_ended:
            return S.APPROVED
        return S.PUBLICISED
    if current == S.APPROVED:
        return S.APPROVED
    if checkpoint == Checkpoint.BEFORE_PUBLICITY:
        return S.RECHECKED  # eligible at the comparison before publicity, wherever it stood before
    if current == S.RECHECKED:
        return S.RECHECKED  # still eligible; stays ready for the notice
    return target


def _open_missing(
    round: ScreeningRound, decisions: dict[str, _Decision], cases: dict[str, _CaseRow], actor: str
) -> set[int]:
    """Open a case for every unit of the round that has none (added to ``cases``); returns their ids. The units'
    names and districts come from the round's snapshot, read whole (one query, no list of units)."""
    missing = [uid for uid in decisions if uid not in cases]
    if not missing:
        return set()
    units = {
        uid: (name, district)
        for uid, name, district in Unit.objects.filter(snapshot_id=round.snapshot_id)
        .values_list("unit_id", "name", "district")
        .iterator(20_000)
    }
    new: list[NewCase] = []
    for uid in missing:
        d = decisions[uid]
        state, why = _effective(d, reviewed=False, confirmed=False)
        name, district = units[uid]
        new.append(NewCase(policy_id=round.policy_id, unit_id=uid, credit_code=d.credit_code, unit_name=name,
                           district=district, state=state, amount_fen=d.amount_fen, decision=d.decision,
                           reason=why, key_supervision="COMMITMENT_BREACH" in d.routes))  # fmt: skip
    del units
    ids = case_open_many(cases=new, actor=actor, round=round)
    for pk, c in zip(ids, new, strict=True):
        cases[c.unit_id] = _CaseRow(pk, c.state.value, c.reason, c.amount_fen, c.decision, c.key_supervision)
    return set(ids)


# ---- public notice (公示) ------------------------------------------------------------------------------


def notice_end(start: date, days: int) -> datetime:
    """``days`` calendar days counting ``start`` as day 1, ending 24:00 Beijing time of the last day."""
    return datetime.combine(start + timedelta(days=days), time(0, 0), tzinfo=BEIJING)


def notice_open(*, policy_id: str, actor: str, start: date, days: int = 7, title: str = "") -> Notice:
    """Freeze every rechecked case of the policy into a notice and publicise it (its lines written as plain
    rows, the cases moved in batches: a notice of 450,000 units is one transaction of a few bulk writes)."""
    if days < 1:
        raise CaseError(_("公示期至少为一天"))
    with transaction.atomic():
        ready = list(
            Case.objects.select_for_update()
            .filter(policy_id=policy_id, state=S.RECHECKED)
            .order_by("pk")
            .values_list("pk", "unit_name", "credit_code", "amount_fen", "district")
        )
        if not ready:
            raise CaseError(
                _("没有已复核的案件可公示：请先进行公示前比对"),
            )
        notice = Notice.objects.create(
            policy_id=policy_id,
            title=title or f"{policy_id} {words_of(policy_id).zh}公示",
            opened_by=actor,
            starts_at=datetime.combine(start, time(0, 0), tzinfo=BEIJING),
            ends_at=notice_end(start, days),
        )
        entries = insert_rows(
            NoticeEntry,
            ("notice_id", "case_id", "unit_name", "masked_credit_code", "amount_fen", "district"),
            [(notice.pk, pk, name, mask_credit_code(code), amount, district)
             for pk, name, code, amount, district in ready],
        )  # fmt: skip
        analyze_after_load(NoticeEntry, entries)  # the publicity search is planned for the real list at once
        ids = [row[0] for row in ready]
        del ready
        for begin in range(0, len(ids), MOVE_BATCH):
            case_transition_many(
                moves=[Move(pk, S.PUBLICISED, f"notice {notice.pk}", frozenset({S.RECHECKED}))
                       for pk in ids[begin : begin + MOVE_BATCH]],
                actor=actor,
            )  # fmt: skip
        notice_opened.send(sender=Notice, notice=notice, case_ids=ids, actor=actor)
        audit_record(
            actor=actor,
            action=Action.NOTICE_OPENED,
            obj_type="notice",
            obj_id=str(notice.pk),
            after={
                "entries": len(ids),
                "starts_at": notice.starts_at.isoformat(),
                "ends_at": notice.ends_at.isoformat(),
            },
        )
    return notice


def objection_record(
    *, case_id: int, raised_by: str, contact: str, grounds: str, actor: str, now: datetime | None = None
) -> Objection:
    """Record an objection against a publicised case during its notice; the case cannot be approved until
    the objection is decided."""
    if raised_by not in {"public", "unit"}:
        raise CaseError(_("异议提出方须为公众或单位"))
    if not contact.strip() or not grounds.strip():
        raise CaseError(_("异议须留有联系方式并说明理由"))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        entry = NoticeEntry.objects.filter(case=case).select_related("notice").order_by("-notice_id").first()
        if entry is None:
            raise CaseError(_("案件 %(case)s 不在任何公示名单上"), case=case.pk)
        now = now or timezone.now()
        if not entry.notice.starts_at <= now < entry.notice.ends_at:
            ended = f"{entry.notice.ends_at.astimezone(BEIJING):%Y-%m-%d %H:%M}"
            raise CaseError(
                _("公示已于北京时间 %(ended)s 结束，不再受理异议"),
                ended=ended,
            )
        objection = Objection.objects.create(
            case=case,
            notice=entry.notice,
            raised_by=raised_by,
            contact=contact.strip(),
            grounds=grounds.strip(),
            recorded_by=actor,
        )
        audit_record(
            actor=actor,
            action=Action.OBJECTION_RECORDED,
            obj_type="objection",
            obj_id=str(objection.pk),
            after={"case": case.pk, "raised_by": raised_by},
        )
        if case.state == S.PUBLICISED:
            case_transition(
                case_id=case.pk,
                to=S.OBJECTED,
                actor=actor,
                reason=f"objection {objection.pk}",
                expect=frozenset({S.PUBLICISED}),
            )
    return objection


def objection_decide(*, objection_id: int, outcome: str, reason: str, actor: str) -> Objection:
    """Decide an objection: upheld excludes the unit; rejected or withdrawn puts it back on the notice
    (once no other objection on it is open)."""
    if outcome not in ObjectionOutcome.values:
        raise CaseError(
            _("处理结果须为以下之一：%(outcomes)s"),
            outcomes=Listing(ObjectionOutcome.values),
        )
    if not reason.strip():
        raise CaseError(_("异议处理须说明理由"))
    with transaction.atomic():
        # Lock order everywhere: case row, then its objection/review rows, then the audit chain.
        case_id = Objection.objects.values_list("case_id", flat=True).get(pk=objection_id)
        Case.objects.select_for_update().get(pk=case_id)
        objection = Objection.objects.select_for_update().get(pk=objection_id)
        if objection.outcome:
            raise CaseError(
                _("异议 %(objection)s 已处理（%(outcome)s）"),
                objection=objection.pk,
                outcome=objection.outcome,
            )
        objection.outcome = outcome
        objection.decided_by = actor
        objection.decided_at = timezone.now()
        objection.decision_reason = reason.strip()
        objection.save()
        audit_record(
            actor=actor,
            action=Action.OBJECTION_DECIDED,
            obj_type="objection",
            obj_id=str(objection.pk),
            after={"outcome": outcome},
            reason=reason,
        )
        still_open = Objection.objects.filter(case_id=objection.case_id, outcome="").exists()
        if outcome == ObjectionOutcome.UPHELD:
            case_transition(
                case_id=objection.case_id,
                to=S.EXCLUDED,
                actor=actor,
                reason=f"objection {objection.pk} upheld: {reason}",
                changes={"reason": "OBJECTION_UPHELD"},
            )
        elif not still_open:
            case_transition(
                case_id=objection.case_id,
                to=S.PUBLICISED,
                actor=actor,
                reason=f"objection {objection.pk} {outcome}",
                expect=frozenset({S.OBJECTED}),
            )
    return objection


# ---- manual review (four eyes), confirmations, applications -------------------------------------------


def review_prepare(
    *, case_id: int, recommendation: str, notes: str, actor: str, kind: str = "manual_review"
) -> Review:
    if recommendation not in {"approve", "reject"}:
        raise CaseError(_("审核意见须为同意或不同意"))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        if case.state != S.UNDER_REVIEW:
            raise CaseError(
                _("案件 %(case)s 状态为 %(state)s，不在人工审核中"),
                case=case.pk,
                state=case.state,
            )
        if Review.objects.filter(case=case, decided_by="").exists():
            raise CaseError(
                _("案件 %(case)s 已有一份等待复核人审核的审核意见"),
                case=case.pk,
            )
        review = Review.objects.create(
            case=case, kind=kind, recommendation=recommendation, prepared_by=actor, notes=notes
        )
        audit_record(
            actor=actor,
            action=Action.CASE_REVIEW_PREPARED,
            obj_type="review",
            obj_id=str(review.pk),
            after={"case": case.pk, "recommendation": recommendation},
            reason=notes,
        )
    return review


REVIEW_FOUR_EYES = FourEyes(
    model=Review,
    maker="prepared_by",
    obj_type="review",
    decided=lambda review: CaseError(_("审核 %(review)s 已由其他复核人审核"), review=review.pk),
    own=lambda review: CaseError(_("双人复核：提出审核意见的经办人不能审核自己的意见")),
)


def review_decide(*, review_id: int, approve: bool, actor: str, reason: str = "") -> Review:
    """The second officer's decision (``staff.foureyes``). The database refuses the preparer as decider too."""
    with transaction.atomic():
        case_id = Review.objects.values_list("case_id", flat=True).get(pk=review_id)
        Case.objects.select_for_update().get(pk=case_id)  # the case first: every case writer locks it first
        review = four_eyes_open(REVIEW_FOUR_EYES, review_id, actor=actor)
        outcome = "approve" if approve else "reject"
        four_eyes_close(REVIEW_FOUR_EYES, review, actor=actor, outcome=outcome, action=Action.CASE_REVIEWED,
                        after={"case": review.case_id, "outcome": outcome}, reason=reason)  # fmt: skip
        app = (
            Application.objects.filter(case_id=review.case_id, outcome="")
            .exclude(kind=ApplicationKind.WRONG_BANK_DETAILS)
            .first()
        )
        if app is not None:  # the review the application put the case under decides it
            _application_decide(app, granted=approve, actor=actor, reason=reason, review=review)
        if approve:
            case_transition(
                case_id=review.case_id,
                to=S.IDENTIFIED,
                actor=actor,
                reason=f"review {review.pk} approved",
                expect=frozenset({S.UNDER_REVIEW}),
            )
        else:
            case_transition(
                case_id=review.case_id,
                to=S.EXCLUDED,
                actor=actor,
                reason=f"review {review.pk} rejected: {reason}",
                expect=frozenset({S.UNDER_REVIEW}),
                changes={"reason": "REVIEW_REJECTED"},
            )
    return review


def confirmation_record(*, case_id: int, confirmed_on: date, evidence: str, actor: str) -> HostConfirmation:
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        if case.state != S.AWAITING_CONFIRMATION:
            raise CaseError(
                _("案件 %(case)s 状态为 %(state)s，不在待用工单位确认中"),
                case=case.pk,
                state=case.state,
            )
        conf = HostConfirmation.objects.create(
            case=case, confirmed_on=confirmed_on, evidence=evidence, recorded_by=actor
        )
        audit_record(
            actor=actor,
            action=Action.DISPATCH_CONFIRMED,
            obj_type="case",
            obj_id=str(case.pk),
            after={"confirmed_on": confirmed_on.isoformat(), "confirmation": conf.pk},
            reason=evidence,
        )
        case_transition(
            case_id=case.pk,
            to=S.IDENTIFIED,
            actor=actor,
            reason=f"host employers confirmed on {confirmed_on}",
            expect=frozenset({S.AWAITING_CONFIRMATION}),
        )
    return conf


# ---- applications (the active channel, contracts §4 /apply/) -------------------------------------------------

# which case states each kind may be submitted from (domain.md §2); a granted key-supervision application is what
# lets a commitment-breach unit through a round (``_effective``)
APPLY_FROM: dict[str, frozenset[State]] = {
    ApplicationKind.KEY_SUPERVISION: frozenset({S.AWAITING_APPLICATION}),
    ApplicationKind.COMMITMENT_FULFILLED: frozenset({S.AWAITING_APPLICATION, S.EXCLUDED}),
    ApplicationKind.TYPE_OUTSIDE_SCOPE: frozenset({S.EXCLUDED}),
    ApplicationKind.RELATED_TRANSFERS: frozenset({S.EXCLUDED}),
    ApplicationKind.TYPE_CHANGE_MISSED: frozenset({S.EXCLUDED}),
    ApplicationKind.BELIEVE_QUALIFY: frozenset({S.EXCLUDED}),
    ApplicationKind.WRONG_BANK_DETAILS: frozenset({S.AWAITING_CORRECTION}),
}
WHY_NOT = {
    ApplicationKind.KEY_SUPERVISION: _("仅适用于重点监管、须主动申请的单位（案件状态为“待申请”）"),
    ApplicationKind.COMMITMENT_FULFILLED: _("仅适用于须申请或本次不予返还的单位"),
    ApplicationKind.WRONG_BANK_DETAILS: _("仅适用于因银行账户信息有误、拨付未成功的单位"),
}
WHY_NOT_EXCLUDED = _("仅适用于本次不予返还的单位")
# a granted application of these kinds lets a unit on the commitment-breach track through a round
BREACH_GRANTS = frozenset({ApplicationKind.KEY_SUPERVISION, ApplicationKind.COMMITMENT_FULFILLED})


@dataclass(frozen=True)
class Offer:
    """One situation of the channel for a case: whether it may be chosen now and, if not, why."""

    kind: str
    label: str
    available: bool
    why_not: str


def application_offers(case: Case) -> list[Offer]:
    """Every kind, in the order of ``ApplicationKind``, with whether ``case`` may apply for it now."""
    open_one = Application.objects.filter(case=case, outcome="").exists()
    offers = []
    for kind in ApplicationKind:
        if open_one:
            why = str(_("已有一份申请正在办理，办理完毕前不能再提交"))
        elif case.state in APPLY_FROM[kind]:
            why = ""
        else:
            why = str(WHY_NOT.get(kind, WHY_NOT_EXCLUDED))
        offers.append(Offer(kind.value, str(kind.label), not why, why))
    return offers


def application_submit(
    *,
    case_id: int,
    kind: str,
    statement: str,
    evidence: dict[str, str],
    actor: str,
    reference: str = "",
    documents: tuple[StoredDocument, ...] = (),
) -> Application:
    """An application through the active channel. From ``awaiting_application`` or ``excluded`` it puts the case
    under (four-eyes) review; wrong bank details (from ``awaiting_correction``, where the payment side holds the
    case) leave the case where it is: the account given is checked against the unit's account on file in a later
    drop, and the payment is re-issued only to that account (``payments.services.closedloop``)."""
    if kind not in ApplicationKind.values:
        raise CaseError(_("未知的申请类型 %(kind)r"), kind=kind)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        if Application.objects.filter(case=case, outcome="").exists():
            raise CaseError(_("案件 %(case)s 已有一份申请正在办理"), case=case.pk)
        if case.state not in APPLY_FROM[ApplicationKind(kind)]:
            raise CaseError(
                _("案件 %(case)s 状态为 %(state)s：%(why)s"),
                case=case.pk,
                state=case.state,
                why=WHY_NOT.get(ApplicationKind(kind), WHY_NOT_EXCLUDED),
            )
        app = Application.objects.create(
            case=case,
            kind=kind,
            statement=statement,
            evidence=evidence,
            submitted_by=actor,
            reference=reference,
        )
        audit_record(
            actor=actor,
            action=Action.APPLICATION_RECEIVED,
            obj_type="application",
            obj_id=str(app.pk),
            after={"case": case.pk, "kind": kind, "reference": reference, "documents": len(documents)},
        )
        for doc in documents:
            row = ApplicationDocument.objects.create(
                application=app, name=doc.name, content_type=doc.content_type, size=doc.size,
                sha256=doc.sha256, stored_as=doc.stored_as,
            )  # fmt: skip
            audit_record(
                actor=actor,
                action=Action.APPLICATION_DOCUMENT_STORED,
                obj_type="application",
                obj_id=str(app.pk),
                after={"document": row.pk, "type": doc.content_type, "size": doc.size, "sha256": doc.sha256},
            )
        if case.state != S.AWAITING_CORRECTION:
            case_transition(
                case_id=case.pk, to=S.UNDER_REVIEW, actor=actor, reason=f"application {app.pk} ({kind})"
            )
        application_submitted.send(sender=Application, application=app, actor=actor)
    return app


def _application_decide(
    app: Application, *, granted: bool, actor: str, reason: str, review: Review | None
) -> None:
    """Close an open application (in the caller's transaction, the case locked): outcome, audit, signal."""
    app.outcome = ApplicationOutcome.GRANTED if granted else ApplicationOutcome.REFUSED
    app.decided_by, app.decided_at, app.decision_reason, app.review = actor, timezone.now(), reason, review
    app.save(update_fields=["outcome", "decided_by", "decided_at", "decision_reason", "review"])
    audit_record(
        actor=actor,
        action=Action.APPLICATION_DECIDED,
        obj_type="application",
        obj_id=str(app.pk),
        after={"case": app.case_id, "outcome": app.outcome, "review": review.pk if review else None},
        reason=reason,
    )
    application_decided.send(sender=Application, application=app, actor=actor)


def applications_settle_reissued(*, case_ids: list[int], actor: str) -> int:
    """Wrong-bank-details applications whose case the payment side re-issued (``awaiting_correction →
    released``: only ever to the account on file in a drop imported after the failure, four eyes): granted.
    Called in the transaction of the move (``receivers``)."""
    apps = list(
        Application.objects.filter(
            case_id__in=case_ids, outcome="", kind=ApplicationKind.WRONG_BANK_DETAILS
        ).order_by("pk")
    )
    for app in apps:
        _application_decide(
            app, granted=True, actor=actor, reason="re-issued to the account on file", review=None
        )
    return len(apps)


def application_document_open(
    *, document_id: int, actor: str, unit_ids: tuple[str, ...] | None = None
) -> tuple[ApplicationDocument, bytes]:
    """A stored document's bytes, audited. ``unit_ids``: the units a portal session may see (None: staff, whose
    permission the caller checked); a document of another unit is refused as if it did not exist."""
    doc = ApplicationDocument.objects.select_related("application__case").filter(pk=document_id).first()
    if doc is None or (unit_ids is not None and doc.application.case.unit_id not in unit_ids):
        raise DocumentRefused(_("文件不存在"))
    data = document_bytes(doc.stored_as, doc.sha256)
    audit_record(
        actor=actor,
        action=Action.APPLICATION_DOCUMENT_OPENED,
        obj_type="application",
        obj_id=str(doc.application_id),
        after={"document": doc.pk, "by": "unit" if unit_ids is not None else "staff"},
    )
    return doc, data


def cases_in(*, policy_id: str, states: set[State] | None = None, district: str | None = None) -> Q:
    q = Q(policy_id=policy_id)
    if states:
        q &= in_states(*states)
    if district:
        q &= Q(district=district)
    return q


__all__ = [
    "CaseError",
    "RoundApplied",
    "TransitionRefused",
    "application_document_open",
    "application_offers",
    "application_submit",
    "applications_settle_reissued",
    "case_apply_round",
    "confirmation_record",
    "mask_credit_code",
    "notice_end",
    "notice_open",
    "objection_decide",
    "objection_record",
    "review_decide",
    "review_prepare",
]
