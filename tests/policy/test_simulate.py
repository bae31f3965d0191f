"""What-if: coverage and cost beside the baseline, and the units whose decision changes."""

from __future__ import annotations

from datetime import date

import polars as pl

from mianshen.policy.parameters import resolve, with_overrides
from mianshen.policy.simulate import report, simulate

from .helpers import frames

AS_OF = date(2021, 7, 1)
UNIT = {"name": "u", "industry": "8010", "district": "110105", "dispatch": 0, "employees": 50}


def drop() -> dict[str, pl.DataFrame]:
    # U1: rate 5.5% (passes 6%, passes 5.5%); U2: rate 5.8% (passes 6%, fails 5.5%); U3: a law firm
    rows = {
        "units": [
            {**UNIT, "unit_id": "U1", "credit_code": "91110105000000001X", "unit_type": "enterprise"},
            {**UNIT, "unit_id": "U2", "credit_code": "91110105000000002X", "unit_type": "enterprise"},
            {**UNIT, "unit_id": "U3", "credit_code": "91110105000000003X", "unit_type": "law_firm"},
        ],
        "headcount": [
            {"unit_id": "U1", "month": "2019-12", "insured": 200},
            {"unit_id": "U1", "month": "2020-12", "insured": 189},
            {"unit_id": "U2", "month": "2019-12", "insured": 500},
            {"unit_id": "U2", "month": "2020-12", "insured": 471},
            {"unit_id": "U3", "month": "2019-12", "insured": 40},
            {"unit_id": "U3", "month": "2020-12", "insured": 40},
        ],
        "contributions": [
            {"unit_id": u, "period": "2020-06", "due_fen": 10001, "paid_fen": 10001, "paid_on": "2020-06-30"}
            for u in ("U1", "U2", "U3")
        ],
    }
    return frames(rows)


def test_simulate_coverage_cost_and_changes() -> None:
    base = resolve("beijing-2021", AS_OF)
    variant = with_overrides(base, {"layoff_rate_limit": "0.055", "ratio.sme": "0.90"})
    sim = simulate(drop(), base, variant, AS_OF)
    assert sim.units == 3
    # baseline: 3 eligible SMEs, 10001 x 0.60 = 6000.6 -> 6001 each; variant: U2 fails, 10001 x 0.90 = 9000.9 -> 9001
    assert sim.total("amount_fen_baseline") == 3 * 6001
    assert sim.total("amount_fen_variant") == 2 * 9001
    assert sim.changes.select(
        "unit_id", "decision_baseline", "decision_variant", "failed_variant"
    ).rows() == [("U2", "eligible", "ineligible", "LAYOFF_RATE_EXCEEDED")]
    assert sim.amount_only_changes == 2
    coverage = {(r["decision"], r["size_class"]): r for r in sim.coverage.iter_rows(named=True)}
    assert (
        coverage["eligible", "small"]["units_baseline"],
        coverage["eligible", "small"]["units_variant"],
    ) == (3, 2)
    assert (
        coverage["ineligible", "small"]["units_baseline"],
        coverage["ineligible", "small"]["units_variant"],
    ) == (0, 1)
    text = report(sim)
    assert "cost baseline 18003 fen (180.03 yuan)" in text
    assert "cost variant  18002 fen (180.02 yuan)" in text
    assert "difference    -1 fen (-0.01 yuan)" in text
    assert "U2  eligible → ineligible  (LAYOFF_RATE_EXCEEDED)" in text
    assert "layoff_rate_limit=0.055; ratio=large=0.30,sme=0.90" in text


def test_fact_parameters_are_rederived() -> None:
    base = resolve("beijing-2021", AS_OF)
    variant = with_overrides(base, {"base_paid_cutoff": "as_of", "natural_attrition_reasons": "retirement"})
    sim = simulate(drop(), base, variant, AS_OF)
    assert sim.changes.height == 0 and sim.total("amount_fen_variant") == sim.total("amount_fen_baseline")
