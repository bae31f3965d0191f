"""The retention-training family's parameter file: its own kinds of value (yuan to fen, a month, industry
prefixes), its dated scope (SMEs, then large enterprises from 31号), and the loader's one-line refusals."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from mianshen.policy import parameters as P
from mianshen.policy.numbers import NumberError, parse_fen

from .test_parameters import raw

POLICY = "retention-training-2022"


def test_the_file_loads_and_resolves_by_as_of_date() -> None:
    before, after = P.resolve(POLICY, date(2022, 5, 30)), P.resolve(POLICY, date(2022, 5, 31))
    assert before.policy.kind == after.policy.kind == "retention_training"
    assert before["per_head"] == 50_000  # 500 yuan in fen
    assert before["covered_size_categories"] == frozenset({"sme"})
    assert after["covered_size_categories"] == frozenset({"sme", "large"})
    assert before["hardship_industries"] == ()
    assert "62" in after["hardship_industries"] and "52" in after["hardship_industries"]
    assert after.citation("NOT_AFFECTED").startswith("人社部发〔2022〕23号")
    assert "assumption R6" in after.values["headcount_rule"].basis


@pytest.mark.parametrize(("text", "fen"), [("500", 50_000), ("400", 40_000), ("12.5", 1_250), ("0.01", 1)])
def test_yuan_text_is_exact_fen(text: str, fen: int) -> None:
    assert parse_fen(text) == fen


@pytest.mark.parametrize("text", ["500.005", "-5", "5e2", "五百", "", "1,000"])
def test_yuan_text_that_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(NumberError):
        parse_fen(text)


def _mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw("retention"))
    change(data)
    return data


def _set_value(name: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["parameters"][name]["values"][-1]["value"] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_value("per_head", "500.005"), "per_head"),
        (_set_value("hardship_reference_month", "2022-13"), "not a month"),
        (_set_value("hardship_industries", ["6a"]), "industry-code prefix"),
        (_set_value("hardship_industries", ["62", "62"]), "listed twice"),
        (_set_value("headcount_rule", "everyone"), "is not one of"),
        (lambda d: d.update(kind="pension"), "kind 'pension'"),
        (lambda d: d["parameters"].pop("per_head"), "missing key 'per_head'"),
        (
            lambda d: d["parameters"].update(layoff_rate_limit={"values": []}),
            "unknown key 'layoff_rate_limit'",
        ),
        (lambda d: d["policies"][POLICY].update(data_year=2021), "the same year"),
        (lambda d: d["citations"].pop("NO_INSURED"), "missing key 'NO_INSURED'"),
    ],
)
def test_the_loader_refuses_in_one_line(change: Any, message: str) -> None:
    with pytest.raises(P.ParameterError) as refused:
        P.parse_family(_mutated(change), "retention")
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_an_override_of_the_family_is_checked_by_its_own_kinds() -> None:
    params = P.resolve(POLICY, date(2022, 6, 30))
    assert P.with_overrides(params, {"per_head": "400"})["per_head"] == 40_000
    with pytest.raises(P.ParameterError, match="unknown parameter"):
        P.with_overrides(params, {"layoff_rate_limit": "0.05"})
    with pytest.raises(P.ParameterError):
        P.with_overrides(params, {"min_insured_months": "six"})
