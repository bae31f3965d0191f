"""Size class (contracts §2.1 rules 1-4, domain.md §4): rows, bands at their bounds, fallbacks."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from mianshen.policy import reference
from mianshen.policy.sizeclass import classify

W = 10_000  # yuan per 万元

# industry, employees, revenue_yuan, assets_yuan, declared, H0 -> size_class, size_basis, size_row
CASES: list[tuple[str, int | None, int | None, int | None, str | None, int | None, str | None, str, str]] = [
    # rule 1: indicators, the band is the highest whose every bound is met
    ("1310", 1000, 40000 * W, None, None, None, "large", "indicators", "industry"),
    ("1310", 999, 40000 * W, None, None, None, "medium", "indicators", "industry"),
    ("1310", 1000, 40000 * W - 1, None, None, None, "medium", "indicators", "industry"),
    ("1310", 20, 300 * W, None, None, None, "small", "indicators", "industry"),
    ("1310", 19, 300 * W, None, None, None, "micro", "indicators", "industry"),
    ("0110", None, 20000 * W, None, None, None, "large", "indicators", "agriculture"),
    ("0510", 5, 49 * W, None, "large", None, "micro", "indicators", "agriculture"),
    ("4710", None, 6000 * W, 4999 * W, None, None, "small", "indicators", "construction"),
    ("5111", 20, 5000 * W, None, None, None, "medium", "indicators", "wholesale"),
    ("5211", 10, 100 * W, None, None, None, "small", "indicators", "retail"),
    ("5410", 1000, 30000 * W, None, None, None, "large", "indicators", "transport"),
    ("5910", 100, 1000 * W, None, None, None, "medium", "indicators", "warehousing"),
    ("6010", 20, 100 * W, None, None, None, "small", "indicators", "postal"),
    ("6210", 300, 10000 * W, None, None, None, "large", "indicators", "accommodation_catering"),
    ("6311", 2000, 100000 * W, None, None, None, "large", "indicators", "telecom"),
    ("65", 10, 50 * W, None, None, None, "small", "indicators", "software"),
    ("7010", None, 200000 * W, 10000 * W, None, None, "large", "indicators", "real_estate_development"),
    ("701", 5, 1000 * W, 4999 * W, None, None, "small", "indicators", "real_estate_development"),
    ("7020", 1000, 5000 * W, None, None, None, "large", "indicators", "property_management"),
    ("702", 99, 5000 * W, None, None, None, "micro", "indicators", "property_management"),
    ("7211", 300, None, 120000 * W, None, None, "large", "indicators", "leasing_business"),
    ("70", 300, None, None, None, None, "large", "indicators", "other"),  # division 70 alone: every other row
    ("7030", 100, None, None, None, None, "medium", "indicators", "other"),
    ("53", 9, None, None, None, None, "micro", "indicators", "other"),
    ("9421", 10, None, None, None, None, "small", "indicators", "other"),
    # rule 2: the row needs an indicator that is missing -> declared
    ("1310", 1200, None, None, "small", 500, "small", "declared", "industry"),
    ("7010", None, 300000 * W, None, "medium", None, "medium", "declared", "real_estate_development"),
    # rule 3: headcount row on employees, else on H0 (A5)
    ("1310", 300, None, None, None, 5, "large", "headcount", "industry"),
    ("0110", 99, None, None, None, 500, "small", "headcount", "agriculture"),
    ("1310", None, None, None, None, 100, "medium", "headcount", "industry"),
    ("1310", None, None, None, None, 0, "micro", "headcount", "industry"),
    # rule 4: nothing to go on
    ("1310", None, None, None, None, None, None, "unknown", "industry"),
    ("53", None, None, None, None, None, None, "unknown", "other"),
]


def frame(cases: list[tuple[Any, ...]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [c[:6] for c in cases],
        schema={
            "industry": pl.String,
            "employees": pl.Int64,
            "revenue_yuan": pl.Int64,
            "assets_yuan": pl.Int64,
            "size_class_declared": pl.String,
            "base_headcount": pl.Int64,
        },
        orient="row",
    )


def test_size_classes() -> None:
    got = classify(frame(CASES), headcount_fallback="employees_then_base").collect()
    rows = list(zip(got["size_class"], got["size_basis"], got["size_row"], strict=True))
    assert rows == [c[6:] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[6]}-{c[7]}")
def test_the_reference_agrees(case: tuple[Any, ...]) -> None:
    industry, employees, revenue, assets, declared, h0, size, basis, row = case
    unit = {
        "industry": industry,
        "employees": employees,
        "revenue_yuan": revenue,
        "assets_yuan": assets,
        "size_class_declared": declared,
    }
    assert reference.size_class(unit, h0, "employees_then_base") == (size, basis)
    assert reference.size_row(industry).key == row


def test_employees_only_fallback_ignores_h0() -> None:
    cases = [("1310", None, None, None, None, 100, None, "unknown", "industry")]
    got = classify(frame(cases), headcount_fallback="employees_only").collect()
    assert got.select("size_class", "size_basis").row(0) == (None, "unknown")
    with pytest.raises(ValueError, match="unknown size_headcount_fallback"):
        classify(frame(cases), headcount_fallback="guess")
