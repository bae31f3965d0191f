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
exports, notifications) do not invalidate them. The worker, when it has no job, computes stale kept figures again
(:func:`dashboard_refresh`), so that the next request usually finds them ready. A caller that finds its figures
stale computes them before answering (a download, the outcome report), unless it asks for ``stale_ok``: the
back-office page then shows the kept figures at once, marked ``current: False`` with the audit ``seq`` they were
computed after and the latest one, so that the page never waits a minute for 441,300 units' figures after every
payment (bench/dashboard.py) and never passes old figures off as current.

The city's figures are computed together with every district's (:func:`compute_all`: one facts table, each
figure grouped by district as well — not one pass per district), and every scope is kept: after a business
event, the city's first request or the worker pays for one computation, and every district's request then finds
its figures ready. A district officer whose request comes first computes their district alone (a fraction of the
city's work) rather than waiting for every district.
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
from mianshen.audit.services import audit_record
from mianshen.cases.models import Case
from mianshen.notify.models import Enquiry, EnquiryChannel
from mianshen.policy.codes import PAYABLE_DECISIONS
from mianshen.registry.models import Unit
from mianshen.screening.models import RoundDecision, RoundStatus, ScreeningRound

from .models import DashboardFigures
from .selectors import (
    _ENQUIRY_DISTRICT,
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
    district_breakdowns,
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


def compute_all(policy_id: str | None = None) -> dict[str | None, dict[str, Any]]:
    """The figures of the city (key ``None``) and of every district with cases of the policy, insured units or
    enquiries (key: its code), each equal to :func:`compute`'s for that scope, from one pass over the city's
    facts (every district's figures grouped by district)."""
    with facts_tables(policy_id) as (cur, out, facts, insured):
        for breakdown in ("total", "size_class", "district"):
            out.cells.extend(_breakdown(cur, breakdown, facts, insured, None))
        days = _days_distribution(cur, facts)
        channels = _channels(cur, facts, None)
        per_district = district_breakdowns(cur, facts, insured)
        days_by = _days_by_district(cur, facts)
        channels_by = _channels_by_district(cur, facts)
    states = case_states()
    city = _assemble(out, None, days, channels, _rounds(out.policy_id, None))
    payloads: dict[str | None, dict[str, Any]] = {None: {**city, "case_states": states}}
    rounds_by = _rounds_by_district(out.policy_id)
    for district, cells in per_district.items():
        mine = Outcomes(out.policy_id, out.round_id, out.round_number, cells)
        payload = _assemble(mine, district, days_by.get(district, []), channels_by.get(district, {}),
                            rounds_by.get(district, []))  # fmt: skip
        payload["case_states"] = [row for row in states if row[0] == district]
        payloads[district] = payload
    return payloads


def case_states(district: str | None = None) -> list[list[Any]]:
    """Cases of every policy per district and state, with their money: ``[district, state, cases, fen]`` rows
    by district and state (the dashboard's "cases by state" and "cases by district"; ``district``: that
    district's only)."""
    qs = Case.objects.all() if district is None else Case.objects.filter(district=district)
    rows = (
        qs.values_list("district", "state")
        .annotate(n=Count("id"), fen=Sum("amount_fen"))
        .order_by("district", "state")
    )
    return [[d, st, int(n), int(fen or 0)] for d, st, n, fen in rows]


def _days_by_district(cur: Any, facts: str) -> dict[str, list[list[int]]]:
    """:func:`_days_distribution` of every district at once."""
    cur.execute(
        f"SELECT district, d_identified, COUNT(*) FROM {facts} WHERE paid = 1 AND d_identified IS NOT NULL "
        "GROUP BY district, d_identified ORDER BY district, d_identified"
    )
    out: dict[str, list[list[int]]] = {}
    for district, d, n in cur.fetchall():
        out.setdefault(str(district), []).append([int(d), int(n)])
    return out


def _channels_by_district(cur: Any, facts: str) -> dict[str, dict[str, int]]:
    """:func:`_channels` of every district at once (an enquiry's district as ``_enquiry_district`` reads it)."""
    cur.execute(
        f"""SELECT {_ENQUIRY_DISTRICT}, e.channel, COUNT(*) FROM {_t(Enquiry)} e
            LEFT JOIN {facts} f ON f.unit_id = e.unit_id GROUP BY 1, 2"""
    )
    out: dict[str, dict[str, int]] = {}
    for district, channel, n in cur.fetchall():
        out.setdefault(str(district), {})[str(channel)] = int(n)
    return out


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


def _rounds_by_district(policy_id: str) -> dict[str, list[list[Any]]]:
    """:func:`_rounds` of every district at once."""
    rd, rnd, unit = _t(RoundDecision), _t(ScreeningRound), _t(Unit)
    payable = f"d.decision IN {_in(PAYABLE_DECISIONS)}"
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT u.district, r.number, r.checkpoint, COUNT(*), SUM(CASE WHEN {payable} THEN 1 ELSE 0 END),
                       SUM(CASE WHEN {payable} THEN d.amount_fen ELSE 0 END)
                FROM {rd} d JOIN {rnd} r ON r.id = d.round_id
                JOIN {unit} u ON u.snapshot_id = r.snapshot_id AND u.unit_id = d.unit_id
                WHERE r.policy_id = %s AND r.status = '{RoundStatus.COMPLETED.value}'
                GROUP BY u.district, r.number, r.checkpoint ORDER BY u.district, r.number""",
            [policy_id],
        )
        found = cur.fetchall()
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for district, *row in found:
        grouped.setdefault(str(district), []).append(tuple(row))
    return {district: _round_rows(rows) for district, rows in grouped.items()}


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
    return _round_rows(found)


def _round_rows(found: list[tuple[Any, ...]]) -> list[list[Any]]:
    """``[round, checkpoint, screened, payable, payable fen, change in payable]`` from the grouped rows (in round
    order)."""
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


def dashboard(
    policy_id: str | None = None, *, district: str | None = None, stale_ok: bool = False
) -> dict[str, Any]:
    """The dashboard's figures, from ``DashboardFigures`` when nothing has changed since they were computed, else
    computed now — for the city and every district at once (:func:`compute_all`) — and kept for every scope. The
    mapping of :func:`compute` plus ``computed_at`` (ISO text), ``seconds``, ``current`` and the audit ``seq``
    they were computed after (``as_of_seq``) beside the latest business event's (``latest_seq``).

    ``stale_ok``: kept figures that a later business event has made stale are returned as they are
    (``current`` False) instead of being computed again first; figures are computed only when none are kept."""
    _enquiry_district(district)  # refuses a malformed district code before anything runs
    policy_id = policy_id or default_policy()
    mark = fingerprint()  # read before computing: the figures then include at least every event up to it
    if policy_id is not None:
        kept = DashboardFigures.objects.filter(policy_id=policy_id, district=district or "").first()
        if kept is not None and (kept.fingerprint == mark or stale_ok):
            return {**kept.payload, "computed_at": kept.computed_at.isoformat(), "seconds": kept.seconds,
                    "current": kept.fingerprint == mark, "as_of_seq": int(kept.fingerprint),
                    "latest_seq": int(mark)}  # fmt: skip
    return _computed(policy_id, mark, district)


def _computed(policy_id: str | None, mark: str, district: str | None) -> dict[str, Any]:
    """Compute and keep (:func:`_compute_and_keep`), and answer as :func:`dashboard` does for current figures."""
    payloads, seconds, now = _compute_and_keep(policy_id, mark, district)
    return {**payloads[district], "computed_at": now.isoformat(), "seconds": seconds, "current": True,
            "as_of_seq": int(mark), "latest_seq": int(mark)}  # fmt: skip


def dashboard_recompute(
    policy_id: str | None = None, *, district: str | None = None, actor: str
) -> dict[str, Any]:
    """Compute the figures of ``district`` (None: the city and every district) now and keep them, whether or not
    the kept ones are stale (the page's "compute now" when no worker runs); audited (929, not a business event:
    the figures stay current)."""
    _enquiry_district(district)
    policy_id = policy_id or default_policy()
    mark = fingerprint()
    done = _computed(policy_id, mark, district)
    audit_record(actor=actor, action=Action.DASHBOARD_RECOMPUTED, obj_type="dashboard",
                 obj_id=f"{done['policy_id']}:{district or 'city'}",
                 after={"milliseconds": int(done["seconds"] * 1000), "as_of_seq": int(mark)})  # fmt: skip
    return done


def kept_case_states(district: str | None = None) -> list[list[Any]] | None:
    """:func:`case_states` of the city (or of ``district``) from kept figures that are current, without reading
    the cases; None when no current figures of that scope are kept (the caller counts the cases itself)."""
    kept = (
        DashboardFigures.objects.filter(district=district or "", fingerprint=fingerprint())
        .order_by("-computed_at")
        .values_list("payload", flat=True)
        .first()
    )
    return None if kept is None else list(kept.get("case_states", []))


def _compute_and_keep(
    policy_id: str | None, mark: str, district: str | None = None
) -> tuple[dict[str | None, dict[str, Any]], float, Any]:
    """Compute and keep with ``mark``: for the city (``district`` None), every scope's figures at once; for a
    district, that district's alone (a district officer who comes first after a change does not wait for the
    whole city; the city's request or the worker then computes every scope)."""
    started = time.perf_counter()
    if district is None:
        payloads = compute_all(policy_id)
    else:
        payloads = {district: compute(policy_id, district=district)}
    seconds = round(time.perf_counter() - started, 3)
    now = timezone.now()
    for scope, payload in payloads.items():
        try:
            with transaction.atomic():
                DashboardFigures.objects.update_or_create(
                    policy_id=payload["policy_id"],
                    district=scope or "",
                    defaults={
                        "fingerprint": mark,
                        "payload": payload,
                        "computed_at": now,
                        "seconds": seconds,
                    },
                )
        except IntegrityError:  # another request kept the same figures first
            pass
    return payloads, seconds, now


def dashboard_refresh(limit: int = 1) -> list[tuple[str, str]]:
    """Compute again the kept figures that a business event has made stale, for up to ``limit`` policies (the one
    with the oldest stale figures first; one computation refreshes the city and every district of a policy), so
    that the next request finds them ready (the worker calls this when it has no job: ``mianshen worker``).
    Returns the stale (policy, district) scopes refreshed; a policy that no longer has cases has its figures
    dropped."""
    mark = fingerprint()
    stale = list(
        DashboardFigures.objects.exclude(fingerprint=mark)
        .order_by("computed_at", "pk")
        .values_list("policy_id", "district")
    )
    done: list[tuple[str, str]] = []
    for policy_id in list(dict.fromkeys(p for p, _d in stale))[:limit]:
        try:
            _compute_and_keep(policy_id, mark)
        except ReportRefused:
            DashboardFigures.objects.filter(policy_id=policy_id).delete()
        done.extend(sorted((p, d) for p, d in stale if p == policy_id))
    return done
