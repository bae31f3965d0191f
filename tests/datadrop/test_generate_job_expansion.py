"""`generate(job_expansion=True)`: the job-expansion family's tables, valid, deterministic, pseudonymous (the
register matches the hires through the pseudonym's normalisation), screenable, and the engine agrees with the
reference on them."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from mianshen.core.pseudonym import pseudonym
from mianshen.datadrop.generate import generate
from mianshen.datadrop.schema import TABLES
from mianshen.datadrop.synth.job_expansion import identity_number
from mianshen.datadrop.validate import validate_drop
from mianshen.policy import job_expansion, job_expansion_reference
from mianshen.policy.codes import JOB_DECISION_COLUMNS, PERSON_REASONS
from mianshen.policy.parameters import resolve

FAMILY = ("hires", "graduate_register", "hiring_subsidy_recipients")
AS_OF = date(2022, 12, 31)


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("jobexp") / "drop"
    generate(units=500, seed=5, out=out, job_expansion=True)
    return out


def test_writes_the_tables_valid_in_schema_order_and_pseudonymous(drop: Path) -> None:
    for name in FAMILY:
        text = (drop / f"{name}.csv").read_text(encoding="utf-8")
        assert text.split("\n", 1)[0].split(",") == TABLES[name].column_names
        assert not re.search(r"\b[0-9]{17}[0-9Xx]\b", text), name  # no identity number in clear
    result = validate_drop(drop)
    assert result.problems.height == 0
    hires, register = result.tables["hires"], result.tables["graduate_register"]
    assert hires.height > 500 and hires["person_id"].str.contains("^[0-9a-f]{64}$").all()
    # the register was typed with a lower-case x: the pseudonym's normalisation still matches it to the hires
    matched = hires.join(register, on="person_id", how="semi")["person_id"].n_unique()
    assert matched / hires["person_id"].n_unique() > 0.8
    assert hires["person_id"].n_unique() < hires.height  # some persons hired by two units
    assert result.tables["hiring_subsidy_recipients"].height > 0


def test_the_pseudonym_is_made_from_the_synthetic_number_with_the_configured_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MIANSHEN_PSEUDONYM_KEY", "another-key")
    generate(units=20, seed=5, out=tmp_path / "a", job_expansion=True)
    other = (tmp_path / "a" / "hires.csv").read_text(encoding="utf-8").splitlines()[1]
    first_unit_person = other.split(",")[1]
    # person k of unit index i is number idx * 8 + k: keyed by the environment's key, not the demo key
    numbers = [identity_number(5, k) for k in range(20 * 8)]
    assert first_unit_person in {pseudonym(n, b"another-key") for n in numbers}
    assert first_unit_person not in {
        pseudonym(n, b"mianshen-demo-only-pseudonym-key-not-for-production") for n in numbers
    }


def test_deterministic_and_without_the_flag_removed(drop: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(units=500, seed=5, out=again, job_expansion=True)
    for name in FAMILY:
        assert (again / f"{name}.csv").read_bytes() == (drop / f"{name}.csv").read_bytes()
    generate(units=50, seed=5, out=again)
    assert not any((again / f"{name}.csv").exists() for name in FAMILY)


def test_screenable_with_every_reason_and_the_reference_agrees(drop: Path) -> None:
    tables = validate_drop(drop, tables=("units", "credit_flags", *FAMILY)).tables
    params = resolve("job-expansion-2022", AS_OF)
    evaluated = job_expansion.evaluate(tables, params, AS_OF)
    assert set(evaluated["decision"]) == {"eligible", "ineligible"}
    judged = job_expansion.judge_hires(tables, params, AS_OF).collect()
    seen = set(judged["reason"].drop_nulls())
    assert seen >= set(PERSON_REASONS) - {"ALREADY_PAID"}  # the ledger is not a drop table
    rows = [
        {c: "" if r[c] is None else str(r[c]) for c in JOB_DECISION_COLUMNS}
        for r in job_expansion.decisions(evaluated).iter_rows(named=True)
    ]
    typed = {name: frame.to_dicts() for name, frame in tables.items()}
    assert rows == job_expansion_reference.evaluate(typed, params, AS_OF)


def test_distinct_persons_get_distinct_identity_numbers() -> None:
    """So two persons never share a pseudonym (the register's key): the number is a bijection of the index."""
    numbers = {identity_number(5, k) for k in range(0, 400_000, 3)}
    assert len(numbers) == len(range(0, 400_000, 3))
    assert all(re.fullmatch(r"11[0-9]{15}[0-9X]", n) for n in list(numbers)[:1000])
