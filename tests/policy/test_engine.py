"""Engine properties that the case tables do not show: shape, types, purity, the as-of guard, unsorted input."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import mianshen.policy
from mianshen.policy import engine
from mianshen.policy.codes import CONDITION_CODES, DECISION_COLUMNS, OUTCOMES, ROUTE_CODES
from mianshen.policy.conditions import CONDITION_BY_CODE, CONDITIONS, ROUTE_BY_CODE, ROUTES
from mianshen.policy.parameters import AsOfOutsideYear, resolve

from .helpers import frames

AS_OF = date(2021, 7, 1)
PARAMS = resolve("beijing-2021", AS_OF)
UNIT = {"name": "u", "unit_type": "enterprise", "industry": "8010", "district": "110105", "dispatch": 0}


def drop(n: int) -> dict[str, pl.DataFrame]:
    ids = [f"U{i:03d}" for i in range(n)]
    return frames(
        {
            "units": [
                {**UNIT, "unit_id": u, "credit_code": f"91110105{i:09d}X", "employees": i}
                for i, u in enumerate(ids)
            ],
            "headcount": [
                {"unit_id": u, "month": m, "insured": 10 + i}
                for i, u in enumerate(ids)
                for m in ("2019-12", "2020-12")
            ],
            "contributions": [
                {
                    "unit_id": u,
                    "period": "2020-03",
                    "due_fen": 100 * i,
                    "paid_fen": 100 * i,
                    "paid_on": "2020-03-20",
                }
                for i, u in enumerate(ids)
            ],
        }
    )


def test_one_row_per_unit_sorted_with_integer_money() -> None:
    evaluated = engine.evaluate(drop(30), PARAMS, AS_OF)
    assert evaluated.height == 30 and evaluated.get_column("unit_id").is_sorted()
    assert not [c for c, t in evaluated.schema.items() if t.is_float()]  # no binary fractions anywhere
    for column in (
        "base_fen",
        "amount_e4",
        "computed_amount_fen",
        "amount_fen",
        "ratio_bp",
        "layoff_limit_bp",
    ):
        assert evaluated.schema[column] == pl.Int64
    assert {evaluated.schema[c.outcome_column] for c in CONDITIONS} == {pl.Enum(list(OUTCOMES))}
    decided = engine.decisions(evaluated)
    assert decided.columns == list(DECISION_COLUMNS)
    assert decided.equals(engine.screen(drop(30), PARAMS, AS_OF))


def test_unsorted_input_gives_the_same_result() -> None:
    ordered = drop(40)
    shuffled = {name: frame.sample(fraction=1.0, shuffle=True, seed=3) for name, frame in ordered.items()}
    assert not shuffled["units"].get_column("unit_id").is_sorted()
    assert engine.screen(shuffled, PARAMS, AS_OF).equals(engine.screen(ordered, PARAMS, AS_OF))


def test_lazy_input_and_absent_optional_table() -> None:
    tables = {name: frame.lazy() for name, frame in drop(5).items() if name != "dispatch_confirmations"}
    assert engine.screen(tables, PARAMS, AS_OF).height == 5
    with pytest.raises(ValueError, match="table 'headcount' is required"):
        engine.screen({k: v for k, v in tables.items() if k != "headcount"}, PARAMS, AS_OF)


def test_as_of_must_match_the_parameter_set() -> None:
    with pytest.raises(ValueError, match="resolved for 2021-07-01"):
        engine.evaluate(drop(1), PARAMS, date(2021, 7, 2))
    with pytest.raises(AsOfOutsideYear):
        engine.evaluate(drop(1), PARAMS, date(2022, 7, 1))


def test_a_condition_not_in_force_has_no_outcome() -> None:
    evaluated = engine.evaluate(drop(3), PARAMS, AS_OF)
    assert evaluated.get_column("outcome_FULL_PAYMENT_SHORT").null_count() == 3
    assert evaluated.get_column("full_paid_periods").null_count() == 3


def test_registry_covers_every_code() -> None:
    assert set(CONDITION_BY_CODE) == set(CONDITION_CODES)
    assert set(ROUTE_BY_CODE) == set(ROUTE_CODES)
    for item in [*CONDITIONS, *ROUTES]:
        assert item.inputs and set(item.messages) == {"zh", "en"}
        assert all(p in PARAMS.values for p in item.parameters), item.code
        assert PARAMS.citation(item.code), item.code


CORE = ["codes", "conditions", "engine", "explain", "facts", "numbers", "reference", "simulate", "sizeclass"]
FORBIDDEN = {"django", "os", "pathlib", "io", "time", "datetime.datetime", "random", "open"}


@pytest.mark.parametrize("module", CORE)
def test_the_core_is_pure(module: str) -> None:
    """No Django, no clock, no files in the functional core (parameters.py reads its YAML; output.py writes)."""
    source = Path(mianshen.policy.__file__).parent.joinpath(f"{module}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
            imported |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            imported.add("open")
    assert not imported & FORBIDDEN, imported & FORBIDDEN
    assert "today(" not in source and "now(" not in source
