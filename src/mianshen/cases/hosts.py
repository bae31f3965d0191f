"""Host employers confirm dispatched workers (domain.md §2: labour-dispatch and HR-service firms need the
confirmation of the actual employer, 实际用工单位).

A dispatch firm's case waits in ``awaiting_confirmation``; the firm's host employers and the workers it declares
at each are the ``dispatch_hosts`` rows of the snapshot of the round that last decided the case
(``registry.DispatchHost``). A host — a unit signed in through the portal as itself — answers once per case:

- ``confirm``: when every listed host of the case has confirmed, the case gets its confirmation through
  ``services.confirmation_record`` (actor: the portal and the last host), so it moves on to ``identified`` and the
  next round passes it;
- ``dispute`` (with the number it sees and a note): the case stays where it is, its reason now carries
  ``HOST_DISPUTED``, in front of an officer (the back office's confirmation queue and case page; an officer can
  still record a confirmation).

A unit that is not a listed host of the firm is refused (the same refusal whether or not the case exists), a
repeated answer returns the first one unchanged, and a case no longer awaiting confirmation is refused with its
own message. A host never sees the firm's amount, decision or bank data: ``HostRequest`` carries none of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.core.bulkdb import one_parameter
from mianshen.policy.parameters import policies
from mianshen.registry.models import DispatchHost
from mianshen.screening.models import ScreeningRound

from .models import Case, HostAnswer, HostAnswerKind, in_states
from .services import CaseError, confirmation_record, mask_credit_code
from .states import State
from .transitions import case_transition

S = State
DISPUTED = "HOST_DISPUTED"
MAX_WORKERS = 1_000_000
NOTE_LENGTH = 1000


def host_actor(host_credit_code: str) -> str:
    """Who a host's answer through the portal is recorded as: the portal and the host."""
    return f"用工单位 {host_credit_code} portal"


def case_hosts(case: Case) -> dict[str, int]:
    """The host employers (credit code → declared workers) of ``case``'s unit in the snapshot of the round
    that last decided it; empty when that snapshot lists none."""
    if case.last_round_id is None:
        return {}
    snapshot_id = ScreeningRound.objects.filter(pk=case.last_round_id).values_list("snapshot_id", flat=True)
    return dict(
        DispatchHost.objects.filter(snapshot_id__in=snapshot_id, unit_id=case.unit_id)
        .order_by("line")
        .values_list("host_credit_code", "workers")
    )


def hosts_of_cases(cases: Iterable[Case]) -> dict[int, dict[str, int]]:
    """``case_hosts`` of many cases (a case whose snapshot lists no host is left out), in one query per snapshot
    however many cases: the ``dispatch_hosts`` rows of each case's unit in the snapshot of the round that last
    decided it."""
    by_unit: dict[tuple[int, str], list[int]] = {}
    rounds = {c.last_round_id for c in cases if c.last_round_id is not None}
    snapshot_of = dict(ScreeningRound.objects.filter(pk__in=sorted(rounds)).values_list("pk", "snapshot_id"))
    for case in cases:
        if case.last_round_id is not None:
            by_unit.setdefault((snapshot_of[case.last_round_id], case.unit_id), []).append(case.pk)
    out: dict[int, dict[str, int]] = {}
    for snapshot_id in sorted({s for s, _u in by_unit}):
        units = sorted({u for s, u in by_unit if s == snapshot_id})
        rows = (
            DispatchHost.objects.filter(snapshot_id=snapshot_id, unit_id__in=one_parameter(units))
            .order_by("unit_id", "line")
            .values_list("unit_id", "host_credit_code", "workers")
        )
        for unit_id, code, workers in rows:
            for case_id in by_unit[(snapshot_id, unit_id)]:
                out.setdefault(case_id, {})[code] = workers
    return out


@dataclass(frozen=True)
class HostRequest:
    """What a host employer sees of one dispatch firm's case: who, the declared count, its own answer. Never
    the firm's amount, decision or bank data."""

    case_id: int
    firm_name: str
    firm_masked_credit_code: str
    host_credit_code: str
    declared_workers: int
    answer: HostAnswer | None


def host_requests(credit_codes: Iterable[str]) -> list[HostRequest]:
    """The dispatch firms' cases awaiting confirmation that list one of ``credit_codes`` as a host employer (in
    the snapshot of the round that last decided each), oldest case first, with the host's answer if given."""
    codes = sorted({c for c in credit_codes if c})
    if not codes:
        return []
    # by the queue's index (``in_states``), not a scan of every case
    waiting = Case.objects.filter(
        in_states(S.AWAITING_CONFIRMATION), policy_id__in=sorted(policies()), last_round__isnull=False
    )
    snapshots = sorted(set(waiting.values_list("last_round__snapshot_id", flat=True)))
    out: list[HostRequest] = []
    for snapshot_id in snapshots:
        declared: dict[str, list[tuple[str, int]]] = {}
        for unit_id, code, workers in DispatchHost.objects.filter(
            snapshot_id=snapshot_id, host_credit_code__in=codes
        ).values_list("unit_id", "host_credit_code", "workers"):
            declared.setdefault(unit_id, []).append((code, workers))
        if not declared:
            continue
        cases = waiting.filter(
            last_round__snapshot_id=snapshot_id, unit_id__in=one_parameter(sorted(declared))
        )
        for case in cases.order_by("pk"):
            answers = {
                a.host_credit_code: a
                for a in HostAnswer.objects.filter(case=case, host_credit_code__in=codes)
            }
            for code, workers in declared[case.unit_id]:
                out.append(
                    HostRequest(case.pk, case.unit_name, mask_credit_code(case.credit_code), code, workers,
                                answers.get(code))
                )  # fmt: skip
    out.sort(key=lambda r: (r.case_id, r.host_credit_code))
    return out


@dataclass(frozen=True)
class HostAnswered:
    answer: HostAnswer
    created: bool  # False: the host had answered before; its first answer stands, nothing was written
    case_confirmed: bool  # this answer completed the confirmation: the case moved on


def host_answer_record(
    *,
    case_id: int,
    host_credit_code: str,
    host_unit_id: str,
    answer: str,
    seen_workers: int | None,
    note: str,
    reference: str,
) -> HostAnswered:
    """Record a host employer's answer on a dispatch firm's case (see the module docstring). Raises
    ``CaseError`` for a host the firm does not list, a case no longer awaiting confirmation, or a bad answer."""
    if answer not in HostAnswerKind.values:
        raise CaseError(_("请选择确认或有异议"))
    note = note.strip()
    if answer == HostAnswerKind.DISPUTE:
        if seen_workers is None or not 0 <= seen_workers <= MAX_WORKERS:
            raise CaseError(_("有异议时请填写贵单位实际使用的派遣人数（0 到 1000000）"))
        if len(note) < 5:
            raise CaseError(_("有异议时请说明情况，至少 5 个字"))
    if len(note) > NOTE_LENGTH:
        raise CaseError(_("说明不能超过 %(max)s 个字"), max=NOTE_LENGTH)
    actor = host_actor(host_credit_code)
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        hosts = case_hosts(case) if case is not None else {}
        if case is None or host_credit_code not in hosts:
            raise CaseError(_("没有劳务派遣单位申报向贵单位派遣了人员"))
        earlier = HostAnswer.objects.filter(case=case, host_credit_code=host_credit_code).first()
        if earlier is not None:
            return HostAnswered(earlier, created=False, case_confirmed=False)
        if case.state != S.AWAITING_CONFIRMATION:
            raise CaseError(_("该劳务派遣单位的用工确认已办结，无需再确认"))
        row = HostAnswer.objects.create(
            case=case, host_credit_code=host_credit_code, host_unit_id=host_unit_id,
            declared_workers=hosts[host_credit_code], answer=answer,
            seen_workers=seen_workers if answer == HostAnswerKind.DISPUTE else None,
            note=note, reference=reference, answered_by=actor,
        )  # fmt: skip
        audit_record(
            actor=actor,
            action=(
                Action.DISPATCH_HOST_CONFIRMED
                if answer == HostAnswerKind.CONFIRM
                else Action.DISPATCH_HOST_DISPUTED
            ),
            obj_type="case",
            obj_id=str(case.pk),
            after={
                "host_answer": row.pk,
                "host_credit_code": host_credit_code,
                "answer": answer,
                "declared_workers": row.declared_workers,
                "seen_workers": row.seen_workers,
                "reference": reference,
            },
            reason=note,
        )
        if answer == HostAnswerKind.DISPUTE:
            if DISPUTED not in case.reason.split("|"):
                case_transition(
                    case_id=case.pk, to=S.AWAITING_CONFIRMATION, actor=actor,
                    reason=f"host employer {host_credit_code} disputed the dispatched workers ({reference})",
                    expect=frozenset({S.AWAITING_CONFIRMATION}),
                    changes={"reason": "|".join(filter(None, [case.reason, DISPUTED]))},
                )  # fmt: skip
            return HostAnswered(row, created=True, case_confirmed=False)
        confirmed = set(
            HostAnswer.objects.filter(case=case, answer=HostAnswerKind.CONFIRM).values_list(
                "host_credit_code", flat=True
            )
        )
        if not set(hosts) <= confirmed:
            return HostAnswered(row, created=True, case_confirmed=False)
        refs = HostAnswer.objects.filter(case=case, host_credit_code__in=list(hosts)).order_by("pk")
        confirmation_record(
            case_id=case.pk,
            confirmed_on=timezone.localdate(),
            evidence="all {} host employers confirmed through the portal: {}".format(
                len(hosts), ", ".join(f"{a.host_credit_code} {a.reference}" for a in refs)
            ),
            actor=actor,
        )
        return HostAnswered(row, created=True, case_confirmed=True)


def host_answers_of(case: Case) -> list[tuple[str, int, HostAnswer | None]]:
    """For the back office: each listed host of ``case`` (credit code, declared workers) with its answer."""
    answers = {a.host_credit_code: a for a in HostAnswer.objects.filter(case=case)}
    hosts = case_hosts(case)
    rows: list[tuple[str, int, HostAnswer | None]] = [(c, w, answers.pop(c, None)) for c, w in hosts.items()]
    rows += [(c, a.declared_workers, a) for c, a in answers.items()]  # answered under an earlier snapshot
    return rows
