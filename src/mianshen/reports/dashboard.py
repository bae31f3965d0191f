"""The back-office dashboard's figures (issue 13 item 3): the outcome statistics of contracts §5 and a few more
built on the same per-case facts (``selectors.facts_tables``), all by SQL aggregates — no loop over cases.

The figures are a plain JSON-ready mapping (:func:`compute`): a few totals and a list of tables, each with its
columns, their kinds (``text``, ``district``, ``size``, ``channel``, ``int``, ``fen``, ``ratio``, ``days``) and
its rows, and which columns a chart draws. Computing them at Beijing's size takes tens of seconds
(bench/outcomes.py, bench/dashboard.py), so :func:`dashboard` keeps them in ``DashboardFigures``, one row per
policy and scope (the city, or one district), valid while the audit trail's last *business* event is the one
they were computed after (:func:`fingerprint`): every change to a case, round, notice, payment, correction or
enquiry writes an audit event in its own transaction, and the chain's ``seq`` is gapless and written under one
lock, so a new business event means new figures. Events that change no figure (sign-ins, views of bank data,
exports, notifications) do not invalidate them. A request that finds its figures stale computes them (never shows
stale ones); the worker, when it has no job, computes stale kept figures again (:func:`dashboard_refresh`), so
that the next request usually finds them ready.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case
from mianshen.notify.models import Enquiry, EnquiryChannel
from mianshen.policy.codes import PAYABLE_DECISIONS
from mianshen.registry.models import Unit
from mianshen.screening.models import RoundDecision, RoundStatus, ScreeningRound

from .models import DashboardFigures
from .selectors import (
    DAY_FIGURES,
    SIZE_CLASSES,
    STATS,
    Outcomes,
    ReportRefused,
    _breakdown,
    _enquiry_district,
    _in,
    _t,
    default_policy,
    facts_tables,
)

# the audit events that change no figure: staff access and exports (7xx), notifications and call-backs (8xx but
# the recorded enquiry, 803), the trail itself and administration (9xx)
_BUSINESS = Q(action__lt=700) | Q(action=Action.ENQUIRY_RECORDED)


def fingerprint() -> str:
    """The ``seq`` of the audit trail's last business event ("0" for none)."""
    last = AuditEvent.objects.filter(_BUSINESS).aggregate(m=Max("seq"))["m"]
    return str(last or 0)


def _text(value: int | Decimal | None) -> int | str | None:
    """JSON-ready: counts and fen as integers, ratios as their exact 4-decimal text."""
    if isinstance(value, Decimal):
        return str(value)
    return value


def _table(
    table_id: str, columns: list[tuple[str, str]], rows: list[list[Any]], *, chart: str, series: list[int]
) -> dict[str, Any]:
    """``columns``: (name, kind); ``chart``: ``bar`` or ``line``; ``series``: the columns drawn (the first
    column is the category)."""
    return {
        "id": table_id,
        "columns": [name for name, _kind in columns],
        "kinds": [kind for _name, kind in columns],
        "rows": rows,
        "chart": chart,
        "series": series,
    }


def compute(policy_id: str | None = None, *, district: str | None = None) -> dict[str, Any]:
    """Every figure of the dashboard for ``policy_id`` (default: the latest with cases), the city's or one
    ``district``'s."""
    with facts_tables(policy_id, district=district) as (cur, out, facts, insured):
        for breakdown in ("total", "size_class", "district"):
            out.cells.extend(_breakdown(cur, breakdown, facts, insured, district))
        days = _days_distribution(cur, facts)
        channels = _channels(cur, facts, district)
    rounds = _rounds(out.policy_id, district)
    payload = _assemble(out, district, days, channels, rounds)
    payload["case_states"] = case_states(district)
    return payload


def case_states(district: str | None = None) -> list[list[Any]]:
    """Cases of every policy per district and state, with their money: ``[district, state, cases, fen]`` rows
    (the dashboard's "cases by state" and "cases by district"; ``district``: that district's only)."""
    qs = Case.objects.all() if district is None else Case.objects.filter(district=district)
    rows = qs.values_list("district", "state").annotate(n=Count("id"), fen=Sum("amount_fen")).order_by()
    return [[d, st, int(n), int(fen or 0)] for d, st, n, fen in rows]


def _days_distribution(cur: Any, facts: str) -> list[list[int]]:
    cur.execute(
        f"SELECT d_identified, COUNT(*) FROM {facts} WHERE paid = 1 AND d_identified IS NOT NULL "
        "GROUP BY d_identified ORDER BY d_identified"
    )
    return [[int(d), int(n)] for d, n in cur.fetchall()]


def _channels(cur: Any, facts: str, district: str | None) -> dict[str, int]:
    cur.execute(
        f"""SELECT e.channel, COUNT(*) FROM {_t(Enquiry)} e LEFT JOIN {facts} f ON f.unit_id = e.unit_id
            {_enquiry_district(district)} GROUP BY e.channel"""
    )
    return {str(c): int(n) for c, n in cur.fetchall()}


def _rounds(policy_id: str, district: str | None) -> list[list[Any]]:
    """Per completed round of the policy: units screened, units payable and their money (in ``district``: of
    that district's units in the round's snapshot), and the change in payable units from the round before."""
    rd, rnd, unit = _t(RoundDecision), _t(ScreeningRound), _t(Unit)
    join, params = "", [policy_id]
    if district is not None:
        join = f"JOIN {unit} u ON u.snapshot_id = r.snapshot_id AND u.unit_id = d.unit_id AND u.district = %s"
        params = [district, policy_id]
    payable = f"d.decision IN {_in(PAYABLE_DECISIONS)}"
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT r.number, r.checkpoint, COUNT(*), SUM(CASE WHEN {payable} THEN 1 ELSE 0 END),
                       SUM(CASE WHEN {payable} THEN d.amount_fen ELSE 0 END)
                FROM {rd} d JOIN {rnd} r ON r.id = d.round_id {join}
                WHERE r.policy_id = %s AND r.status = '{RoundStatus.COMPLETED.value}'
                GROUP BY r.number, r.checkpoint ORDER BY r.number""",
            params,
        )
        found = cur.fetchall()
    rows: list[list[Any]] = []
    before: int | None = None
    for number, checkpoint, screened, payable_n, payable_fen in found:
        payable_n = int(payable_n or 0)
        rows.append(
            [
                int(number),
                str(checkpoint),
                int(screened),
                payable_n,
                int(payable_fen or 0),
                None if before is None else payable_n - before,
            ]
        )
        before = payable_n
    return rows


def _assemble(
    out: Outcomes,
    district: str | None,
    days: list[list[int]],
    channels: dict[str, int],
    rounds: list[list[Any]],
) -> dict[str, Any]:
    def v(figure: str, breakdown: str = "total", key: str = "") -> int | str | None:
        return _text(out.value(figure, breakdown, key))

    districts = out.keys("district")

    def by(
        table_id: str, breakdown: str, keys: list[str], figures: list[tuple[str, str]], series: list[int]
    ) -> dict[str, Any]:
        """A table of ``figures`` (name, kind) for each key of ``breakdown`` (``size_class`` or ``district``)."""
        key_column = ("size_class", "size") if breakdown == "size_class" else ("district", "district")
        rows = [[k, *(v(name, breakdown, k) for name, _kind in figures)] for k in keys]
        return _table(table_id, [key_column, *figures], rows, chart="bar", series=series)

    coverage = [
        ("units_insured", "int"),
        ("units_eligible", "int"),
        ("units_paid", "int"),
        ("sme_coverage", "ratio"),
    ]
    tables = [
        by("coverage_size", "size_class", list(SIZE_CLASSES), coverage, [1, 3]),
        by("coverage_district", "district", districts, coverage, [1, 3]),
        by("money_district", "district", districts, [("units_paid", "int"), ("paid_fen", "fen")], [2]),
        _table(
            "days_to_money",
            [("days_identified_to_money", "days"), ("units_paid", "int")],
            days,
            chart="bar",
            series=[1],
        ),
        _table(
            "days_statistics",
            [("figure", "figure"), *((s, "days") for s in STATS)],
            [[d, *(v(f"{d}_{s}") for s in STATS)] for d in DAY_FIGURES],
            chart="bar",
            series=[1, 2, 3],
        ),
        by(
            "payments_district",
            "district",
            districts,
            [("units_paid", "int"), ("first_try_success", "ratio"), ("recovered", "int")],
            [1, 3],
        ),
        by(
            "objections_applications",
            "district",
            districts,
            [
                ("objections", "int"),
                ("objections_upheld", "int"),
                ("applications", "int"),
                ("applications_granted", "int"),
            ],
            [1, 2, 3, 4],
        ),
        _table(
            "enquiries_channel",
            [("channel", "channel"), ("enquiries", "int")],
            [[c.value, channels.get(c.value, 0)] for c in EnquiryChannel],
            chart="bar",
            series=[1],
        ),
        _table(
            "rounds",
            [
                ("round", "int"),
                ("checkpoint", "checkpoint"),
                ("units_screened", "int"),
                ("units_payable", "int"),
                ("payable_fen", "fen"),
                ("payable_change", "int"),
            ],
            rounds,
            chart="line",
            series=[3],
        ),
    ]
    totals = [
        (figure, v(figure))
        for figure in (
            "units_insured",
            "units_eligible",
            "units_paid",
            "paid_fen",
            "sme_coverage",
            "days_identified_to_money_median",
            "first_try_success",
            "recovered",
            "untouched_share",
            "self_service_share",
        )
    ]
    return {
        "policy_id": out.policy_id,
        "round_number": out.round_number,
        "district": district,
        "totals": [[f, value] for f, value in totals],
        "tables": tables,
    }


def dashboard(policy_id: str | None = None, *, district: str | None = None) -> dict[str, Any]:
    """The dashboard's figures, from ``DashboardFigures`` when nothing has changed since they were computed, else
    computed now and kept. The mapping of :func:`compute` plus ``computed_at`` (ISO text) and ``seconds``."""
    policy_id = policy_id or default_policy()
    mark = fingerprint()  # read before computing: the figures then include at least every event up to it
    if policy_id is not None:
        kept = DashboardFigures.objects.filter(policy_id=policy_id, district=district or "").first()
        if kept is not None and kept.fingerprint == mark:
            return {**kept.payload, "computed_at": kept.computed_at.isoformat(), "seconds": kept.seconds}
    started = time.perf_counter()
    payload = compute(policy_id, district=district)
    seconds = round(time.perf_counter() - started, 3)
    now = timezone.now()
    try:
        with transaction.atomic():
            DashboardFigures.objects.update_or_create(
                policy_id=payload["policy_id"],
                district=district or "",
                defaults={"fingerprint": mark, "payload": payload, "computed_at": now, "seconds": seconds},
            )
    except IntegrityError:  # another request kept the same figures first
        pass
    return {**payload, "computed_at": now.isoformat(), "seconds": seconds}


def dashboard_refresh(limit: int = 1) -> list[tuple[str, str]]:
    """Compute again up to ``limit`` kept figures that a business event has made stale, the oldest first, so that
    the next request finds them ready (the worker calls this when it has no job: ``mianshen worker``). Returns the
    (policy, district) scopes refreshed; a scope whose policy no longer has cases is dropped."""
    mark = fingerprint()
    done: list[tuple[str, str]] = []
    for kept in DashboardFigures.objects.exclude(fingerprint=mark).order_by("computed_at")[:limit]:
        try:
            dashboard(kept.policy_id, district=kept.district or None)
        except ReportRefused:
            DashboardFigures.objects.filter(pk=kept.pk).delete()
        done.append((kept.policy_id, kept.district))
    return done
