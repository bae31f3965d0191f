"""Hypothesis: the Polars engine of the retention-training family and its scalar reference agree on random drops
(risk areas before, inside and after the year, persons at one or two units over many months, every variant)."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.policy import retention, retention_reference
from mianshen.policy.codes import RETENTION_DECISION_COLUMNS
from mianshen.policy.parameters import resolve, with_overrides

from .helpers import frame

MONTHS = [f"{y}-{m:02d}" for y in (2021, 2022) for m in range(1, 13)][8:20]  # 2021-09 .. 2022-08
INDUSTRIES = ["6210", "5211", "8010", "1310", "7291", "72"]
TYPES = ["enterprise", "enterprise", "social_organization", "government_agency", "public_institution"]


@st.composite
def drops(draw: st.DrawFn) -> tuple[dict[str, list[dict[str, Any]]], date, dict[str, str]]:
    as_of = draw(st.dates(date(2022, 1, 1), date(2022, 12, 31)))
    n_units = draw(st.integers(1, 6))
    units = []
    for i in range(n_units):
        units.append(
            {
                "unit_id": f"U{i:02d}",
                "credit_code": f"91110105{i:09d}X",
                "name": "单位",
                "unit_type": draw(st.sampled_from(TYPES)),
                "industry": draw(st.sampled_from(INDUSTRIES)),
                "district": "110105",
                "dispatch": False,
                "employees": draw(st.one_of(st.none(), st.integers(0, 400))),
                "deregistered_on": draw(st.one_of(st.none(), st.dates(date(2021, 6, 1), date(2022, 12, 31)))),
            }
        )
    risk = []
    for k in range(draw(st.integers(0, 3))):
        start = draw(st.dates(date(2021, 10, 1), date(2022, 12, 31)))
        end = draw(st.one_of(st.none(), st.dates(start, date(2022, 12, 31))))
        level = draw(st.sampled_from(["medium", "high"]))
        risk.append({"district": f"11010{k}", "level": level, "from_on": start, "to_on": end})
    persons = []
    seen = set()
    for p in range(draw(st.integers(0, 12))):
        pid = hashlib.sha256(str(p).encode()).hexdigest()
        for _ in range(draw(st.integers(1, 8))):
            key = (pid, f"U{draw(st.integers(0, n_units - 1)):02d}", draw(st.sampled_from(MONTHS)))
            if key not in seen:
                seen.add(key)
                persons.append({"person_id": key[0], "unit_id": key[1], "month": key[2]})
    flags = [
        {
            "credit_code": u["credit_code"],
            "flag": "serious_dishonesty",
            "listed_on": date(2022, 1, 1),
            "removed_on": None,
            "source": "t",
        }
        for u in units
        if draw(st.booleans()) and draw(st.booleans())
    ]
    overrides = {
        "headcount_rule": draw(st.sampled_from(["month_of_risk", "insured_months", "single_unit_in_month"])),
        "min_insured_months": str(draw(st.integers(1, 8))),
        "per_head": draw(st.sampled_from(["500", "400", "12.34"])),
        "size_headcount_fallback": draw(st.sampled_from(["employees_then_base", "employees_only"])),
        "hardship_reference_month": draw(st.sampled_from(["2022-05", "2022-03"])),
    }
    rows = {"units": units, "risk_areas": risk, "person_months": persons, "credit_flags": flags}
    return rows, as_of, overrides


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drops())
def test_engine_agrees_with_reference(
    case: tuple[dict[str, list[dict[str, Any]]], date, dict[str, str]],
) -> None:
    rows, as_of, overrides = case
    params = with_overrides(resolve("retention-training-2022", as_of), overrides)
    frames = {name: frame(name, rows[name]) for name in rows}
    got = retention.decisions(retention.evaluate(frames, params, as_of))
    engine_rows = [
        {c: "" if r[c] is None else str(r[c]) for c in RETENTION_DECISION_COLUMNS}
        for r in got.iter_rows(named=True)
    ]
    typed = {name: f.to_dicts() for name, f in frames.items()}
    assert engine_rows == retention_reference.evaluate(typed, params, as_of)
