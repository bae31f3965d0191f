"""`mianshen screen`, `explain` and `simulate` under the job-expansion policies on a drop written to disk (the
hand-computed 2022 cases); one-line refusals."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from mianshen.datadrop.schema import TABLES
from mianshen.datadrop.validate import validate_drop
from mianshen.policy import job_expansion_reference
from mianshen.policy.codes import JOB_DECISION_COLUMNS
from mianshen.policy.parameters import resolve

from .test_commands import run
from .test_job_expansion_cases import CASES, build
from .test_job_expansion_cases import TABLES as FAMILY_TABLES
from .test_output import rfc4180

AS_OF = "2022-12-31"
POLICY = "job-expansion-2022"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = yaml.safe_load((CASES / "2022.yaml").read_text(encoding="utf-8"))
    rows = build(spec, spec["cases"])
    out = tmp_path_factory.mktemp("job_expansion")
    for name in FAMILY_TABLES:
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
    assert "0 rows rejected" in done.stderr, done.stderr
    tables = validate_drop(drop, tables=FAMILY_TABLES).tables
    typed = {name: frame.to_dicts() for name, frame in tables.items()}
    as_of = date.fromisoformat(AS_OF)
    rows = job_expansion_reference.evaluate(typed, resolve(POLICY, as_of), as_of)
    expected = ",".join(JOB_DECISION_COLUMNS) + "\n"
    expected += "".join(",".join(rfc4180(r[c] or None) for c in JOB_DECISION_COLUMNS) + "\n" for r in rows)
    assert (tmp_path / "decisions.csv").read_bytes() == expected.encode("utf-8")
    assert b"J06,91110105000000005X,eligible,,,1,1,150000,150000" in expected.encode("utf-8")


def test_explain_in_both_languages_with_sources(drop: Path) -> None:
    base = ["explain", "--policy", POLICY, "--data", str(drop), "--as-of", AS_OF, "--unit"]
    zh, en = run(*base, "J05"), run(*base, "J05", "--lang", "en")
    assert zh.returncode == 0 and en.returncode == 0, zh.stderr + en.stderr
    assert "招用 2 人，其中 1 人符合条件" in zh.stdout and "人社部发〔2022〕31号" in zh.stdout
    assert "已计入更早招用的单位（每人只计一家企业一次） 1 人（COUNTED_ELSEWHERE）" in zh.stdout
    assert "补助金额：1,500.00 元（1 人 × 每人 1,500.00 元）" in zh.stdout
    assert "amount: 1,500.00 yuan (1 × 1,500.00 yuan a person)" in en.stdout
    assert "assumption J8" in en.stdout
    # the one-enterprise rule reads every unit: J12 is excluded, so r counts for J13
    j13 = run(*base, "J13", "--lang", "en")
    assert "1 of 1 hires are eligible" in j13.stdout, j13.stdout
    refused = run(*base, "J04", "--lang", "en")
    assert (
        "FAIL NO_ELIGIBLE_HIRE" in refused.stdout
        and "received the one-off hiring subsidy: 1" in refused.stdout
    )
    assert "amount: 0.00 yuan (not eligible)" in refused.stdout


def test_simulate_by_size_class_and_district(drop: Path) -> None:
    base = ["simulate", "--policy", POLICY, "--data", str(drop), "--as-of", AS_OF]
    sim = run(*base, "--set", "per_person=1000", "--set", "min_contribution_months=2", "--format", "json")
    assert sim.returncode == 0, sim.stderr
    result = json.loads(sim.stdout)
    # baseline: J01 J03 J05 J06 J07 J13 J15, one person each; with 2 months J01 (1), J03 (c: 1) and J15 (1) drop
    assert result["cost_fen_baseline"] == 7 * 150000
    assert result["cost_fen_variant"] == 4 * 100000
    assert result["units_changing_decision"] == 3
    by = {(r["breakdown"], r["key"]): r for r in result["breakdowns"]}
    district = by[("district", "110105")]
    assert (district["units_insured"], district["covered_baseline"], district["covered_variant"]) == (
        17,
        7,
        4,
    )
    assert district["amount_fen_change"] == 4 * 100000 - 7 * 150000
    table = run(*base, "--set", "per_person=1000")
    assert table.returncode == 0 and "covered = a payable decision (eligible)" in table.stdout
    bad = run(*base, "--set", "per_head=400")
    assert bad.returncode == 2 and "unknown parameter" in bad.stderr and "Traceback" not in bad.stderr


def test_a_drop_without_the_family_tables_is_refused_in_one_line(drop: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("units", "credit_flags", "hires", "graduate_register"):
        (partial / f"{name}.csv").write_bytes((drop / f"{name}.csv").read_bytes())
    done = run(
        "screen", "--policy", POLICY, "--data", str(partial), "--as-of", AS_OF, "--out", str(tmp_path / "o")
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "hiring_subsidy_recipients.csv" in done.stderr
    assert "Traceback" not in done.stderr
