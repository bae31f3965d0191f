"""A second, independent reading of the job-expansion rule: plain Python over rows, one hire at a time.

Written from domain.md §6 and docs/policy.md, not from ``job_expansion``: no Polars, every value a Python int, date
or str. Tests run both on the same drops (hand-computed cases and hypothesis) and require the same decisions file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from . import codes as C
from .parameters import ResolvedParams
from .reference import flag_active

Row = Mapping[str, Any]


def unit_failures(unit: Row, flags: list[Row], params: ResolvedParams, as_of: date) -> list[str]:
    """The unit conditions in force that the unit fails (type, deregistration, serious dishonesty)."""
    dishonest = any(
        f["flag"] == "serious_dishonesty"
        and f["credit_code"] == unit["credit_code"]
        and flag_active(f, as_of)
        for f in flags
    )
    fails = {
        C.TYPE_NOT_COVERED: unit["unit_type"] not in params["covered_unit_types"],
        C.DEREGISTERED: unit["deregistered_on"] is not None and unit["deregistered_on"] <= as_of,
        C.SERIOUS_DISHONESTY: dishonest,
    }
    return [code for code, failed in fails.items() if failed and code in params.conditions]


def hire_reason(
    hire: Row,
    register: Mapping[str, Row],
    recipients: set[str],
    paid: Mapping[str, str | None],
    unit_ok: bool,
    params: ResolvedParams,
    as_of: date,
) -> str | None:
    """Why the hire does not count on its own (before the one-enterprise rule); None when it may count."""
    entry = register.get(hire["person_id"])
    if entry is None:
        return C.NOT_REGISTERED
    year, hired = params.data_year, hire["hired_on"]
    if entry["category"] not in params["person_categories"]:
        return C.CATEGORY_NOT_COVERED
    if entry["category"] == "graduate":
        grad = entry["graduation_year"]
        if grad is None or not year - int(params["graduation_years_back"]) <= grad <= year:
            return C.CATEGORY_NOT_COVERED
    else:
        age = hired.year - entry["birth_year"]
        if not int(params["youth_min_age"]) <= age <= int(params["youth_max_age"]):
            return C.CATEGORY_NOT_COVERED
    month = f"{hired.year:04d}-{hired.month:02d}"
    if month < params["hire_from"] or month > params["hire_until"] or hired > as_of:
        return C.HIRED_OUTSIDE_WINDOW
    if hire["contract_start"] is None or hire["contract_start"] > as_of:
        return C.NO_CONTRACT
    if hire["contribution_months"] < int(params["min_contribution_months"]):
        return C.SHORT_CONTRIBUTIONS
    if hire["person_id"] in recipients:
        return C.HIRING_SUBSIDY
    if hire["person_id"] in paid and paid[hire["person_id"]] != hire["unit_id"]:
        return C.ALREADY_PAID  # paid before: under another policy id (no unit), or for another unit
    if not unit_ok:
        return C.UNIT_EXCLUDED
    return None


def evaluate(tables: Mapping[str, list[Row]], params: ResolvedParams, as_of: date) -> list[dict[str, str]]:
    """The decisions file's rows as text (empty string for an empty field), sorted by unit_id."""
    flags = list(tables.get("credit_flags", []))
    units = sorted(tables["units"], key=lambda u: u["unit_id"])
    failures = {u["unit_id"]: unit_failures(u, flags, params, as_of) for u in units}
    register = {r["person_id"]: r for r in tables.get("graduate_register", [])}
    recipients = {r["person_id"] for r in tables.get("hiring_subsidy_recipients", [])}
    paid: dict[str, str | None] = {}
    for r in tables.get("paid_persons", []):
        paid.setdefault(r["person_id"], r.get("unit_id"))
    hires = list(tables.get("hires", []))
    # the one-enterprise rule: of a person's hires that may count, the earliest (then the smaller unit id)
    winner: dict[str, tuple[date, str]] = {}
    for h in hires:
        ok = not failures.get(h["unit_id"], ["UNKNOWN"])
        if hire_reason(h, register, recipients, paid, ok, params, as_of) is None:
            key = (h["hired_on"], h["unit_id"])
            if h["person_id"] not in winner or key < winner[h["person_id"]]:
                winner[h["person_id"]] = key
    per_person = int(params["per_person"])
    rows = []
    for u in units:
        mine = [h for h in hires if h["unit_id"] == u["unit_id"]]
        eligible = {
            h["person_id"] for h in mine if winner.get(h["person_id"]) == (h["hired_on"], h["unit_id"])
        }
        failed = list(failures[u["unit_id"]])
        if C.NO_ELIGIBLE_HIRE in params.conditions and not eligible:
            failed.append(C.NO_ELIGIBLE_HIRE)
        decision = C.INELIGIBLE if failed else C.ELIGIBLE
        rows.append(
            {
                "unit_id": u["unit_id"],
                "credit_code": u["credit_code"],
                "decision": decision,
                "failed": "|".join(sorted(failed)),
                "unknown": "",
                "hires": str(len(mine)),
                "eligible_persons": str(len(eligible)),
                "per_person_fen": str(per_person),
                "amount_fen": str(len(eligible) * per_person if decision == C.ELIGIBLE else 0),
            }
        )
    return rows
