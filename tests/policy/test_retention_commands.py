"""`mianshen screen` and `explain` under retention-training-2022 on a drop written to disk; one-line refusals."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from mianshen.datadrop.schema import TABLES
from mianshen.datadrop.validate import validate_drop
from mianshen.policy import retention_reference
from mianshen.policy.codes import RETENTION_DECISION_COLUMNS
from mianshen.policy.parameters import resolve

from .test_commands import run
from .test_output import rfc4180
from .test_retention_cases import CASES, build

AS_OF = "2022-06-30"
POLICY = "retention-training-2022"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The national cases (hardship industries, no risk area in 2022) plus the Guizhou ones' units, as CSV."""
    spec = yaml.safe_load((CASES / "national.yaml").read_text(encoding="utf-8"))
    rows = build(spec, spec["cases"])
    out = tmp_path_factory.mktemp("retention")
    for name in ("units", "credit_flags", "risk_areas", "person_months"):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        columns = TABLES[name].column_names
        writer.writerow(columns)
        for row in rows[name]:
            writer.writerow([_text(row.get(c)) for c in columns])
        (out / f"{name}.csv").write_text(text.getvalue(), encoding="utf-8")
    return out


def test_screen_writes_the_family_decisions_file(drop: Path, tmp_path: Path) -> None:
    done = run("screen", "--policy", POLICY, "--data", str(drop), "--as-of", AS_OF, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "ineligible 1, manual_review 0, eligible 4" in done.stdout, done.stdout
    tables = validate_drop(drop, tables=("credit_flags", "risk_areas", "person_months")).tables
    typed = {name: frame.to_dicts() for name, frame in tables.items()}
    as_of = date.fromisoformat(AS_OF)
    rows = retention_reference.evaluate(typed, resolve(POLICY, as_of), as_of)
    expected = ",".join(RETENTION_DECISION_COLUMNS) + "\n"
    expected += "".join(
        ",".join(rfc4180(r[c] or None) for c in RETENTION_DECISION_COLUMNS) + "\n" for r in rows
    )
    assert (tmp_path / "decisions.csv").read_bytes() == expected.encode("utf-8")
    assert (tmp_path / "decisions.parquet").exists()


def test_explain_in_both_languages_with_sources(drop: Path) -> None:
    base = ["explain", "--policy", POLICY, "--data", str(drop), "--as-of", AS_OF, "--unit"]
    zh, en = run(*base, "N01"), run(*base, "N01", "--lang", "en")
    assert zh.returncode == 0 and en.returncode == 0, zh.stderr + en.stderr
    assert "符合条件" in zh.stdout and "特困行业" in zh.stdout and "人社部发〔2022〕31号" in zh.stdout
    assert "补助金额：1,000.00 元（2 人 × 每人 500.00 元）" in zh.stdout
    assert "hardship industry" in en.stdout and "amount: 1,000.00 yuan (2 × 500.00 yuan a head)" in en.stdout
    assert "hardship_reference_month = 2022-05" in en.stdout and "assumption" in en.stdout
    refused = run(*base, "N03", "--lang", "en")
    assert "FAIL NOT_AFFECTED" in refused.stdout and "amount: 0.00 yuan (not eligible)" in refused.stdout


def test_a_drop_without_the_family_tables_is_refused_in_one_line(drop: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("units", "credit_flags", "risk_areas"):
        (partial / f"{name}.csv").write_bytes((drop / f"{name}.csv").read_bytes())
    done = run(
        "screen", "--policy", POLICY, "--data", str(partial), "--as-of", AS_OF, "--out", str(tmp_path / "o")
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "person_months.csv" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_refund_is_not_asked_of_a_retention_drop(drop: Path, tmp_path: Path) -> None:
    refund = run(
        "screen", "--policy", "national-2022", "--data", str(drop), "--as-of", AS_OF, "--out", str(tmp_path)
    )
    assert refund.returncode == 2 and "headcount.csv" in refund.stderr and "Traceback" not in refund.stderr


def test_simulate_runs_through_the_family(drop: Path) -> None:
    """Guizhou's 400 yuan beside the national 500: the same units covered, the cost four fifths."""
    base = ["simulate", "--policy", POLICY, "--data", str(drop), "--as-of", AS_OF]
    sim = run(*base, "--set", "per_head=400", "--format", "json")
    assert sim.returncode == 0, sim.stderr
    import json

    result = json.loads(sim.stdout)
    assert result["overrides"] == {"per_head": "400"} and result["units_changing_decision"] == 0
    assert result["cost_fen_variant"] * 5 == result["cost_fen_baseline"] * 4 > 0
    kinds = {row["breakdown"] for row in result["breakdowns"]}
    assert kinds == {"size_class", "district"}
    table = run(*base, "--set", "per_head=400")
    assert (
        table.returncode == 0
        and "manual_review" in table.stdout
        and "covered = a payable decision" in table.stdout
    )
    bad = run(*base, "--set", "per_person=400")
    assert bad.returncode == 2 and "unknown parameter" in bad.stderr and "Traceback" not in bad.stderr


def test_screen_on_spark_refuses_the_retention_family_in_one_line(drop: Path, tmp_path: Path) -> None:
    """The Spark engine runs the refund's core; another family is refused before any JVM starts."""
    done = run("screen", "--policy", POLICY, "--data", str(drop), "--as-of", AS_OF, "--out", str(tmp_path),
               "--engine", "spark")  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--engine polars" in done.stderr, done.stderr
    assert not (tmp_path / "decisions.csv").exists()
