"""Hypothesis: the Polars engine of the job-expansion family and its scalar reference agree on random drops
(persons hired by several units on the same or different days, in and out of the register, the window, the
recipients list and the person ledger; every policy id; the year's parameters varied)."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.policy import job_expansion, job_expansion_reference
from mianshen.policy.codes import JOB_DECISION_COLUMNS
from mianshen.policy.parameters import resolve, with_overrides

from .helpers import frame

TYPES = ["enterprise", "enterprise", "enterprise", "social_organization", "individual_business"]
POLICIES = {"job-expansion-2022": 2022, "job-expansion-2023": 2023, "job-expansion-2025": 2025}


@st.composite
def drops(draw: st.DrawFn) -> tuple[str, dict[str, list[dict[str, Any]]], date, dict[str, str]]:
    policy = draw(st.sampled_from(sorted(POLICIES)))
    year = POLICIES[policy]
    as_of = draw(st.one_of(st.just(date(year, 12, 31)), st.dates(date(year, 1, 1), date(year, 12, 31))))
    n_units = draw(st.integers(1, 5))
    units = [
        {
            "unit_id": f"U{i:02d}",
            "credit_code": f"91110105{i:09d}X",
            "name": "单位",
            "unit_type": draw(st.sampled_from(TYPES)),
            "industry": "6510",
            "district": "110105",
            "dispatch": False,
            "deregistered_on": draw(
                st.sampled_from([None, None, None, date(year, 6, 30), date(year - 1, 6, 30)])
            ),
        }
        for i in range(n_units)
    ]
    people = [hashlib.sha256(str(p).encode()).hexdigest() for p in range(draw(st.integers(0, 8)))]
    register = []
    for pid in people:
        if draw(st.integers(0, 5)) == 0:
            continue  # not in the register
        category = draw(st.sampled_from(["graduate", "graduate", "unemployed_youth"]))
        register.append(
            {
                "person_id": pid,
                "category": category,
                "graduation_year": draw(st.sampled_from([year, year, year - 1, year - 2, year - 3, year + 1]))
                if category == "graduate"
                else None,
                "birth_year": draw(
                    st.sampled_from([year - 20, year - 20, year - 16, year - 24, year - 25, year - 15])
                ),
            }
        )
    hires, seen = [], set()
    for pid in people:
        for _ in range(draw(st.integers(0, 4))):
            unit = f"U{draw(st.integers(0, n_units - 1)):02d}"
            hired = draw(  # few days, so that two units often hire the same person on the same day
                st.one_of(
                    st.sampled_from([date(year - 1, 12, 31), date(year, 1, 1), date(year, 7, 1)]),
                    st.sampled_from([date(year, 1, 1), date(year, 7, 1)]),
                    st.dates(date(year - 1, 11, 1), date(year, 12, 31)),
                )
            )
            if (unit, pid, hired) in seen:
                continue
            seen.add((unit, pid, hired))
            contract = draw(st.sampled_from([hired, hired, hired, None, date(year, 12, 31)]))
            hires.append(
                {
                    "unit_id": unit,
                    "person_id": pid,
                    "hired_on": hired,
                    "contract_start": contract,
                    "contribution_months": draw(st.sampled_from([3, 3, 3, 0, 1, 2])),
                }
            )
    recipients = [{"person_id": p, "granted_on": None} for p in people if draw(st.integers(0, 5)) == 0]
    paid = [  # the person ledger: under another policy id (no unit), or this one for a unit
        {"person_id": p, "unit_id": draw(st.sampled_from([None, "U00", "U01"]))}
        for p in people
        if draw(st.integers(0, 5)) == 0
    ]
    flags = [
        {
            "credit_code": u["credit_code"],
            "flag": draw(st.sampled_from(["serious_dishonesty", "abnormal_operation"])),
            "listed_on": date(year, 1, 1),
            "removed_on": draw(st.one_of(st.none(), st.dates(date(year, 1, 2), date(year, 12, 31)))),
            "source": "t",
        }
        for u in units
        if draw(st.integers(0, 3)) == 0
    ]
    overrides = {
        "min_contribution_months": str(draw(st.sampled_from([1, 1, 3, 0]))),
        "graduation_years_back": str(draw(st.sampled_from([0, 2, 2, 3]))),
        "per_person": draw(st.sampled_from(["1500", "1000", "12.34"])),
    }
    rows = {
        "units": units,
        "credit_flags": flags,
        "hires": hires,
        "graduate_register": register,
        "hiring_subsidy_recipients": recipients,
        "paid_persons": paid,
    }
    return policy, rows, as_of, overrides


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drops())
def test_engine_agrees_with_reference(
    case: tuple[str, dict[str, list[dict[str, Any]]], date, dict[str, str]],
) -> None:
    policy, rows, as_of, overrides = case
    params = with_overrides(resolve(policy, as_of), overrides)
    frames: dict[str, pl.DataFrame] = {
        name: frame(name, rows[name]) for name in rows if name != "paid_persons"
    }
    frames["paid_persons"] = pl.DataFrame(
        rows["paid_persons"], schema={"person_id": pl.String, "unit_id": pl.String}
    )
    got = job_expansion.decisions(job_expansion.evaluate(frames, params, as_of))
    engine_rows = [
        {c: "" if r[c] is None else str(r[c]) for c in JOB_DECISION_COLUMNS}
        for r in got.iter_rows(named=True)
    ]
    typed = {name: f.to_dicts() for name, f in frames.items()}
    assert engine_rows == job_expansion_reference.evaluate(typed, params, as_of)
    # one enterprise per person: no person is counted twice
    counted = job_expansion.counted_persons(frames, params, as_of)
    assert counted["person_id"].n_unique() == counted.height
