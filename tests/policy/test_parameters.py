"""Parameter files: values by date, sources, refusals, the parameter-set hash, what-if overrides."""

from __future__ import annotations

import copy
from datetime import date
from importlib import resources
from typing import Any

import pytest
import yaml

from mianshen.policy import parameters as P

NATIONAL = [
    # policy, as-of, data year, layoff limit bp, large bp, sme bp, full payment required
    ("national-2020", date(2020, 7, 1), 2019, 550, 5000, 10000, False),
    ("national-2021", date(2021, 7, 1), 2020, 600, 3000, 6000, False),
    ("national-2022", date(2022, 5, 31), 2021, 550, 3000, 9000, False),
    ("national-2022", date(2022, 6, 1), 2021, 550, 5000, 9000, False),
    ("national-2023", date(2023, 7, 1), 2022, 550, 3000, 6000, False),
    ("national-2024", date(2024, 7, 1), 2023, 550, 3000, 6000, True),
    ("national-2025", date(2025, 7, 1), 2024, 550, 3000, 6000, True),
]


def raw(name: str) -> dict[str, Any]:
    text = (resources.files("mianshen.policy") / "params" / f"{name}.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@pytest.mark.parametrize(("policy", "as_of", "year", "limit", "large", "sme", "full"), NATIONAL)
def test_national_values_by_payment_year(
    policy: str, as_of: date, year: int, limit: int, large: int, sme: int, full: bool
) -> None:
    p = P.resolve(policy, as_of)
    assert (p.data_year, p.layoff_limit_bp, p.ratio_bp, "FULL_PAYMENT_SHORT" in p.conditions) == (
        year,
        limit,
        {"large": large, "sme": sme},
        full,
    )
    assert (p.small_limit_bp, p.small_max_headcount) == (2000, 30)
    assert "accounting_firm" in p["covered_unit_types"]


def test_beijing_2021() -> None:
    p = P.resolve("beijing-2021", date(2021, 7, 1))
    assert (p.data_year, p.layoff_limit_bp, p.small_limit_bp, p.small_max_headcount) == (2020, 600, 2000, 30)
    assert p.ratio_bp == {"large": 3000, "sme": 6000}
    assert p["covered_unit_types"] == frozenset(
        {
            "enterprise",
            "social_organization",
            "foundation",
            "social_service_institution",
            "law_firm",
            "individual_business",
        }
    )
    assert p["natural_attrition_reasons"] == frozenset({"retirement", "death"})
    assert p.ratio_category == {"large": "large", "medium": "sme", "small": "sme", "micro": "sme"}


def test_every_value_and_citation_has_a_source_or_an_assumption() -> None:
    for name in P.family_names():
        family = P.load_family(name)
        for series in [*family.parameters.values(), *family.citations.values()]:
            assert all(v.source or v.assumption for v in series)
    assumptions = {
        v.assumption[:2]
        for f in map(P.load_family, P.family_names())
        for s in f.parameters.values()
        for v in s
        if v.assumption and v.assumption.startswith("A")
    }
    assert assumptions == {"A1", "A2", "A3", "A4", "A5", "A6"}


def test_unknown_policy_and_as_of_outside_the_payment_year() -> None:
    with pytest.raises(P.UnknownPolicy, match="unknown policy 'beijing-2020'"):
        P.resolve("beijing-2020", date(2020, 7, 1))
    with pytest.raises(P.AsOfOutsideYear, match=r"2022-01-01 is outside the payment year of beijing-2021"):
        P.resolve("beijing-2021", date(2022, 1, 1))
    assert P.resolve("beijing-2021", date(2021, 12, 31)).resolved_on == date(2021, 12, 31)


def test_hash_identifies_the_resolved_set() -> None:
    before = P.resolve("national-2022", date(2022, 5, 31))
    same = P.resolve("national-2022", date(2022, 3, 1))
    after = P.resolve("national-2022", date(2022, 6, 1))
    assert before.param_hash == same.param_hash  # same versions in force
    assert before.param_hash != after.param_hash
    assert len(before.param_hash) == 64
    assert P.with_overrides(before, {}).param_hash == before.param_hash


# --- refusals --------------------------------------------------------------------------------------------------


def mutate(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw("beijing"))
    change(data)
    return data


def values(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = data["parameters"][name]["values"]
    return found


REFUSALS = [
    ("unknown top-level key", lambda d: d.update(extra=1), "unknown key 'extra'"),
    ("unknown policy key", lambda d: d["policies"]["beijing-2021"].update(year=1), "unknown key 'year'"),
    ("unknown parameter", lambda d: d["parameters"].update(bonus={"values": []}), "unknown key 'bonus'"),
    (
        "missing parameter",
        lambda d: d["parameters"].pop("layoff_rate_limit"),
        "missing key 'layoff_rate_limit'",
    ),
    ("unknown version key", lambda d: values(d, "layoff_rate_limit")[0].update(to="x"), "unknown key 'to'"),
    (
        "no source nor assumption",
        lambda d: values(d, "layoff_rate_limit")[0].pop("source"),
        "needs a source or an assumption",
    ),
    (
        "a float, not a string",
        lambda d: values(d, "layoff_rate_limit")[0].update(value=0.06),
        "quoted string",
    ),
    (
        "finer than a basis point",
        lambda d: values(d, "layoff_rate_limit")[0].update(value="0.06005"),
        "basis point",
    ),
    ("not a number", lambda d: values(d, "layoff_rate_limit")[0].update(value="6%"), "plain decimal"),
    (
        "a count with a sign",
        lambda d: values(d, "small_unit_max_headcount")[0].update(value="-30"),
        "whole number",
    ),
    ("unknown choice", lambda d: values(d, "base_paid_cutoff")[0].update(value="never"), "is not one of"),
    (
        "unknown unit type",
        lambda d: values(d, "covered_unit_types")[0]["value"].append("club"),
        "'club' is not one of",
    ),
    (
        "unknown condition code",
        lambda d: values(d, "conditions")[0]["value"].append("TOO_BIG"),
        "'TOO_BIG' is not one of",
    ),
    (
        "gap between versions",
        lambda d: values(d, "layoff_rate_limit").__setitem__(
            slice(None),
            [
                {"from": date(2021, 1, 1), "until": date(2021, 5, 31), "value": "0.06", "source": "s"},
                {"from": date(2021, 7, 1), "value": "0.05", "source": "s"},
            ],
        ),
        "gap between 2021-05-31 and 2021-07-01",
    ),
    (
        "overlapping versions",
        lambda d: values(d, "layoff_rate_limit").__setitem__(
            slice(None),
            [
                {"from": date(2021, 1, 1), "until": date(2021, 8, 31), "value": "0.06", "source": "s"},
                {"from": date(2021, 7, 1), "value": "0.05", "source": "s"},
            ],
        ),
        "versions overlap",
    ),
    (
        "two versions from the same day",
        lambda d: values(d, "layoff_rate_limit").append(
            {"from": date(2021, 1, 1), "value": "0.05", "source": "s"}
        ),
        "overlap or are out of date order",
    ),
    (
        "payment year not covered at its start",
        lambda d: values(d, "layoff_rate_limit")[0].update({"from": date(2021, 3, 1)}),
        "layoff_rate_limit has no value on 2021-01-01",
    ),
    (
        "payment year not covered at its end",
        lambda d: values(d, "layoff_rate_limit")[0].update({"until": date(2021, 11, 30)}),
        "layoff_rate_limit has no value on 2021-12-31",
    ),
    (
        "ratio table without a category in use",
        lambda d: values(d, "ratio")[0].update(value={"large": "0.30"}),
        "no ratio for category 'sme'",
    ),
    (
        "ratio category map leaving a size class out",
        lambda d: values(d, "ratio_category")[0].update(
            value={"large": "large", "medium": "sme", "small": "sme"}
        ),
        "does not cover every size class: 'micro' is missing",
    ),
    (
        "ratio table with an unknown category",
        lambda d: values(d, "ratio")[0]["value"].update(huge="0.1"),
        "'huge'",
    ),
    ("a citation missing", lambda d: d["citations"].pop("ARREARS"), "missing key 'ARREARS'"),
    ("a citation of an unknown code", lambda d: d["citations"].update(NOPE=[]), "unknown key 'NOPE'"),
    (
        "data year not before the payment year",
        lambda d: d["policies"]["beijing-2021"].update(data_year=2021),
        "data year",
    ),
]


@pytest.mark.parametrize(("change", "message"), [pytest.param(c, m, id=i) for i, c, m in REFUSALS])
def test_the_loader_refuses(change: Any, message: str) -> None:
    with pytest.raises(P.ParameterError, match=message) as caught:
        P.parse_family(mutate(change), "beijing")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("beijing.yaml")


def test_the_real_files_load() -> None:
    assert P.parse_family(raw("beijing"), "beijing").policies.keys() == {"beijing-2021"}
    assert len(P.parse_family(raw("national"), "national").policies) == 6


# --- overrides -------------------------------------------------------------------------------------------------


def test_overrides() -> None:
    base = P.resolve("beijing-2021", date(2021, 7, 1))
    what_if = P.with_overrides(
        base, {"layoff_rate_limit": "0.055", "ratio.sme": "0.90", "covered_unit_types": "enterprise,law_firm"}
    )
    assert (what_if.layoff_limit_bp, what_if.ratio_bp) == (550, {"large": 3000, "sme": 9000})
    assert what_if["covered_unit_types"] == frozenset({"enterprise", "law_firm"})
    assert what_if.param_hash != base.param_hash
    assert what_if.overrides == {
        "layoff_rate_limit": "0.055",
        "ratio": {"large": "0.30", "sme": "0.90"},
        "covered_unit_types": ["enterprise", "law_firm"],
    }
    assert base.layoff_limit_bp == 600  # the original is untouched


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ({"bonus": "1"}, "unknown parameter"),
        ({"ratio.huge": "0.5"}, "unknown key 'huge'"),
        ({"layoff_rate_limit.x": "0.5"}, "unknown parameter"),
        ({"layoff_rate_limit": "abc"}, "not a plain decimal"),
        ({"layoff_rate_limit": "1.5"}, "above 1"),
        ({"small_unit_max_headcount": "3.5"}, "whole number"),
        ({"base_paid_cutoff": "later"}, "is not one of"),
        ({"ratio_category.medium": "giant"}, "is not one of"),
    ],
)
def test_bad_overrides(assignment: dict[str, str], message: str) -> None:
    with pytest.raises(P.ParameterError, match=message):
        P.with_overrides(P.resolve("beijing-2021", date(2021, 7, 1)), assignment)


@pytest.mark.parametrize("text", ["ratio.sme", "=0.5", "ratio.sme=", "ratio.sme 0.9"])
def test_malformed_assignment(text: str) -> None:
    with pytest.raises(P.ParameterError, match="expected NAME=VALUE"):
        P.parse_assignment(text)


def test_assignment() -> None:
    assert P.parse_assignment(" ratio.sme = 0.90 ") == ("ratio.sme", "0.90")
