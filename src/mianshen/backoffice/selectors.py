"""Back-office reads: dashboard counts, queues, a case's timeline, audit events and explanation, round diffs.

Every selector that returns cases or things about cases takes the user and narrows by ``roles.scope``; the
views never filter by district themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Application, Case, Objection, Review, in_states
from mianshen.cases.services import mask_credit_code
from mianshen.cases.states import State
from mianshen.core.bulkdb import one_parameter
from mianshen.core.models import Job
from mianshen.policy.families import family_of
from mianshen.policy.parameters import ParameterError, resolve
from mianshen.registry.models import Unit
from mianshen.screening.models import RoundDecision, RoundStatus, ScreeningRound
from mianshen.screening.services import round_diff

from .roles import scope, staff_of, visible_cases

# The decision columns kept outside the evidence JSON (screening.services.CONTRACT_KEYS).
DECISION_FIELDS = ("unit_id", "credit_code", "decision", "failed", "unknown", "routes", "amount_fen")


# ---- dashboard ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateCount:
    state: str
    cases: int
    amount_fen: int


def state_counts(user: Any) -> list[StateCount]:
    """Cases and their amounts per state, in the order of the state machine, for what ``user`` sees."""
    rows = {
        r["state"]: r
        for r in visible_cases(user).values("state").annotate(n=Count("id"), fen=Sum("amount_fen")).order_by()
    }
    return [
        StateCount(
            s.value, int(rows[s]["n"]) if s in rows else 0, int(rows[s]["fen"] or 0) if s in rows else 0
        )
        for s in State
    ]


def district_counts(user: Any) -> list[tuple[str, list[int]]]:
    """Per district, the number of cases in each state (in ``State`` order); city-level staff only."""
    staff = staff_of(user)
    if staff is None or not staff.city_level:
        return []
    table: dict[str, dict[str, int]] = {}
    for r in Case.objects.values("district", "state").annotate(n=Count("id")).order_by():
        table.setdefault(r["district"], {})[r["state"]] = int(r["n"])
    return [(d, [table[d].get(s.value, 0) for s in State]) for d in sorted(table)]


def latest_rounds(limit: int = 5) -> list[ScreeningRound]:
    return list(ScreeningRound.objects.order_by("-id")[:limit])


# ---- queues ------------------------------------------------------------------------------------------

STATE_VALUES = frozenset(s.value for s in State)


@dataclass(frozen=True)
class QueueFilter:
    district: str = ""
    state: str = ""
    stage: str = ""
    q: str = ""


def _case_filters(qs: QuerySet[Any], f: QueueFilter, prefix: str = "") -> QuerySet[Any]:
    if f.district:
        qs = qs.filter(**{f"{prefix}district": f.district})
    if f.state in STATE_VALUES:  # a queue state by its index (cases.models.in_states)
        qs = qs.filter(in_states(f.state, prefix=prefix))
    elif f.state:
        qs = qs.filter(**{f"{prefix}state": f.state})
    if f.q:
        text = f.q.strip()
        qs = qs.filter(
            Q(**{f"{prefix}unit_name__icontains": text}) | Q(**{f"{prefix}unit_id__icontains": text})
        )
    return qs


def review_queue(user: Any, f: QueueFilter) -> QuerySet[Case]:
    """Cases under manual review; ``stage`` ``prepare`` (no open review) or ``decide`` (awaiting the checker)."""
    open_review = Review.objects.filter(case=OuterRef("pk"), decided_by="")
    qs = (
        visible_cases(user)
        .filter(in_states(State.UNDER_REVIEW))
        .annotate(has_open_review=Exists(open_review))
    )
    if f.stage == "prepare":
        qs = qs.filter(has_open_review=False)
    elif f.stage == "decide":
        qs = qs.filter(has_open_review=True)
    return _case_filters(qs, QueueFilter(district=f.district, q=f.q)).order_by("updated_at", "pk")


def confirmation_queue(user: Any, f: QueueFilter) -> QuerySet[Case]:
    qs = visible_cases(user).filter(in_states(State.AWAITING_CONFIRMATION))
    return _case_filters(qs, QueueFilter(district=f.district, q=f.q)).order_by("updated_at", "pk")


def objection_queue(user: Any, f: QueueFilter) -> QuerySet[Objection]:
    """Objections not yet decided; ``state`` filters on their case's state."""
    qs = scope(Objection.objects.filter(outcome=""), user, district_field="case__district")
    return _case_filters(qs.select_related("case", "notice"), f, prefix="case__").order_by(
        "recorded_at", "pk"
    )


def application_queue(user: Any, f: QueueFilter) -> QuerySet[Application]:
    """Applications; ``state`` filters on their case's state (``under_review``: still to be decided)."""
    qs = scope(Application.objects.all(), user, district_field="case__district").select_related("case")
    return _case_filters(qs, f, prefix="case__").order_by("-submitted_at", "-pk")


def supervision_list(user: Any, f: QueueFilter) -> QuerySet[Case]:
    """Units under key supervision (重点监管: the case study's oversight measure 2), whatever their state."""
    return _case_filters(visible_cases(user).filter(key_supervision=True), f).order_by("district", "pk")


def case_search(user: Any, f: QueueFilter) -> QuerySet[Case]:
    return _case_filters(visible_cases(user), f).order_by("pk")


# ---- one case ----------------------------------------------------------------------------------------


def case_audit_events(case: Case) -> QuerySet[AuditEvent]:
    """Every audit event about the case and about its objections, reviews, applications and confirmations."""
    related = Q(object_type="case", object_id=str(case.pk))
    for obj_type, ids in (
        ("objection", case.objections.values_list("pk", flat=True)),
        ("review", case.reviews.values_list("pk", flat=True)),
        ("application", case.applications.values_list("pk", flat=True)),
    ):
        keys = [str(pk) for pk in ids]
        if keys:
            related |= Q(object_type=obj_type, object_id__in=keys)
    return AuditEvent.objects.filter(related).order_by("seq")


@dataclass(frozen=True)
class Explanation:
    round: ScreeningRound
    lang: str
    text: str
    params_changed: bool  # the parameter files no longer hash to what the round used


def evidence_row(decision: RoundDecision) -> dict[str, Any]:
    """One stored decision as the row ``explain.render`` takes: the evidence values (parsed JSON) plus the
    decision columns stored beside them."""
    evidence: Any = decision.evidence
    if isinstance(evidence, str | bytes):  # a JSON text stored as a JSON string: parse it once more
        import json

        evidence = json.loads(evidence)
    if not isinstance(evidence, Mapping):
        raise ValueError(f"round decision {decision.pk}: evidence is not a JSON object")
    row = dict(evidence)
    row.update({name: getattr(decision, name) for name in DECISION_FIELDS})
    return row


def case_explanation(case: Case, lang: str) -> Explanation | None:
    """The explanation of the case's decision in its last round, rendered from the evidence stored with that
    round, with the round's policy and as-of date; None when the case has no round decision."""
    rnd = case.last_round
    if rnd is None:
        return None
    decision = RoundDecision.objects.filter(round=rnd, unit_id=case.unit_id).first()
    if decision is None:
        return None
    try:
        params = resolve(rnd.policy_id, rnd.as_of)
    except ParameterError:
        return None
    # the credit code masked as in the page's header and on public notices (issue 13 item 7: it was whole here)
    text = (
        family_of(params)
        .render(evidence_row(decision), params, lang)
        .replace(decision.credit_code, mask_credit_code(decision.credit_code))
    )
    return Explanation(
        rnd, lang, text, params_changed=bool(rnd.param_hash) and params.param_hash != rnd.param_hash
    )


# ---- rounds ------------------------------------------------------------------------------------------


def round_job(rnd: ScreeningRound) -> Job | None:
    return Job.objects.filter(key=f"round:{rnd.pk}").first()


def round_previous(rnd: ScreeningRound) -> ScreeningRound | None:
    """The policy's latest completed round before ``rnd``."""
    return (
        ScreeningRound.objects.filter(
            policy_id=rnd.policy_id, number__lt=rnd.number, status=RoundStatus.COMPLETED
        )
        .order_by("-number")
        .first()
    )


@dataclass(frozen=True)
class CountRow:
    key: str
    now: int
    before: int | None

    @property
    def delta(self) -> int | None:
        return None if self.before is None else self.now - self.before


def compare_counts(now: Mapping[str, int], before: Mapping[str, int] | None) -> list[CountRow]:
    keys = sorted(set(now) | set(before or {}))
    return [CountRow(k, int(now.get(k, 0)), None if before is None else int(before.get(k, 0))) for k in keys]


@dataclass(frozen=True)
class ChangedUnit:
    unit_id: str
    district: str
    decision_before: str
    decision_after: str
    amount_before: int | None
    amount_after: int | None
    codes_before: str
    codes_after: str


def round_changes(
    user: Any, *, before: ScreeningRound, after: ScreeningRound
) -> tuple[dict[str, int], list[ChangedUnit]]:
    """The diff of two rounds: counts per transition, and the units that changed, limited to the user's
    district for district staff (the counts then are the district's too)."""
    diff = round_diff(before=before, after=after)
    changed = diff.changed
    districts = dict(
        Unit.objects.filter(
            snapshot_id__in={before.snapshot_id, after.snapshot_id},
            unit_id__in=one_parameter(changed["unit_id"].to_list()),  # however many units changed
        )
        .order_by("snapshot_id")
        .values_list("unit_id", "district")
    )
    staff = staff_of(user)
    if staff is None:
        return {}, []
    if not staff.city_level:
        changed = changed.filter(
            pl.col("unit_id").is_in([u for u, d in districts.items() if d == staff.district])
        )
    units = [
        ChangedUnit(
            unit_id=r["unit_id"],
            district=districts.get(r["unit_id"], ""),
            decision_before=r["decision"] or "",
            decision_after=r["decision_after"] or "",
            amount_before=r["amount_fen"],
            amount_after=r["amount_fen_after"],
            codes_before=_codes(r, ""),
            codes_after=_codes(r, "_after"),
        )
        for r in changed.iter_rows(named=True)
    ]
    counts: dict[str, int] = {}
    for u in units:
        key = f"{u.decision_before or '(absent)'}→{u.decision_after or '(absent)'}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items())), units


def _codes(row: Mapping[str, Any], suffix: str) -> str:
    parts = [row.get(f"{c}{suffix}") or "" for c in ("failed", "unknown", "routes")]
    return "|".join(p for p in parts if p)
