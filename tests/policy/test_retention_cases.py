"""Hand-computed units of the retention-training family (tests/policy/retention_cases/*.yaml) through the engine
and through the scalar reference evaluator, like the refund's cases (test_cases.py).

A case file names its policy, as-of date, what-if parameters of the variant (``set``: Guizhou 400 yuan, Hunan
6 months, Ezhou two units), the city's risk areas (``[district, level, from, to]``), defaults for the unit, the
row every case expects by default, and the cases. Facts: ``persons: {month: [label, ...]}`` (a person insured at
the unit in that month; a label is turned into its pseudonym, SHA-256 hex); ``elsewhere: {month: [label, ...]}``
(the same person at an extra unit of its own); ``flags: [[flag, listed_on, removed_on], ...]``.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from mianshen.policy import retention, retention_reference
from mianshen.policy.codes import RETENTION_DECISION_COLUMNS
from mianshen.policy.parameters import ResolvedParams, resolve, with_overrides

from .helpers import frame

CASES = Path(__file__).parent / "retention_cases"
FILES = sorted(CASES.glob("*.yaml"))
TABLES = ("units", "credit_flags", "risk_areas", "person_months")


def pseudonym(label: str) -> str:
    return hashlib.sha256(label.encode("utf-8")).hexdigest()


def params_of(spec: dict[str, Any], as_of: date) -> ResolvedParams:
    params = resolve(spec["policy"], as_of)
    return with_overrides(params, spec.get("set") or {}) if spec.get("set") else params


def build(spec: dict[str, Any], cases: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    for district, level, start, end in spec.get("risk_areas") or []:
        rows["risk_areas"].append({"district": str(district), "level": level, "from_on": start, "to_on": end})
    for n, case in enumerate(cases):
        unit = {**spec["default_unit"], "credit_code": f"91520103{n:09d}X", **case["unit"]}
        rows["units"].append(unit)
        uid = unit["unit_id"]
        for m, labels in (case.get("persons") or {}).items():
            rows["person_months"] += [{"person_id": pseudonym(p), "unit_id": uid, "month": m} for p in labels]
        if case.get("elsewhere"):
            other = f"{uid}-other"
            rows["units"].append(
                {**spec["default_unit"], "unit_id": other, "credit_code": f"91520199{n:09d}X"}
            )
            for m, labels in case["elsewhere"].items():
                rows["person_months"] += [
                    {"person_id": pseudonym(p), "unit_id": other, "month": m} for p in labels
                ]
        for flag, listed, removed in case.get("flags") or []:
            rows["credit_flags"].append(
                {
                    "credit_code": unit["credit_code"],
                    "flag": flag,
                    "listed_on": listed,
                    "removed_on": removed,
                    "source": "test",
                }
            )
    return rows


def _text(value: Any) -> str:
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
    assert set(merged) == set(RETENTION_DECISION_COLUMNS) - {"unit_id", "credit_code"}, case["unit"][
        "unit_id"
    ]
    return {k: _text(v) for k, v in merged.items()}


@pytest.mark.parametrize(("spec", "cases"), groups())
def test_engine_and_reference_give_the_hand_computed_rows(
    spec: dict[str, Any], cases: list[dict[str, Any]]
) -> None:
    params = params_of(spec, spec["as_of"])
    rows = build(spec, cases)
    frames = {name: frame(name, rows[name]) for name in TABLES}
    decided = retention.decisions(retention.evaluate(frames, params, spec["as_of"]))
    got = {
        r["unit_id"]: {k: _text(r[k]) for k in RETENTION_DECISION_COLUMNS}
        for r in decided.iter_rows(named=True)
    }
    typed = {name: f.to_dicts() for name, f in frames.items()}
    oracle = {r["unit_id"]: r for r in retention_reference.evaluate(typed, params, spec["as_of"])}
    for case in cases:
        uid = case["unit"]["unit_id"]
        expected = _expected(spec, case)
        engine_row = {k: v for k, v in got[uid].items() if k not in ("unit_id", "credit_code")}
        oracle_row = {k: v for k, v in oracle[uid].items() if k not in ("unit_id", "credit_code")}
        assert engine_row == expected, f"{uid} ({case.get('note', '')})"
        assert oracle_row == expected, f"{uid} reference ({case.get('note', '')})"


def test_the_cases_cover_every_code_decision_basis_and_rule() -> None:
    seen: dict[str, set[str]] = {
        k: set() for k in ("failed", "unknown", "decision", "affected_basis", "headcount_rule")
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
        "NOT_AFFECTED",
        "SIZE_NOT_COVERED",
        "NO_INSURED",
    }
    assert seen["unknown"] == {"SIZE_UNKNOWN"}
    assert seen["decision"] == {"eligible", "ineligible", "manual_review"}
    assert seen["affected_basis"] == {"risk_area", "hardship_industry"}
    assert seen["headcount_rule"] == {"month_of_risk", "insured_months", "single_unit_in_month"}
