"""Hand-computed units of the job-expansion family (tests/policy/job_expansion_cases/*.yaml) through the engine and
through the scalar reference evaluator, like the retention family's cases.

A case file names its policy, its as-of date, the register (``label: [category, graduation_year, birth_year]``),
the hiring-subsidy recipients and the persons already paid (``paid``: ``label`` under another policy id,
``label@UNIT`` for that unit under this one, as the person ledger passes them),
defaults for the unit, the row every case expects by default, and the cases. A case's ``hires`` are
``[label, hired_on, contract_start, contribution_months]``; a label stands for an identity number and is turned into
its pseudonym by ``core.pseudonym`` (a test key), as the generator does.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from mianshen.core.pseudonym import pseudonym
from mianshen.policy import job_expansion, job_expansion_reference
from mianshen.policy.codes import JOB_DECISION_COLUMNS, PERSON_REASONS
from mianshen.policy.parameters import resolve

from .helpers import frame

CASES = Path(__file__).parent / "job_expansion_cases"
FILES = sorted(CASES.glob("*.yaml"))
TABLES = ("units", "credit_flags", "hires", "graduate_register", "hiring_subsidy_recipients")
KEY = b"test-key"


def pid(label: str) -> str:
    return pseudonym(label, KEY)


def build(spec: dict[str, Any], cases: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    for label, (category, graduated, born) in (spec.get("register") or {}).items():
        rows["graduate_register"].append(
            {"person_id": pid(label), "category": category, "graduation_year": graduated, "birth_year": born}
        )
    rows["hiring_subsidy_recipients"] = [{"person_id": pid(p)} for p in spec.get("recipients") or []]
    for n, case in enumerate(cases):
        unit = {**spec["default_unit"], "credit_code": f"91110105{n:09d}X", **case["unit"]}
        rows["units"].append(unit)
        for label, hired, contract, months in case.get("hires") or []:
            rows["hires"].append(
                {
                    "unit_id": unit["unit_id"],
                    "person_id": pid(label),
                    "hired_on": hired,
                    "contract_start": contract,
                    "contribution_months": months,
                }
            )
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


def frames_of(spec: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> dict[str, pl.DataFrame]:
    frames = {name: frame(name, rows[name]) for name in TABLES}
    paid = [entry.partition("@") for entry in spec.get("paid") or []]  # label, or label@unit (this policy)
    frames["paid_persons"] = pl.DataFrame(
        {"person_id": [pid(p) for p, _, _ in paid], "unit_id": [u or None for _, _, u in paid]},
        schema={"person_id": pl.String, "unit_id": pl.String},
    )
    return frames


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def specs() -> list[Any]:
    return [pytest.param(yaml.safe_load(p.read_text(encoding="utf-8")), id=p.stem) for p in FILES]


def _expected(spec: dict[str, Any], case: dict[str, Any]) -> dict[str, str]:
    merged = {**spec["expect_default"], **case.get("expect", {})}
    assert set(merged) == set(JOB_DECISION_COLUMNS) - {"unit_id", "credit_code"}, case["unit"]["unit_id"]
    return {k: _text(v) for k, v in merged.items()}


@pytest.mark.parametrize("spec", specs())
def test_engine_and_reference_give_the_hand_computed_rows(spec: dict[str, Any]) -> None:
    as_of: date = spec["as_of"]
    params = resolve(spec["policy"], as_of)
    frames = frames_of(spec, build(spec, spec["cases"]))
    decided = job_expansion.decisions(job_expansion.evaluate(frames, params, as_of))
    got = {
        r["unit_id"]: {k: _text(r[k]) for k in JOB_DECISION_COLUMNS} for r in decided.iter_rows(named=True)
    }
    typed = {name: f.to_dicts() for name, f in frames.items()}
    oracle = {r["unit_id"]: r for r in job_expansion_reference.evaluate(typed, params, as_of)}
    for case in spec["cases"]:
        uid = case["unit"]["unit_id"]
        expected = _expected(spec, case)
        engine_row = {k: v for k, v in got[uid].items() if k not in ("unit_id", "credit_code")}
        oracle_row = {k: v for k, v in oracle[uid].items() if k not in ("unit_id", "credit_code")}
        assert engine_row == expected, f"{uid} ({case.get('note', '')})"
        assert oracle_row == expected, f"{uid} reference ({case.get('note', '')})"


def test_the_counted_persons_are_the_ones_paid_for() -> None:
    spec = yaml.safe_load((CASES / "2022.yaml").read_text(encoding="utf-8"))
    params = resolve(spec["policy"], spec["as_of"])
    frames = frames_of(spec, build(spec, spec["cases"]))
    counted = job_expansion.counted_persons(frames, params, spec["as_of"])
    assert counted["person_id"].n_unique() == counted.height  # one enterprise per person
    by_unit = dict(counted.group_by("unit_id").len().iter_rows())
    evaluated = job_expansion.evaluate(frames, params, spec["as_of"])
    for row in evaluated.iter_rows(named=True):
        assert by_unit.get(row["unit_id"], 0) == row["eligible_persons"] == len(row["persons"])
    assert ("J06", pid("p")) in set(counted.iter_rows()) and ("J13", pid("r")) in set(counted.iter_rows())


def test_the_cases_cover_every_reason_code_and_decision() -> None:
    failed: set[str] = set()
    decisions: set[str] = set()
    reasons: set[str] = set()
    for path in FILES:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        params = resolve(spec["policy"], spec["as_of"])
        frames = frames_of(spec, build(spec, spec["cases"]))
        judged = job_expansion.judge_hires(frames, params, spec["as_of"]).collect()
        reasons |= set(judged["reason"].drop_nulls())
        for case in spec["cases"]:
            expected = _expected(spec, case)
            failed |= {c for c in expected["failed"].split("|") if c}
            decisions.add(expected["decision"])
    assert failed == {"TYPE_NOT_COVERED", "DEREGISTERED", "SERIOUS_DISHONESTY", "NO_ELIGIBLE_HIRE"}
    assert decisions == {"eligible", "ineligible"}
    assert reasons == set(PERSON_REASONS)
