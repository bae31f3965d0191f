"""Hand-computed units (tests/policy/cases/*.yaml) through the engine and through the reference evaluator.

A case file names its policy and as-of date, defaults for the unit and its facts, the decisions.csv row every
case expects by default, and the cases: a unit, its facts in a compact form, and the fields of the expected row
that differ from the default. All cases of one as-of date are screened together, as one drop.

Fact shorthands: ``hc: {"2019-12": 253, ...}`` (month -> insured); ``sep: [[month, reason, persons], ...]``;
``paid_y: N`` (each of the 12 periods of Y due N and paid N on the 15th of the period's month; ``paid_y_skip``
lists periods left out, ``paid_y_on`` moves every payment date, ``paid_y_last_on`` December's);
``contrib: [[period, due, paid, paid_on], ...]``; ``flags: [[flag, listed_on, removed_on], ...]`` (on the unit's
credit code); ``confirmed: [date, ...]``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from mianshen.policy import engine, reference
from mianshen.policy.codes import DECISION_COLUMNS, DECISION_INT_COLUMNS
from mianshen.policy.parameters import resolve

from .helpers import frames

CASES = Path(__file__).parent / "cases"
FILES = sorted(CASES.glob("*.yaml"))


def _credit_code(n: int) -> str:
    return f"91110105{n:09d}X"


def build(spec: dict[str, Any], cases: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The drop's rows for a group of cases."""
    y = resolve(spec["policy"], spec["as_of"]).data_year
    rows: dict[str, list[dict[str, Any]]] = {
        "units": [],
        "headcount": [],
        "separations": [],
        "contributions": [],
        "credit_flags": [],
        "dispatch_confirmations": [],
    }
    for n, case in enumerate(cases):
        facts = {**spec.get("default_facts", {}), **case}
        unit = {**spec["default_unit"], "credit_code": _credit_code(n), **case["unit"]}
        rows["units"].append(unit)
        uid, code = unit["unit_id"], unit["credit_code"]
        for m, insured in (facts.get("hc") or {}).items():
            rows["headcount"].append({"unit_id": uid, "month": m, "insured": insured})
        for m, reason, persons in facts.get("sep") or []:
            rows["separations"].append({"unit_id": uid, "month": m, "reason": reason, "persons": persons})
        if facts.get("paid_y") is not None:
            for k in range(1, 13):
                period = f"{y}-{k:02d}"
                if period in (facts.get("paid_y_skip") or []):
                    continue
                paid_on = (
                    facts.get("paid_y_last_on") if k == 12 and facts.get("paid_y_last_on") else date(y, k, 15)
                )
                rows["contributions"].append(
                    {
                        "unit_id": uid,
                        "period": period,
                        "due_fen": facts["paid_y"],
                        "paid_fen": facts["paid_y"],
                        "paid_on": facts.get("paid_y_on") or paid_on,
                    }
                )
        for period, due, paid, paid_on in facts.get("contrib") or []:
            rows["contributions"].append(
                {"unit_id": uid, "period": period, "due_fen": due, "paid_fen": paid, "paid_on": paid_on}
            )
        for flag, listed, removed in facts.get("flags") or []:
            rows["credit_flags"].append(
                {
                    "credit_code": code,
                    "flag": flag,
                    "listed_on": listed,
                    "removed_on": removed,
                    "source": "test",
                }
            )
        for confirmed_on in facts.get("confirmed") or []:
            rows["dispatch_confirmations"].append({"unit_id": uid, "confirmed_on": confirmed_on})
    rows["credit_flags"] += spec.get("extra_flags") or []
    return rows


def _text(column: str, value: Any) -> str:
    return "" if value is None else str(value)


def groups() -> list[Any]:
    out = []
    for path in FILES:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        by_date: dict[date, list[dict[str, Any]]] = {}
        for case in spec["cases"]:
            by_date.setdefault(case.get("as_of", spec["as_of"]), []).append(case)
        for as_of, cases in by_date.items():
            out.append(pytest.param({**spec, "as_of": as_of}, cases, id=f"{path.stem}@{as_of}"))
    return out


def _expected(spec: dict[str, Any], case: dict[str, Any]) -> dict[str, str]:
    merged = {**spec["expect_default"], **case.get("expect", {})}
    assert set(merged) == set(DECISION_COLUMNS) - {"unit_id", "credit_code"}, case["unit"]["unit_id"]
    return {k: _text(k, v) for k, v in merged.items()}


@pytest.mark.parametrize(("spec", "cases"), groups())
def test_engine_and_reference_give_the_hand_computed_rows(
    spec: dict[str, Any], cases: list[dict[str, Any]]
) -> None:
    params = resolve(spec["policy"], spec["as_of"])
    rows = build(spec, cases)
    decided = engine.decisions(engine.evaluate(frames(rows), params, spec["as_of"]))
    got = {r["unit_id"]: {k: _text(k, r[k]) for k in DECISION_COLUMNS} for r in decided.iter_rows(named=True)}
    typed = {name: frame.to_dicts() for name, frame in frames(rows).items()}
    oracle = {r["unit_id"]: r for r in reference.evaluate(typed, params, spec["as_of"])}
    assert len(got) == len(cases)
    for case in cases:
        uid = case["unit"]["unit_id"]
        expected = _expected(spec, case)
        engine_row = {k: v for k, v in got[uid].items() if k not in ("unit_id", "credit_code")}
        oracle_row = {k: v for k, v in oracle[uid].items() if k not in ("unit_id", "credit_code")}
        assert engine_row == expected, f"{uid} ({case.get('note', '')})"
        assert oracle_row == expected, f"{uid} reference ({case.get('note', '')})"


def test_the_cases_cover_every_code_route_decision_and_size_basis() -> None:
    seen: dict[str, set[str]] = {
        "failed": set(),
        "unknown": set(),
        "routes": set(),
        "decision": set(),
        "size_basis": set(),
    }
    for path in FILES:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in spec["cases"]:
            expected = _expected(spec, case)
            for key in seen:
                seen[key] |= {c for c in expected[key].split("|") if c}
    assert seen["failed"] == {
        "TYPE_NOT_COVERED",
        "DEREGISTERED",
        "SERIOUS_DISHONESTY",
        "ARREARS",
        "NO_PREMIUM",
        "LAYOFF_RATE_EXCEEDED",
        "FULL_PAYMENT_SHORT",
    }
    assert seen["unknown"] == {"HEADCOUNT_MISSING", "SIZE_UNKNOWN"}
    assert seen["routes"] == {"COMMITMENT_BREACH", "ABNORMAL_OPERATION", "DISPATCH_UNCONFIRMED"}
    assert seen["decision"] == {"eligible", "ineligible", "manual_review", "pending_confirmation"}
    assert seen["size_basis"] == {"indicators", "declared", "headcount", "unknown"}
    assert set(DECISION_COLUMNS) >= DECISION_INT_COLUMNS
