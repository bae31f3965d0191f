"""`mianshen screen`, `explain` and `simulate` on generated drops: outputs, one-line errors, exit statuses."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.policy import reference
from mianshen.policy.codes import DECISION_COLUMNS
from mianshen.policy.parameters import resolve

from .test_output import rfc4180

AS_OF = "2021-07-01"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mianshen", *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("drop")
    generate(units=400, seed=11, out=out, fmt="csv")
    return out


def test_screen_writes_the_reference_rows_byte_for_byte(drop: Path, tmp_path: Path) -> None:
    done = run(
        "screen", "--policy", "beijing-2021", "--data", str(drop), "--as-of", AS_OF, "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "0 rows rejected"
    tables = validate_drop(drop).tables
    typed = {name: frame.to_dicts() for name, frame in tables.items()}
    as_of = date.fromisoformat(AS_OF)
    rows = reference.evaluate(typed, resolve("beijing-2021", as_of), as_of)
    expected = (
        ",".join(DECISION_COLUMNS)
        + "\n"
        + "".join(",".join(rfc4180(row[c] or None) for c in DECISION_COLUMNS) + "\n" for row in rows)
    )
    assert (tmp_path / "decisions.csv").read_bytes() == expected.encode("utf-8")
    parquet = pl.read_parquet(tmp_path / "decisions.parquet")
    assert parquet.height == len(rows) == tables["units"].height
    assert len({r["decision"] for r in rows}) >= 3  # the generated drop exercises several decisions


def test_screen_leaves_rejected_rows_out_and_needs_no_bank_accounts(drop: Path, tmp_path: Path) -> None:
    copy = tmp_path / "drop"
    copy.mkdir()
    for path in drop.iterdir():
        if path.name not in ("bank_accounts.csv", "dispatch_confirmations.csv"):
            (copy / path.name).write_bytes(path.read_bytes())
    with (copy / "units.csv").open("a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(
            ["BAD1", "not-a-code", "坏单位", "enterprise", "6513", "110105", "0"]
        )
    out = tmp_path / "out"
    done = run("screen", "--policy", "beijing-2021", "--data", str(copy), "--as-of", AS_OF, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "1 rows rejected"
    ids = pl.read_csv(out / "decisions.csv", infer_schema=False).get_column("unit_id")
    assert "BAD1" not in ids.to_list() and ids.is_sorted()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "beijing-2022", "--as-of", AS_OF], "unknown policy 'beijing-2022'"),
        (["--policy", "beijing-2021", "--as-of", "2022-01-01"], "outside the payment year of beijing-2021"),
        (["--policy", "beijing-2021", "--as-of", "2021-13-01"], "--as-of must be a date"),
    ],
)
def test_screen_refuses(drop: Path, tmp_path: Path, args: list[str], message: str) -> None:
    done = run("screen", *args, "--data", str(drop), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_screen_unusable_drop(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = run(
        "screen",
        "--policy",
        "beijing-2021",
        "--data",
        str(tmp_path / "empty"),
        "--as-of",
        AS_OF,
        "--out",
        str(tmp_path / "o"),
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


def test_explain(drop: Path) -> None:
    unit = pl.read_csv(drop / "units.csv", infer_schema=False).get_column("unit_id")[0]
    base = ["explain", "--policy", "beijing-2021", "--data", str(drop), "--as-of", AS_OF, "--unit"]
    zh, en = run(*base, unit), run(*base, unit, "--lang", "en")
    assert zh.returncode == en.returncode == 0, zh.stderr + en.stderr
    assert zh.stdout.startswith(f"单位 {unit}（统一社会信用代码 ") and "条件：" in zh.stdout
    assert en.stdout.startswith(f"unit {unit} (credit code ") and "conditions:" in en.stdout
    missing = run(*base, "NO-SUCH-UNIT")
    assert missing.returncode == 2 and "unknown unit 'NO-SUCH-UNIT'" in missing.stderr


def test_simulate(drop: Path, tmp_path: Path) -> None:
    base = ["simulate", "--policy", "beijing-2021", "--data", str(drop), "--as-of", AS_OF]
    out = tmp_path / "changes.csv"
    done = run(*base, "--set", "covered_unit_types=enterprise", "--set", "ratio.sme=0.90", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "cost baseline" in done.stdout and "units changing decision:" in done.stdout
    changes = pl.read_csv(out, infer_schema=False)
    assert changes.height > 0
    assert set(changes.get_column("decision_variant")) == {"ineligible"}
    for bad, message in [
        ("layoff_rate_limit", "expected NAME=VALUE"),
        ("bonus=1", "unknown parameter"),
        ("ratio.sme=lots", "not a plain decimal"),
    ]:
        refused = run(*base, "--set", bad)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
