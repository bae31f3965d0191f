"""The outcome statistics of contracts §5, computed by the database.

Two passes of SQL, no loop over cases in Python:

1. one row per case of the policy is written to a temporary table (``facts``): its district and size class, whether
   it is eligible and paid, its money, its days from identification, notice and approval to the settlement date,
   whether it was paid on the first try or recovered, whether a member of staff acted on it, and its objections
   and applications; one row per insured unit of the latest round's snapshot to another (``insured``);
2. each figure is a ``GROUP BY`` over those tables, once for the total, once by size class and once by district;
   medians and p90 are nearest-rank, chosen with window functions (``ROW_NUMBER`` against ``COUNT``).

Every statement carries a fixed, small number of parameters (the policy id), whatever the number of units.
Ratios are integer arithmetic rounded half-up to 4 decimals (:func:`ratio`); money is integer fen; dates are
calendar days in the configured time zone (Asia/Shanghai).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from mianshen.cases.models import (
    Application,
    Case,
    CaseHistory,
    HostConfirmation,
    Notice,
    NoticeEntry,
    Objection,
    Review,
)
from mianshen.core.errors import Listing, Refusal
from mianshen.notify.models import Enquiry, EnquiryChannel
from mianshen.payments.models import Correction, Instruction, Payment
from mianshen.policy.codes import ELIGIBLE, PAYABLE_DECISIONS
from mianshen.policy.parameters import policies
from mianshen.registry.models import Unit
from mianshen.screening.models import RoundDecision, RoundStatus, ScreeningRound

SIZE_CLASSES: tuple[str, ...] = ("micro", "small", "medium", "large", "unknown")
SME: tuple[str, ...] = ("micro", "small", "medium")
BREAKDOWNS: tuple[str, ...] = ("total", "size_class", "district")
DAY_FIGURES: tuple[str, ...] = (
    "days_identified_to_money",
    "days_publicity_to_money",
    "days_approval_to_money",
)
STATS: tuple[str, ...] = ("median", "p90", "max")
GRANTED: tuple[str, ...] = ("granted", "approved", "approve")  # an application's outcome that grants it

# The figures in the order they are printed; a days figure gives one row per statistic.
FIGURES: tuple[str, ...] = (
    "units_insured",
    "units_eligible",
    "units_paid",
    "paid_fen",
    "sme_coverage",
    *(f"{d}_{s}" for d in DAY_FIGURES for s in STATS),
    "first_try_success",
    "recovered",
    "objections",
    "objections_upheld",
    "applications",
    "applications_granted",
    "untouched_share",
    "self_service_share",
)
RATIOS: frozenset[str] = frozenset(
    {"sme_coverage", "first_try_success", "untouched_share", "self_service_share"}
)

LABELS: dict[str, str] = {
    "units_insured": "参保单位 / units insured",
    "units_eligible": "符合条件 / units eligible",
    "units_paid": "已拨付单位 / units paid",
    "paid_fen": "拨付金额 / money paid",
    "sme_coverage": "中小微企业受益率 / SME coverage",
    "first_try_success": "首次拨付成功率 / first-try success",
    "recovered": "失败后补发成功 / recovered",
    "objections": "异议 / objections",
    "objections_upheld": "异议成立 / objections upheld",
    "applications": "主动申请 / applications",
    "applications_granted": "申请获准 / applications granted",
    "untouched_share": "全程无人工干预占比 / untouched share",
    "self_service_share": "自助办理占比 / self-service share",
}
_DAY_LABELS = {
    "days_identified_to_money": "识别至到账天数 / days identified → money",
    "days_publicity_to_money": "公示至到账天数 / days publicity → money",
    "days_approval_to_money": "核准至到账天数 / days approval → money",
}
_STAT_LABELS = {"median": "中位数 median", "p90": "p90", "max": "最大 max"}
for _d, _text in _DAY_LABELS.items():
    for _s, _stat in _STAT_LABELS.items():
        LABELS[f"{_d}_{_s}"] = f"{_text} ({_stat})"


class ReportRefused(Refusal):
    """No report can be made: an unknown policy, or a policy without cases."""


@dataclass(frozen=True)
class Cell:
    """One figure for one breakdown key. ``units``: how many units the value counts (its denominator for a
    ratio; ``None`` when not available), the basis of the small-cell rule."""

    figure: str
    breakdown: str
    key: str
    value: int | Decimal | None
    units: int | None


@dataclass
class Outcomes:
    policy_id: str
    round_id: int | None
    round_number: int | None
    cells: list[Cell] = field(default_factory=list)

    def value(self, figure: str, breakdown: str = "total", key: str = "") -> int | Decimal | None:
        for c in self.cells:
            if (c.figure, c.breakdown, c.key) == (figure, breakdown, key):
                return c.value
        raise KeyError((figure, breakdown, key))

    def keys(self, breakdown: str) -> list[str]:
        seen: dict[str, None] = {}
        for c in self.cells:
            if c.breakdown == breakdown:
                seen.setdefault(c.key, None)
        return list(seen)


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """``numerator / denominator`` as a decimal with 4 places, rounded half-up by integer arithmetic (no float);
    ``None`` when the denominator is 0."""
    if denominator <= 0:
        return None
    if numerator < 0:
        raise ValueError("ratios of counts are not negative")
    q = (numerator * 20000 + denominator) // (2 * denominator)
    return Decimal(q).scaleb(-4).quantize(Decimal("0.0001"))


def nearest_rank(n: int, percent: int) -> int:
    """The 1-based nearest rank of the ``percent``-th percentile of ``n`` sorted values: ceil(percent·n/100)."""
    return max(1, (percent * n + 99) // 100)


def default_policy() -> str | None:
    """The policy of the most recently opened case (contracts §5: "the latest with cases")."""
    return Case.objects.order_by("-id").values_list("policy_id", flat=True).first()


# --- SQL --------------------------------------------------------------------------------------------------------


def _t(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]


def _offset_hours() -> int:
    """The configured zone's offset from UTC in whole hours (Asia/Shanghai: +8, no daylight saving)."""
    offset = datetime.now(ZoneInfo(settings.TIME_ZONE)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds()) // 3600


def _local_date(column: str) -> str:
    """The calendar date of a stored timestamp in the configured time zone."""
    if connection.vendor == "postgresql":
        return f"CAST(({column} AT TIME ZONE '{settings.TIME_ZONE}') AS date)"
    return f"date({column}, '{_offset_hours():+d} hours')"  # SQLite stores UTC text


def _days(later_date: str, earlier_date: str) -> str:
    """Whole calendar days from one date expression to another."""
    if connection.vendor == "postgresql":
        return f"({later_date} - {earlier_date})"
    return f"CAST(julianday({later_date}) - julianday({earlier_date}) AS INTEGER)"


def _json_text(column: str, key: str) -> str:
    if connection.vendor == "postgresql":
        return f"({column} ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


def _in(values: tuple[str, ...]) -> str:
    """An IN list of fixed codes (constants of the code, never user input): no parameters."""
    for v in values:
        assert v.replace("_", "").isalnum(), v
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# A case on a manual track (manual review, key supervision, a dispatch firm) that staff let through — a review or
# a granted application approved by four eyes, the host employers' confirmation — keeps its round decision
# (``manual_review``, ``pending_confirmation``) but is eligible on its track: it moves on from ``identified``.
THROUGH_ITS_TRACK = ("identified", "rechecked", "publicised", "objected", "approved", "released", "paid",
                     "awaiting_correction", "payment_cancelled")  # fmt: skip


def _eligible(c: str) -> str:
    """SQL: the case ``c`` is eligible, on any track (contracts §5 ``units_eligible``)."""
    manual = ("manual_review", "pending_confirmation")
    return (f"({c}.decision = '{ELIGIBLE}' OR ({c}.decision IN {_in(manual)} "
            f"AND {c}.state IN {_in(THROUGH_ITS_TRACK)}))")  # fmt: skip


def _size_class(column: str) -> str:
    return f"CASE WHEN {column} IN {_in(SIZE_CLASSES[:-1])} THEN {column} ELSE 'unknown' END"


def _facts_sql(facts: str, *, district: bool = False) -> str:
    """The per-case facts; ``district``: only the cases of one district (one more parameter, the last)."""
    policy_param = "%s"  # the one parameter, repeated where the policy is named
    rd, rnd, case, unit = _t(RoundDecision), _t(ScreeningRound), _t(Case), _t(Unit)
    pay, ins = _t(Payment), _t(Instruction)
    sc = _json_text("d.evidence", "size_class")
    first_found = f"""
        SELECT fd.unit_id, MIN(fr.started_at) AS at FROM {rd} fd JOIN {rnd} fr ON fr.id = fd.round_id
        WHERE fr.policy_id = {policy_param} AND fr.status = '{RoundStatus.COMPLETED.value}'
          AND fd.decision IN {_in(PAYABLE_DECISIONS)}
        GROUP BY fd.unit_id"""
    noticed = f"""
        SELECT ne.case_id, MAX(n.starts_at) AS at FROM {_t(NoticeEntry)} ne JOIN {_t(Notice)} n ON n.id = ne.notice_id
        WHERE n.policy_id = {policy_param} GROUP BY ne.case_id"""
    approved = f"""
        SELECT h.case_id, MAX(h.at) AS at FROM {_t(CaseHistory)} h JOIN {case} hc ON hc.id = h.case_id
        WHERE hc.policy_id = {policy_param} AND h.to_state = 'approved' GROUP BY h.case_id"""
    objections = f"""
        SELECT o.case_id, COUNT(*) AS n, SUM(CASE WHEN o.outcome = 'upheld' THEN 1 ELSE 0 END) AS upheld,
               SUM(CASE WHEN o.outcome IN ('upheld', 'rejected') THEN 1 ELSE 0 END) AS decided
        FROM {_t(Objection)} o JOIN {case} oc ON oc.id = o.case_id WHERE oc.policy_id = {policy_param}
        GROUP BY o.case_id"""
    applications = f"""
        SELECT a.case_id, COUNT(*) AS n, SUM(CASE WHEN a.outcome IN {_in(GRANTED)} THEN 1 ELSE 0 END) AS granted,
               SUM(CASE WHEN a.outcome <> '' THEN 1 ELSE 0 END) AS decided
        FROM {_t(Application)} a JOIN {case} ac ON ac.id = a.case_id WHERE ac.policy_id = {policy_param}
        GROUP BY a.case_id"""
    settled = "i.status = 'settled' AND p.cancelled_at IS NULL"
    # grouped sub-selects joined by hash (no probe per case): who acted on which case, which payment failed
    acted = f"""
        SELECT rv.case_id FROM {_t(Review)} rv
        UNION SELECT hc2.case_id FROM {_t(HostConfirmation)} hc2
        UNION SELECT cp.case_id FROM {_t(Correction)} co JOIN {pay} cp ON cp.id = co.payment_id"""
    touched = "(ac2.case_id IS NOT NULL OR COALESCE(ob.decided, 0) > 0 OR COALESCE(ap.decided, 0) > 0)"
    # a paid case's current instruction is settled, so any failed instruction of its payment came before it
    failed = f"""
        SELECT DISTINCT j.payment_id FROM {ins} j WHERE j.status IN ('rejected', 'returned')"""
    return f"""
        CREATE TEMPORARY TABLE {facts} AS
        SELECT CAST('' AS varchar(1)) AS everything, c.id AS case_id, c.unit_id AS unit_id, c.district AS district,
               {_size_class(sc)} AS size_class,
               CASE WHEN u.unit_type = 'enterprise' AND {sc} IN {_in(SME)} THEN 1 ELSE 0 END AS sme_ent,
               CASE WHEN {_eligible("c")} THEN 1 ELSE 0 END AS eligible,
               CASE WHEN {settled} THEN 1 ELSE 0 END AS paid,
               CASE WHEN {settled} THEN i.amount_fen ELSE 0 END AS paid_fen,
               CASE WHEN {settled} AND i.attempt = 1 THEN 1 ELSE 0 END AS first_try,
               CASE WHEN {settled} AND fb.payment_id IS NOT NULL THEN 1 ELSE 0 END AS recovered,
               CASE WHEN {settled} AND NOT {touched} THEN 1 ELSE 0 END AS untouched,
               CASE WHEN {settled} THEN {_days("i.booked_on", _local_date("ff.at"))} END AS d_identified,
               CASE WHEN {settled} THEN {_days("i.booked_on", _local_date("nt.at"))} END AS d_publicity,
               CASE WHEN {settled} THEN {_days("i.booked_on", _local_date("apv.at"))} END AS d_approval,
               COALESCE(ob.n, 0) AS objections, COALESCE(ob.upheld, 0) AS objections_upheld,
               COALESCE(ap.n, 0) AS applications, COALESCE(ap.granted, 0) AS applications_granted
        FROM {case} c
        LEFT JOIN {rnd} lr ON lr.id = c.last_round_id
        LEFT JOIN {rd} d ON d.round_id = c.last_round_id AND d.unit_id = c.unit_id
        LEFT JOIN {unit} u ON u.snapshot_id = lr.snapshot_id AND u.unit_id = c.unit_id
        LEFT JOIN {pay} p ON p.case_id = c.id
        LEFT JOIN {ins} i ON i.id = p.current_id
        LEFT JOIN ({first_found}) ff ON ff.unit_id = c.unit_id
        LEFT JOIN ({noticed}) nt ON nt.case_id = c.id
        LEFT JOIN ({approved}) apv ON apv.case_id = c.id
        LEFT JOIN ({objections}) ob ON ob.case_id = c.id
        LEFT JOIN ({applications}) ap ON ap.case_id = c.id
        LEFT JOIN ({acted}) ac2 ON ac2.case_id = c.id
        LEFT JOIN ({failed}) fb ON fb.payment_id = p.id
        WHERE c.policy_id = {policy_param}{" AND c.district = %s" if district else ""}"""


def _insured_sql(insured: str, *, district: bool = False) -> str:
    unit, rd = _t(Unit), _t(RoundDecision)
    sc = _json_text("d.evidence", "size_class")
    return f"""
        CREATE TEMPORARY TABLE {insured} AS
        SELECT CAST('' AS varchar(1)) AS everything, u.district AS district, {_size_class(sc)} AS size_class,
               CASE WHEN u.unit_type = 'enterprise' AND {sc} IN {_in(SME)} THEN 1 ELSE 0 END AS sme_ent
        FROM {unit} u LEFT JOIN {rd} d ON d.round_id = %s AND d.unit_id = u.unit_id
        WHERE u.snapshot_id = %s{" AND u.district = %s" if district else ""}"""


@contextmanager
def _temporary(cursor: object, names: list[str]) -> Iterator[None]:
    """Drop the temporary tables when done (on an error the transaction's rollback removes them: both databases
    roll back DDL)."""
    yield
    for name in names:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")  # type: ignore[attr-defined]


def _key(breakdown: str) -> str:
    return {"total": "everything", "size_class": "size_class", "district": "district"}[breakdown]


def outcomes(policy_id: str | None = None, *, district: str | None = None) -> Outcomes:
    """Every figure of contracts §5 for ``policy_id`` (default: the latest policy with cases): total, by size
    class and by district. ``district``: the figures of that district's cases, insured units and enquiries only
    (a district officer's view; the total is the district's). Raises :class:`ReportRefused` for an unknown
    policy or one without cases."""
    with facts_tables(policy_id, district=district) as (cur, out, facts, insured):
        for breakdown in BREAKDOWNS:
            out.cells.extend(_breakdown(cur, breakdown, facts, insured, district))
    return out


@contextmanager
def facts_tables(
    policy_id: str | None, *, district: str | None = None
) -> Iterator[tuple[Any, Outcomes, str, str]]:
    """Inside one transaction: the temporary tables of per-case facts and insured units of ``policy_id``
    (optionally of one ``district``), as ``(cursor, empty Outcomes, facts table, insured table)``; dropped after.
    Other figures built on the same facts (the back-office dashboard: ``reports.dashboard``) query them here."""
    _enquiry_district(district)  # refuses a malformed district code before anything runs
    if policy_id is None:
        policy_id = default_policy()
        if policy_id is None:
            raise ReportRefused(_("尚无案件：请先运行比对"))
    elif policy_id not in policies():
        raise ReportRefused(
            _("未知政策 %(policy)s（已知：%(known)s）"),
            policy=repr(policy_id),
            known=Listing(sorted(policies())),
        )
    if not Case.objects.filter(policy_id=policy_id).exists():
        raise ReportRefused(_("政策 %(policy)s 尚无案件"), policy=policy_id)
    latest = (
        ScreeningRound.objects.filter(policy_id=policy_id, status=RoundStatus.COMPLETED)
        .order_by("-number")
        .first()
    )
    out = Outcomes(policy_id, latest.pk if latest else None, latest.number if latest else None)
    tag = uuid.uuid4().hex[:12]
    facts, insured = f"reports_facts_{tag}", f"reports_insured_{tag}"
    scoped = district is not None
    with transaction.atomic(), connection.cursor() as cur, _temporary(cur, [facts, insured]):
        if connection.vendor == "postgresql":
            # one-off statements over every case: compiling them (JIT) cost more than it saved (bench/outcomes.py)
            cur.execute("SET LOCAL jit = off")
        sql = _facts_sql(facts, district=scoped)
        cur.execute(sql, [policy_id] * (sql.count("%s") - scoped) + ([district] if scoped else []))
        if latest is not None:
            cur.execute(
                _insured_sql(insured, district=scoped),
                [latest.pk, latest.snapshot_id] + ([district] if scoped else []),
            )
        else:
            cur.execute(
                f"CREATE TEMPORARY TABLE {insured} (everything varchar(1), district varchar(6), "
                "size_class varchar(8), sme_ent int)"
            )
        yield cur, out, facts, insured


def _fetch(cur: object, sql: str, width: int = 1) -> dict[Any, tuple[int | None, ...]]:
    """Rows keyed by their first column (as text), or by their first ``width`` columns (a tuple of texts)."""
    cur.execute(sql)  # type: ignore[attr-defined]
    rows = cur.fetchall()  # type: ignore[attr-defined]
    if width == 1:
        return {str(row[0]): tuple(row[1:]) for row in rows}
    return {tuple(str(v) for v in row[:width]): tuple(row[width:]) for row in rows}


@dataclass(frozen=True)
class _Figures:
    """The grouped sums behind one breakdown's cells, keyed by the group (a text, or a tuple of texts)."""

    ins: dict[Any, tuple[int | None, ...]]
    fx: dict[Any, tuple[int | None, ...]]
    days: dict[str, dict[Any, tuple[int | None, ...]]]
    asked: dict[Any, tuple[int | None, ...]]


def _figures(
    cur: object, group: list[str], facts: str, insured: str, enquiry_group: list[str], where: str
) -> _Figures:
    """The sums of every figure grouped by the columns ``group`` of the facts and insured tables, and the
    enquiries grouped by the expressions ``enquiry_group`` (over ``e`` and ``f``) kept by ``where``."""
    g, width = ", ".join(group), len(group)
    ins = _fetch(cur, f"SELECT {g}, COUNT(*), SUM(sme_ent) FROM {insured} GROUP BY {g}", width)
    fx = _fetch(
        cur,
        f"""SELECT {g}, SUM(eligible), SUM(paid), SUM(paid_fen), SUM(paid * sme_ent), SUM(first_try),
                   SUM(recovered), SUM(untouched), SUM(objections), SUM(objections_upheld), SUM(applications),
                   SUM(applications_granted),
                   SUM(CASE WHEN objections > 0 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN objections_upheld > 0 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN applications > 0 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN applications_granted > 0 THEN 1 ELSE 0 END)
            FROM {facts} GROUP BY {g}""",
        width,
    )
    days: dict[str, dict[Any, tuple[int | None, ...]]] = {}
    outer = ", ".join(f"g{i}" for i in range(width))
    inner = ", ".join(f"{c} AS g{i}" for i, c in enumerate(group))
    for name, column in zip(DAY_FIGURES, ("d_identified", "d_publicity", "d_approval"), strict=True):
        days[name] = _fetch(
            cur,
            f"""SELECT {outer}, COUNT(*),
                       MAX(CASE WHEN rn = (n + 1) / 2 THEN v END),
                       MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN v END),
                       MAX(v)
                FROM (SELECT {inner}, {column} AS v,
                             ROW_NUMBER() OVER (PARTITION BY {g} ORDER BY {column}) AS rn,
                             COUNT(*) OVER (PARTITION BY {g}) AS n
                      FROM {facts} WHERE paid = 1 AND {column} IS NOT NULL) ranked
                GROUP BY {outer}""",
            width,
        )
    eg = ", ".join(enquiry_group)
    asked = _fetch(
        cur,
        f"""SELECT {eg}, SUM(CASE WHEN e.channel = '{EnquiryChannel.LOOKUP.value}' THEN 1 ELSE 0 END), COUNT(*)
            FROM {Enquiry._meta.db_table} e LEFT JOIN {facts} f ON f.unit_id = e.unit_id
            {where} GROUP BY {", ".join(str(i + 1) for i in range(len(enquiry_group)))}""",
        width,
    )
    return _Figures(ins, fx, days, asked)


# an enquiry's district: the one it names, else its unit's case's
_ENQUIRY_DISTRICT = "COALESCE(NULLIF(e.district, ''), f.district, '')"


def _breakdown(cur: object, breakdown: str, facts: str, insured: str, district: str | None) -> list[Cell]:
    k = _key(breakdown)
    got = _figures(cur, [k], facts, insured, [_enquiry_group(breakdown)], _enquiry_district(district))
    if breakdown == "total":
        keys = [""]
    elif breakdown == "size_class":
        keys = list(SIZE_CLASSES)
    else:
        keys = sorted(set(got.ins) | set(got.fx) | (set(got.asked) - {""}))
    return _cells(breakdown, keys, got, lambda key: key)


def district_breakdowns(cur: object, facts: str, insured: str) -> dict[str, list[Cell]]:
    """For every district in the city's facts, insured units or enquiries: the cells :func:`_breakdown` gives
    for its three breakdowns when the tables hold that district only (a district officer's figures), from the
    city's tables in one pass (``GROUP BY district``, not one pass per district). An enquiry counts in the
    district it resolves to; its size class is its unit's case's only when that case is in the same district
    (a district's facts table holds no other)."""
    by_d = _figures(cur, ["district"], facts, insured, [_ENQUIRY_DISTRICT], "")
    size_in = f"CASE WHEN f.district = {_ENQUIRY_DISTRICT} THEN f.size_class ELSE 'unknown' END"
    by_ds = _figures(cur, ["district", "size_class"], facts, insured, [_ENQUIRY_DISTRICT, size_in], "")
    districts = sorted(set(by_d.ins) | set(by_d.fx) | (set(by_d.asked) - {""}))
    out: dict[str, list[Cell]] = {}
    for d in districts:

        def whole(_key: str, d: str = d) -> str:
            return d

        def by_size(key: str, d: str = d) -> tuple[str, str]:
            return (d, key)

        cells = _cells("total", [""], by_d, whole)
        cells += _cells("size_class", list(SIZE_CLASSES), by_ds, by_size)
        cells += _cells("district", [d], by_d, lambda key: key)
        out[d] = cells
    return out


def _cells(breakdown: str, keys: list[str], got: _Figures, group_of: Callable[[str], Any]) -> list[Cell]:
    """The cells of ``breakdown`` for each key, from the grouped sums (``group_of``: a key's group in them)."""
    cells: list[Cell] = []
    for key in keys:
        group = group_of(key)
        insured_n, insured_sme = (int(v or 0) for v in got.ins.get(group, (0, 0)))
        f = [int(v or 0) for v in got.fx.get(group, (0,) * 15)]
        (eligible, paid, paid_fen, paid_sme, first_try, recovered, untouched, objections, upheld,
         applications, granted, obj_units, upheld_units, app_units, granted_units) = f  # fmt: skip

        def add(figure: str, value: int | Decimal | None, units: int | None, key: str = key) -> None:
            cells.append(Cell(figure, breakdown, key, value, units))

        add("units_insured", insured_n, insured_n)
        add("units_eligible", eligible, eligible)
        add("units_paid", paid, paid)
        add("paid_fen", paid_fen, paid)
        add("sme_coverage", ratio(paid_sme, insured_sme), insured_sme)
        for name in DAY_FIGURES:
            n, median, p90, most = got.days[name].get(group, (0, None, None, None))
            for stat, v in zip(STATS, (median, p90, most), strict=True):
                add(f"{name}_{stat}", None if v is None else int(v), int(n or 0))
        add("first_try_success", ratio(first_try, paid), paid)
        add("recovered", recovered, recovered)
        add("objections", objections, obj_units)
        add("objections_upheld", upheld, upheld_units)
        add("applications", applications, app_units)
        add("applications_granted", granted, granted_units)
        add("untouched_share", ratio(untouched, paid), paid)
        # lookups ÷ all enquiries (notify.Enquiry: portal sign-ins once per unit-day, call-backs, phone
        # consultations); no enquiry in a group: not available, never a made-up number
        lookups, enquiries = (int(v or 0) for v in got.asked.get(group, (0, 0)))
        add("self_service_share", ratio(lookups, enquiries) if enquiries else None, enquiries or None)
    return cells


def _enquiry_group(breakdown: str) -> str:
    """An enquiry's group: its district is the one it names, else its unit's case's; its size class is its
    unit's case's (``unknown`` without one)."""
    return {
        "total": "''",
        "district": _ENQUIRY_DISTRICT,
        "size_class": "COALESCE(f.size_class, 'unknown')",
    }[breakdown]


def _enquiry_district(district: str | None) -> str:
    """A WHERE clause keeping one district's enquiries (a district code is six digits: checked, then inlined so
    that the statement needs no parameter), or nothing."""
    if district is None:
        return ""
    if not (len(district) == 6 and district.isdigit()):
        raise ReportRefused(_("区划代码 %(district)s 无效"), district=repr(district))
    return f"WHERE COALESCE(NULLIF(e.district, ''), f.district, '') = '{district}'"
