"""The job-expansion family's parameter file: the three policy ids as dated versions of one family (2022 graduates
only; 2023 graduates up to two years out and unemployed youth; 2025 social organisations and 3 months), every value
cited or a labelled assumption, and the loader's one-line refusals."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from mianshen.policy import parameters as P

from .test_parameters import raw


@pytest.mark.parametrize(
    ("policy", "as_of", "categories", "years_back", "months", "types", "window"),
    [
        (
            "job-expansion-2022",
            date(2022, 12, 31),
            {"graduate"},
            0,
            1,
            {"enterprise"},
            ("2022-01", "2022-12"),
        ),
        (
            "job-expansion-2023",
            date(2023, 6, 30),
            {"graduate", "unemployed_youth"},
            2,
            1,
            {"enterprise"},
            ("2023-01", "2023-12"),
        ),
        (
            "job-expansion-2025",
            date(2025, 1, 1),
            {"graduate", "unemployed_youth"},
            2,
            3,
            {"enterprise", "social_organization"},
            ("2025-01", "2025-12"),
        ),
    ],
)
def test_each_policy_id_resolves_its_years_values(
    policy: str,
    as_of: date,
    categories: set[str],
    years_back: int,
    months: int,
    types: set[str],
    window: tuple[str, str],
) -> None:
    p = P.resolve(policy, as_of)
    assert p.policy.kind == "job_expansion" and p.data_year == as_of.year
    assert p["per_person"] == 150_000  # 1,500 yuan in fen
    assert p["person_categories"] == frozenset(categories)
    assert p["graduation_years_back"] == years_back
    assert p["min_contribution_months"] == months
    assert p["covered_unit_types"] == frozenset(types)
    assert (p["hire_from"], p["hire_until"]) == window
    assert (p["youth_min_age"], p["youth_max_age"]) == (16, 24)
    assert p.citation("NO_ELIGIBLE_HIRE").startswith("人社部发〔2022〕31号")


def test_every_value_has_a_source_or_a_labelled_assumption() -> None:
    family = P.parse_family(raw("job_expansion"), "job_expansion")
    for name, versions in family.parameters.items():
        for v in versions:
            assert v.source or (v.assumption and v.assumption.startswith("J")), name


def test_an_as_of_outside_the_payment_year_is_refused() -> None:
    with pytest.raises(P.AsOfOutsideYear):
        P.resolve("job-expansion-2022", date(2023, 1, 1))


def _mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw("job_expansion"))
    change(data)
    return data


def _set_value(name: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["parameters"][name]["values"][-1]["value"] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_value("per_person", "1500.001"), "per_person"),
        (_set_value("hire_until", "2025-13"), "not a month"),
        (_set_value("person_categories", ["retiree"]), "is not one of"),
        (_set_value("min_contribution_months", "three"), "min_contribution_months"),
        (lambda d: d["parameters"].pop("per_person"), "missing key 'per_person'"),
        (lambda d: d["policies"]["job-expansion-2023"].update(data_year=2022), "the same year"),
        (lambda d: d["citations"].pop("NO_ELIGIBLE_HIRE"), "missing key 'NO_ELIGIBLE_HIRE'"),
    ],
)
def test_the_loader_refuses_in_one_line(change: Any, message: str) -> None:
    with pytest.raises(P.ParameterError) as refused:
        P.parse_family(_mutated(change), "job_expansion")
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_an_override_is_checked_by_the_familys_kinds() -> None:
    params = P.resolve("job-expansion-2023", date(2023, 6, 30))
    assert P.with_overrides(params, {"per_person": "1000"})["per_person"] == 100_000
    with pytest.raises(P.ParameterError, match="unknown parameter"):
        P.with_overrides(params, {"per_head": "500"})
