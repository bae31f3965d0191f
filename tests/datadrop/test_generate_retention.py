"""`generate(retention=True)`: the retention-training family's tables, valid, deterministic, screenable."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from mianshen.datadrop.generate import generate
from mianshen.datadrop.schema import TABLES
from mianshen.datadrop.validate import validate_drop
from mianshen.policy import retention, retention_reference
from mianshen.policy.codes import RETENTION_DECISION_COLUMNS
from mianshen.policy.parameters import resolve, with_overrides

FAMILY = ("credit_flags", "risk_areas", "person_months")


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ret") / "drop"
    generate(units=600, seed=5, out=out, retention=True)
    return out


def test_writes_both_tables_valid_and_in_schema_order(drop: Path) -> None:
    for name in ("risk_areas", "person_months"):
        header = (drop / f"{name}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.split(",") == TABLES[name].column_names
    result = validate_drop(drop)
    assert result.problems.height == 0
    persons = result.tables["person_months"]
    assert persons.height > 600
    assert persons["person_id"].str.contains("^[0-9a-f]{64}$").all()
    twice = persons.group_by("person_id", "month").agg(pl.len().alias("n")).filter(pl.col("n") > 1)
    assert twice.height > 0  # the two-units rule has persons to exclude


def test_same_seed_same_bytes_and_without_the_option_the_tables_go(tmp_path: Path) -> None:
    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    generate(units=200, seed=9, out=tmp_path / "a", retention=True)
    generate(units=200, seed=9, out=tmp_path / "b", retention=True)
    for name in ("risk_areas", "person_months"):
        assert digest(tmp_path / "a" / f"{name}.csv") == digest(tmp_path / "b" / f"{name}.csv")
    generate(units=200, seed=9, out=tmp_path / "a")
    assert not (tmp_path / "a" / "person_months.csv").exists()
    assert not (tmp_path / "a" / "risk_areas.csv").exists()


@pytest.mark.parametrize("rule", ["month_of_risk", "insured_months", "single_unit_in_month"])
def test_the_generated_drop_screens_alike_in_engine_and_reference(drop: Path, rule: str) -> None:
    tables = validate_drop(drop, tables=FAMILY).tables
    as_of = date(2022, 6, 30)
    params = with_overrides(resolve("retention-training-2022", as_of), {"headcount_rule": rule})
    got = retention.decisions(retention.evaluate(tables, params, as_of))
    rows = [
        {c: "" if r[c] is None else str(r[c]) for c in RETENTION_DECISION_COLUMNS}
        for r in got.iter_rows(named=True)
    ]
    typed = {name: frame.to_dicts() for name, frame in tables.items()}
    assert rows == retention_reference.evaluate(typed, params, as_of)
    assert {r["decision"] for r in rows} >= {"eligible", "ineligible"}
    assert {r["reference_month"] for r in rows} == {"2022-04"}
