"""A scalar reference evaluator of contracts §2.1: plain Python, one function per rule, integers only.

Written for clarity, not speed, and independently of the Polars engine (it shares only data: the parameter set
and the 2017 size table). A property test checks that both give the same decisions.csv rows.

Input: each table as a list of plain dicts (``DataFrame.to_dicts()`` of the typed frames). Output: one dict per
unit, the decisions.csv fields as the exact strings written to the file ("" for an empty field).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from .parameters import ResolvedParams
from .sizeclass import OTHER, SIZE_TABLE, SizeRow

Row = Mapping[str, Any]


def ym(year: int, month_no: int) -> str:
    return f"{year:04d}-{month_no:02d}"


# --- facts ----------------------------------------------------------------------------------------------------


def base_headcount(rows: list[Row], data_year: int, fallback: str) -> tuple[int | None, str | None]:
    """H0: insured at December of Y-1; else (A3) the row with the earliest month of Y; else missing."""
    for row in rows:
        if row["month"] == ym(data_year - 1, 12):
            return row["insured"], row["month"]
    if fallback == "first_month_in_year":
        in_year = [row for row in rows if row["month"].startswith(f"{data_year:04d}-")]
        if in_year:
            first = min(in_year, key=lambda row: row["month"])
            return first["insured"], first["month"]
    return None, None


def end_headcount(rows: list[Row], data_year: int) -> int | None:
    """H1: insured at December of Y, or missing."""
    for row in rows:
        if row["month"] == ym(data_year, 12):
            return int(row["insured"])
    return None


def natural_attrition(rows: list[Row], data_year: int, reasons: Iterable[str]) -> int:
    """N: persons who left during Y for a natural-attrition reason."""
    wanted = set(reasons)
    return sum(
        row["persons"]
        for row in rows
        if row["month"].startswith(f"{data_year:04d}-") and row["reason"] in wanted
    )


def base_fen(rows: list[Row], data_year: int, cutoff: date) -> int:
    """B: paid_fen of periods in Y with paid_on on or before the cutoff (a missing paid_on never counts)."""
    total = 0
    for row in rows:
        if (
            row["period"].startswith(f"{data_year:04d}-")
            and row["paid_on"] is not None
            and row["paid_on"] <= cutoff
        ):
            total += row["paid_fen"]
    return total


def arrears_fen(rows: list[Row], as_of: date) -> int:
    """Per row max(due - paid, 0), over every period before the month of the as-of date."""
    before = ym(as_of.year, as_of.month)
    return sum(max(row["due_fen"] - row["paid_fen"], 0) for row in rows if row["period"] < before)


def full_paid_periods(rows: list[Row], data_year: int) -> int:
    """Periods of Y with something due and at least that much paid."""
    return sum(
        1
        for row in rows
        if row["period"].startswith(f"{data_year:04d}-")
        and row["due_fen"] > 0
        and row["paid_fen"] >= row["due_fen"]
    )


def flag_active(row: Row, as_of: date) -> bool:
    """listed_on <= D and (removed_on empty or removed_on > D)."""
    return bool(row["listed_on"] <= as_of and (row["removed_on"] is None or row["removed_on"] > as_of))


def confirmed(rows: list[Row], as_of: date) -> bool:
    return any(row["confirmed_on"] <= as_of for row in rows)


# --- size class -----------------------------------------------------------------------------------------------


def size_row(industry: str) -> SizeRow:
    """701… real-estate development, 702… property management, else by division, else every other industry."""
    by_key = {row.key: row for row in SIZE_TABLE}
    if industry.startswith("701"):
        return by_key["real_estate_development"]
    if industry.startswith("702"):
        return by_key["property_management"]
    for row in SIZE_TABLE:
        if industry[:2] in row.divisions:
            return row
    return by_key[OTHER]


def band(row: SizeRow, employees: int | None, revenue_yuan: int | None, assets_yuan: int | None) -> str:
    """The highest band all of whose bounds are met (revenue and assets bounds in 万元), else micro."""
    for index, name in enumerate(("large", "medium", "small")):
        ok = True
        if row.x is not None:
            ok = ok and employees is not None and employees >= row.x[index]
        if row.y is not None:
            ok = ok and revenue_yuan is not None and revenue_yuan >= row.y[index] * 10_000
        if row.z is not None:
            ok = ok and assets_yuan is not None and assets_yuan >= row.z[index] * 10_000
        if ok:
            return name
    return "micro"


def size_class(unit: Row, h0: int | None, fallback: str) -> tuple[str | None, str]:
    """(size class, size basis) by rules 1-4 of contracts §2.1."""
    row = size_row(unit["industry"])
    x, y, z = unit["employees"], unit["revenue_yuan"], unit["assets_yuan"]
    needed = [v for v, used in ((x, row.x), (y, row.y), (z, row.z)) if used is not None]
    if all(v is not None for v in needed):
        return band(row, x, y, z), "indicators"
    if unit["size_class_declared"] is not None:
        return unit["size_class_declared"], "declared"
    headcount = x if x is not None else (h0 if fallback == "employees_then_base" else None)
    if headcount is not None:
        other = next(r for r in SIZE_TABLE if r.key == OTHER)
        return band(other, headcount, None, None), "headcount"
    return None, "unknown"


# --- rate, limit, amount, decision ----------------------------------------------------------------------------


def layoffs(h0: int | None, h1: int | None, n: int) -> int | None:
    if h0 is None or h1 is None:
        return None
    return max(h0 - h1 - n, 0)


def layoff_rate_e4(h0: int | None, cut: int | None) -> int | None:
    """The rate in units of 0.0001, half up; 0 when H0 = 0."""
    if cut is None or h0 is None:
        return None
    if h0 == 0:
        return 0
    quotient, remainder = divmod(cut * 10_000, h0)
    return quotient + (1 if 2 * remainder >= h0 else 0)


def layoff_limit_bp(headcount: int | None, params: ResolvedParams) -> int | None:
    if headcount is None:
        return None
    if headcount <= params.small_max_headcount:
        return params.small_limit_bp
    return params.layoff_limit_bp


def ratio_category(unit_type: str, size: str | None, params: ResolvedParams) -> str | None:
    if unit_type != "enterprise":
        return str(params["non_enterprise_ratio_category"])
    if size is None:
        return None
    return params.ratio_category[size]


def amount_fen(base: int, ratio_bp: int) -> int:
    """Half up to the fen: base * ratio / 10000."""
    quotient, remainder = divmod(base * ratio_bp, 10_000)
    return quotient + (1 if remainder >= 5_000 else 0)


def decide(failed: list[str], unknown: list[str], routes: list[str], params: ResolvedParams) -> str:
    if failed:
        return "ineligible"
    manual = {"COMMITMENT_BREACH"} | (
        {"ABNORMAL_OPERATION"} if params["abnormal_operation_track"] == "manual_review" else set()
    )
    if unknown or manual & set(routes):
        return "manual_review"
    if "DISPATCH_UNCONFIRMED" in routes:
        return "pending_confirmation"
    return "eligible"


def decimal_text(bp: int) -> str:
    """At least two decimals, no trailing zeros beyond: 600 -> 0.06, 550 -> 0.055, 10000 -> 1.00."""
    text = str(bp).rjust(5, "0")
    whole, frac = text[:-4], text[-4:]
    while len(frac) > 2 and frac.endswith("0"):
        frac = frac[:-1]
    return f"{whole}.{frac}"


def _text(value: int | str | None) -> str:
    return "" if value is None else str(value)


# --- one unit -------------------------------------------------------------------------------------------------


def evaluate_unit(
    unit: Row, facts: Mapping[str, list[Row]], params: ResolvedParams, as_of: date
) -> dict[str, str]:
    """The decisions.csv row of one unit; ``facts`` holds that unit's rows of every other table."""
    y = params.data_year
    h0, _ = base_headcount(facts["headcount"], y, params["base_headcount_fallback"])
    h1 = end_headcount(facts["headcount"], y)
    n = natural_attrition(facts["separations"], y, params["natural_attrition_reasons"])
    cutoff = date(y, 12, 31) if params["base_paid_cutoff"] == "end_of_data_year" else as_of
    b = base_fen(facts["contributions"], y, cutoff)
    active = {row["flag"] for row in facts["credit_flags"] if flag_active(row, as_of)}
    cut = layoffs(h0, h1, n)
    rate = layoff_rate_e4(h0, cut)
    limit = layoff_limit_bp(h0 if params["small_unit_headcount_basis"] == "base" else h1, params)
    size, basis = size_class(unit, h0, params["size_headcount_fallback"])
    category = ratio_category(unit["unit_type"], size, params)
    ratio = params.ratio_bp[category] if category is not None else None

    failed, unknown = [], []
    conditions = params.conditions
    if "TYPE_NOT_COVERED" in conditions and unit["unit_type"] not in params["covered_unit_types"]:
        failed.append("TYPE_NOT_COVERED")
    dereg = unit["deregistered_on"]
    if "DEREGISTERED" in conditions and dereg is not None and dereg <= as_of:
        failed.append("DEREGISTERED")
    if "SERIOUS_DISHONESTY" in conditions and "serious_dishonesty" in active:
        failed.append("SERIOUS_DISHONESTY")
    if "ARREARS" in conditions and arrears_fen(facts["contributions"], as_of) > 0:
        failed.append("ARREARS")
    if "NO_PREMIUM" in conditions and b == 0:
        failed.append("NO_PREMIUM")
    if "LAYOFF_RATE_EXCEEDED" in conditions:
        if cut is None or h0 is None or limit is None:
            unknown.append("HEADCOUNT_MISSING")
        elif cut * 10_000 > limit * h0:
            failed.append("LAYOFF_RATE_EXCEEDED")
    if "SIZE_UNKNOWN" in conditions and unit["unit_type"] == "enterprise" and size is None:
        unknown.append("SIZE_UNKNOWN")
    if "FULL_PAYMENT_SHORT" in conditions and full_paid_periods(facts["contributions"], y) < 12:
        failed.append("FULL_PAYMENT_SHORT")

    routes = []
    if "commitment_breach" in active:
        routes.append("COMMITMENT_BREACH")
    if "abnormal_operation" in active:
        routes.append("ABNORMAL_OPERATION")
    if unit["dispatch"] and not confirmed(facts["dispatch_confirmations"], as_of):
        routes.append("DISPATCH_UNCONFIRMED")

    decision = decide(failed, unknown, routes, params)
    payable = decision != "ineligible" and ratio is not None
    return {
        "unit_id": unit["unit_id"],
        "credit_code": unit["credit_code"],
        "decision": decision,
        "failed": "|".join(sorted(failed)),
        "unknown": "|".join(sorted(unknown)),
        "routes": "|".join(sorted(routes)),
        "base_headcount": _text(h0),
        "end_headcount": _text(h1),
        "natural_attrition": str(n),
        "layoff_rate": "" if rate is None else f"{rate // 10_000}.{rate % 10_000:04d}",
        "layoff_limit": "" if limit is None else decimal_text(limit),
        "size_class": _text(size),
        "size_basis": basis,
        "ratio_category": _text(category),
        "ratio": "" if ratio is None else decimal_text(ratio),
        "base_fen": str(b),
        "amount_fen": str(amount_fen(b, ratio) if payable and ratio is not None else 0),
    }


def evaluate(tables: Mapping[str, list[Row]], params: ResolvedParams, as_of: date) -> list[dict[str, str]]:
    """Every unit's decisions.csv row, sorted by unit_id in code-point order."""
    by_unit: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for name in ("headcount", "separations", "contributions", "dispatch_confirmations"):
        for row in tables.get(name, []):
            by_unit[row["unit_id"]][name].append(row)
    flags: dict[str, list[Row]] = defaultdict(list)
    for row in tables.get("credit_flags", []):
        flags[row["credit_code"]].append(row)
    out = []
    for unit in tables["units"]:
        facts = {
            name: by_unit[unit["unit_id"]][name]
            for name in ("headcount", "separations", "contributions", "dispatch_confirmations")
        }
        facts["credit_flags"] = flags[unit["credit_code"]]
        out.append(evaluate_unit(unit, facts, params, as_of))
    return sorted(out, key=lambda row: row["unit_id"])
