"""``mianshen screen --engine spark`` against ``--engine polars``: byte-identical decisions.csv and the same
validation (the same problems, lines and rows rejected) on generated drops with dirty rows of every kind, as one
Parquet file per table, as shuffled part folders with small row groups, as CSV, and at 100,000 units; one-line
errors for an unusable drop and a machine without PySpark or Java."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.policy.engine import INPUT_TABLES
from mianshen.policy.parameters import resolve
from mianshen.screening import spark
from tests.bench.test_duckdb_baseline import SCREEN_TABLES, _dirty
from tests.datadrop.test_parts import split

AS_OF = "2021-07-01"
UNITS = 3_000


def screen_cli(drop: Path, out: Path, *extra: str) -> str:
    """``mianshen screen`` in this process (the Spark engine finds the test session's SparkSession)."""
    err = StringIO()
    call_command(
        "screen", "--policy", "beijing-2021", "--data", str(drop), "--as-of", AS_OF, "--out", str(out),
        *extra, stdout=StringIO(), stderr=err,
    )  # fmt: skip
    return err.getvalue()


def on_spark(drop: Path, out: Path) -> str:
    return screen_cli(drop, out, "--engine", "spark", "--spark-master", "local[2]", "--spark-partitions", "5")


@pytest.fixture(scope="module")
def dirty_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    clean = tmp_path_factory.mktemp("gen") / "clean"
    generate(units=UNITS, seed=7, out=clean, fmt="parquet")
    tables = _dirty({name: pl.read_parquet(clean / f"{name}.parquet") for name in SCREEN_TABLES})
    accounts = pl.read_parquet(clean / "bank_accounts.parquet")  # validate reads it too: a repeated key
    return {**tables, "bank_accounts": pl.concat([accounts, accounts.slice(UNITS // 2, 1)])}


def write_layout(tables: dict[str, pl.DataFrame], layout: str, out: Path) -> Path:
    """The dirty drop as one Parquet file per table, as shuffled folders of 3 parts with 500-row groups (as
    another tool writes them), or as CSV with a blank line and a quoted comma in the units."""
    out.mkdir(parents=True)
    for i, (name, frame) in enumerate(tables.items()):
        if layout == "parquet":
            frame.write_parquet(out / f"{name}.parquet")
        elif layout == "shuffled-parts":
            split(frame.sample(fraction=1.0, shuffle=True, seed=20 + i), out / name, 3, row_group=500)
        else:
            if name == "units":
                frame = frame.with_columns(pl.format("{}, 有限公司", pl.col("name")).alias("name"))
            text = frame.write_csv()
            if name == "units":  # a blank line in the middle: skipped, and the lines after it count it
                lines = text.splitlines(keepends=True)
                text = "".join([*lines[:40], "\n", *lines[40:]])
            (out / f"{name}.csv").write_text(text, encoding="utf-8")
    return out


@pytest.mark.parametrize("layout", ["parquet", "shuffled-parts", "csv"])
def test_spark_screens_and_validates_as_polars(
    spark_session: Any, dirty_tables: dict[str, pl.DataFrame], tmp_path: Path, layout: str
) -> None:
    drop = write_layout(dirty_tables, layout, tmp_path / "drop")
    polars_err = screen_cli(drop, tmp_path / "polars")
    spark_err = on_spark(drop, tmp_path / "spark")
    expected = (tmp_path / "polars" / "decisions.csv").read_bytes()
    assert (tmp_path / "spark" / "decisions.csv").read_bytes() == expected
    assert pl.read_parquet(tmp_path / "spark" / "decisions.parquet").equals(
        pl.read_parquet(tmp_path / "polars" / "decisions.parquet")
    )
    assert spark_err == polars_err and "rows rejected" in spark_err

    # the validation: the same problems (file, line, column, code, severity, message), in report order
    reference = validate_drop(drop, tables=INPUT_TABLES)
    as_of = date.fromisoformat(AS_OF)
    run = spark.run_on_spark(spark_session, drop, INPUT_TABLES, partitions=7)
    assert run.decisions is None  # validation only
    assert run.problems.equals(reference.problems)
    assert run.rejected == {name: frame.height for name, frame in reference.rejected.items()}
    codes = set(run.problems["code"])
    assert {"DUPLICATE_KEY", "UNKNOWN_UNIT", "DUPLICATE_CREDIT_CODE", "BAD_ENUM", "NEGATIVE"} <= codes
    if layout == "shuffled-parts":  # lines within their part, and a first line named with its part
        assert run.problems["file"].str.contains("/part-").all()
        assert run.problems["message"].str.contains(r"of line \d+ of \w+/part-").any()
    screened = spark.run_on_spark(
        spark_session, drop, INPUT_TABLES, params=resolve("beijing-2021", as_of), as_of=as_of, partitions=1
    )  # one bucket: the same as many
    assert screened.decisions is not None
    assert screened.decisions.equals(pl.read_parquet(tmp_path / "polars" / "decisions.parquet"))


def test_validate_on_spark_writes_the_same_report(
    spark_session: Any, dirty_tables: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    """``mianshen validate --engine spark``: the same report file, the same summary, the same exit status."""
    drop = write_layout(dirty_tables, "shuffled-parts", tmp_path / "drop")
    outputs = []
    for engine in ("polars", "spark"):
        out, report = StringIO(), tmp_path / f"{engine}.csv"
        with pytest.raises(SystemExit) as exited:
            call_command(
                "validate",
                str(drop),
                "--report",
                str(report),
                "--engine",
                engine,
                stdout=out,
                stderr=StringIO(),
            )
        assert exited.value.code == 3  # rows rejected
        outputs.append((out.getvalue(), report.read_bytes()))
    assert outputs[0] == outputs[1]
    assert b"DUPLICATE_KEY" in outputs[1][1] and "bank_accounts/" in outputs[1][0]


def test_spark_at_100k_units_in_part_files(spark_session: Any, tmp_path: Path) -> None:
    """The CI-sized run (issue 14: 100,000 units in local mode): generate --parts 4, byte-identical decisions."""
    drop = tmp_path / "drop"
    generate(units=100_000, seed=3, out=drop, fmt="parquet", parts=4)
    screen_cli(drop, tmp_path / "polars")
    on_spark(drop, tmp_path / "spark")
    expected = (tmp_path / "polars" / "decisions.csv").read_bytes()
    assert expected.count(b"\n") == 100_001
    assert (tmp_path / "spark" / "decisions.csv").read_bytes() == expected


def test_an_unusable_drop_is_one_line_as_with_polars(spark_session: Any, tmp_path: Path) -> None:
    generate(units=50, seed=1, out=tmp_path / "drop", fmt="csv")
    units, headcount, flags = (tmp_path / "drop" / f"{t}.csv" for t in ("units", "headcount", "credit_flags"))
    original = {path: path.read_bytes() for path in (units, headcount, flags)}
    bad_text = "坏".encode("gb18030") + b"\n"
    cases = {
        "units not UTF-8": lambda: units.write_bytes(original[units] + bad_text),
        "a fact table not UTF-8": lambda: headcount.write_bytes(original[headcount] + bad_text),
        "flags and a fact table": lambda: (
            flags.write_bytes(original[flags] + bad_text),
            headcount.write_bytes(original[headcount] + bad_text),
        ),  # the first in table order, as validate reads them
        "no data rows": lambda: units.write_bytes(original[units].splitlines()[0] + b"\n\n"),
        "missing": lambda: units.unlink(),
    }
    for what, change in cases.items():
        for path, data in original.items():
            path.write_bytes(data)
        change()
        messages = []
        for engine in ("polars", "spark"):
            with pytest.raises(CommandError) as raised:
                screen_cli(tmp_path / "drop", tmp_path / engine, "--engine", engine)
            messages.append(str(raised.value))
        assert messages[0] == messages[1] and "\n" not in messages[0], what
    assert not (tmp_path / "spark" / "decisions.csv").exists()


def test_spark_options_are_checked(tmp_path: Path) -> None:
    generate(units=20, seed=1, out=tmp_path / "drop", fmt="csv")
    with pytest.raises(CommandError, match="go with --engine spark"):
        screen_cli(tmp_path / "drop", tmp_path / "o", "--spark-master", "local[2]")
    with pytest.raises(CommandError, match="--spark-partitions must be"):
        screen_cli(tmp_path / "drop", tmp_path / "o", "--engine", "spark", "--spark-partitions", "0")


def _cli(args: list[str], env: dict[str, str], prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = (
        f"{prelude}import sys; from mianshen.cli import main; sys.argv = ['mianshen', *sys.argv[1:]]; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_without_pyspark_or_java_one_line_says_what_to_install(tmp_path: Path) -> None:
    generate(units=20, seed=1, out=tmp_path / "drop", fmt="csv")
    args = ["screen", "--policy", "beijing-2021", "--data", str(tmp_path / "drop"), "--as-of", AS_OF]
    args += ["--out", str(tmp_path / "o"), "--engine", "spark"]
    env = dict(os.environ)
    no_pyspark = _cli(args, env, prelude="import sys; sys.modules['pyspark'] = None; ")
    assert no_pyspark.returncode == 2
    assert no_pyspark.stderr.strip() == f"mianshen screen: {spark.INSTALL_SPARK}"
    assert "pip install mianshen[spark]" in no_pyspark.stderr

    env.pop("JAVA_HOME", None)
    env["PATH"] = str(tmp_path)  # no java on it
    no_java = _cli(args, env)
    assert no_java.returncode == 2
    assert no_java.stderr.strip() == f"mianshen screen: {spark.INSTALL_JAVA}"
    assert not (tmp_path / "o").exists()
