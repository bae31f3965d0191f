"""A second, independent reading of the retention-training rule: plain Python over rows, one unit at a time.

Written from domain.md §6 and docs/policy.md, not from ``retention``: no Polars, every value a Python int, date or
str. Tests run both on the same drops (hand-computed cases and hypothesis) and require the same decisions file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

from . import codes as C
from .parameters import ResolvedParams
from .reference import flag_active, size_class

Row = Mapping[str, Any]


def first_risk_day(rows: list[Row], params: ResolvedParams, as_of: date) -> date | None:
    jan1 = date(params.data_year, 1, 1)
    days = [
        max(r["from_on"], jan1)
        for r in rows
        if r["level"] in params["risk_levels"]
        and r["from_on"] <= as_of
        and (r["to_on"] is None or r["to_on"] >= jan1)
    ]
    return min(days) if days else None


def count(unit_id: str, ref: str, persons: list[Row], params: ResolvedParams) -> int:
    """Persons counted for the unit in the reference month under the headcount rule."""
    rule = params["headcount_rule"]
    here = {r["person_id"] for r in persons if r["unit_id"] == unit_id and r["month"] == ref}
    if rule == "month_of_risk":
        return len(here)
    if rule == "insured_months":
        n = int(params["min_insured_months"])
        months: dict[str, set[str]] = defaultdict(set)
        for r in persons:
            if r["unit_id"] == unit_id and r["month"] <= ref:
                months[r["person_id"]].add(r["month"])
        return sum(1 for p in here if len(months[p]) >= n)
    if rule == "single_unit_in_month":
        units: dict[str, set[str]] = defaultdict(set)
        for r in persons:
            if r["month"] == ref:
                units[r["person_id"]].add(r["unit_id"])
        return sum(1 for p in here if len(units[p]) == 1)
    raise ValueError(f"unknown headcount_rule {rule!r}")


def evaluate_unit(
    unit: Row,
    flags: list[Row],
    persons: list[Row],
    risk_day: date | None,
    params: ResolvedParams,
    as_of: date,
) -> dict[str, str]:
    if risk_day is not None:
        basis: str | None = "risk_area"
        ref: str | None = f"{risk_day.year:04d}-{risk_day.month:02d}"
    elif any(unit["industry"].startswith(p) for p in params["hardship_industries"]):
        basis, ref = "hardship_industry", params["hardship_reference_month"]
    else:
        basis, ref = None, None
    headcount = count(unit["unit_id"], ref, persons, params) if ref is not None else None
    size, size_basis = size_class(unit, headcount, params["size_headcount_fallback"])
    if unit["unit_type"] != "enterprise":
        category: str | None = params["non_enterprise_size_category"]
    elif size is None:
        category = None
    else:
        category = "large" if size == "large" else "sme"
    dishonest = any(
        f["flag"] == "serious_dishonesty"
        and f["credit_code"] == unit["credit_code"]
        and flag_active(f, as_of)
        for f in flags
    )
    covered_sizes = params["covered_size_categories"]
    outcomes: dict[str, bool | None] = {
        C.TYPE_NOT_COVERED: unit["unit_type"] in params["covered_unit_types"],
        C.DEREGISTERED: unit["deregistered_on"] is None or unit["deregistered_on"] > as_of,
        C.SERIOUS_DISHONESTY: not dishonest,
        C.NOT_AFFECTED: basis is not None,
        C.SIZE_NOT_COVERED: True
        if set(C.SIZE_CATEGORIES) <= set(covered_sizes)
        else (None if category is None else category in covered_sizes),
        C.NO_INSURED: None if headcount is None else headcount > 0,
    }
    in_force = [c for c in C.RETENTION_CONDITION_CODES if c in params.conditions]
    failed = sorted(c for c in in_force if outcomes[c] is False)
    unknown = sorted(C.SIZE_UNKNOWN for c in in_force if c == C.SIZE_NOT_COVERED and outcomes[c] is None)
    decision = C.INELIGIBLE if failed else C.MANUAL_REVIEW if unknown else C.ELIGIBLE
    per_head = int(params["per_head"])
    amount = headcount * per_head if decision != C.INELIGIBLE and headcount is not None else 0
    return {
        "unit_id": unit["unit_id"],
        "credit_code": unit["credit_code"],
        "decision": decision,
        "failed": "|".join(failed),
        "unknown": "|".join(unknown),
        "affected_basis": basis or "",
        "reference_month": ref or "",
        "headcount_rule": params["headcount_rule"],
        "headcount": "" if headcount is None else str(headcount),
        "size_class": size or "",
        "size_basis": size_basis,
        "size_category": category or "",
        "per_head_fen": str(per_head),
        "amount_fen": str(amount),
    }


def evaluate(tables: Mapping[str, list[Row]], params: ResolvedParams, as_of: date) -> list[dict[str, str]]:
    """The decisions file's rows as text (empty string for an empty field), sorted by unit_id."""
    risk_day = first_risk_day(list(tables.get("risk_areas", [])), params, as_of)
    flags = list(tables.get("credit_flags", []))
    persons = list(tables.get("person_months", []))
    units = sorted(tables["units"], key=lambda u: u["unit_id"])
    return [evaluate_unit(u, flags, persons, risk_day, params, as_of) for u in units]
