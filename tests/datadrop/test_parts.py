"""A table as a folder of Parquet parts (contracts §1): what is read, what is refused, where the report says a
problem is, and that the layout changes nothing — the same accepted rows, the same decisions, the same report
once each row's line is replaced by its content, whatever the order of rows and units and the number of parts
and row groups."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.datadrop.drop import DropUnusable, ValidatedDrop
from mianshen.datadrop.generate import TABLES, GenerateError, generate
from mianshen.datadrop.validate import validate_drop
from mianshen.policy.engine import screen
from mianshen.policy.parameters import resolve

AS_OF = date(2021, 6, 30)


def split(frame: pl.DataFrame, folder: Path, parts: int, *, row_group: int | None = None) -> None:
    """``frame`` as ``parts`` part files of (almost) equal size in ``folder``, with Spark's markers beside them."""
    folder.mkdir(parents=True)
    n = frame.height
    for k in range(parts):
        piece = frame.slice(k * n // parts, (k + 1) * n // parts - k * n // parts)
        piece.write_parquet(folder / f"part-{k:05d}-c000.snappy.parquet", row_group_size=row_group)
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-00000-c000.snappy.parquet.crc").write_bytes(b"crc")


def dirty(drop: Path) -> dict[str, pl.DataFrame]:
    """The tables of a generated Parquet drop with some bad rows (no repeated key): negative headcounts, a
    month that is no month, an unknown unit, a credit code that fails its check digit."""
    tables = {t: pl.read_parquet(drop / f"{t}.parquet") for t in TABLES}
    idx = pl.int_range(pl.len())
    tables["headcount"] = tables["headcount"].with_columns(
        pl.when(idx % 97 == 3).then(-5).otherwise(pl.col("insured")).alias("insured"),
        pl.when(idx % 89 == 7).then(pl.format("NOBODY{}", idx)).otherwise(pl.col("unit_id")).alias("unit_id"),
    )
    tables["contributions"] = tables["contributions"].with_columns(
        pl.when(idx % 101 == 5).then(pl.lit("2020-13")).otherwise(pl.col("period")).alias("period")
    )
    tables["units"] = tables["units"].with_columns(
        pl.when(idx % 53 == 11)
        .then(pl.format("9111{}X", idx.cast(pl.String).str.zfill(13)))  # each its own: none shared
        .otherwise(pl.col("credit_code"))
        .alias("credit_code")
    )
    return tables


def write_single(tables: dict[str, pl.DataFrame], out: Path) -> Path:
    out.mkdir(parents=True)
    for name, frame in tables.items():
        frame.write_parquet(out / f"{name}.parquet")
    return out


def content(drop: Path, table: str) -> dict[tuple[str, int], tuple[Any, ...]]:
    """(file, line) → the row's values, as the validation report names a row (line = index + 2)."""
    single = drop / f"{table}.parquet"
    files = [single] if single.exists() else sorted((drop / table).glob("[!._]*.parquet"))
    out: dict[tuple[str, int], tuple[Any, ...]] = {}
    for file in files:
        name = file.relative_to(drop).as_posix()
        for i, row in enumerate(pl.read_parquet(file).iter_rows()):
            out[(name, i + 2)] = row
    return out


def report_by_content(drop: Path, result: ValidatedDrop) -> Counter[tuple[Any, ...]]:
    """The report with each row's place replaced by its content (a file name inside a message as the table)."""
    rows = {t: content(drop, t) for t in TABLES}
    by_file = {name: t for t in TABLES for name in (f"{t}.parquet", f"{t}/")}
    counted: Counter[tuple[Any, ...]] = Counter()
    for file, line, column, code, severity, message in result.problems.iter_rows():
        table = by_file.get(file) or file.split("/")[0]
        for name, t in by_file.items():
            message = message.replace(name, t)
        counted[(table, rows[table][(file, line)], column, code, severity, message)] += 1
    return counted


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ValidatedDrop, pl.DataFrame]:
    base = tmp_path_factory.mktemp("ref")
    generate(units=300, seed=11, out=base / "gen", fmt="parquet")
    drop = write_single(dirty(base / "gen"), base / "single")
    result = validate_drop(drop)
    assert result.rejected_rows > 20 and result.warning_count >= 0  # the bad rows are there
    return drop, result, screen(result.tables, resolve("beijing-2021", AS_OF), AS_OF)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), parts=st.integers(1, 6), row_group=st.sampled_from([None, 7, 1000]))
def test_any_layout_gives_the_same_report_and_decisions(
    reference: tuple[Path, ValidatedDrop, pl.DataFrame],
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    parts: int,
    row_group: int | None,
) -> None:
    single, expected, decided = reference
    drop = tmp_path_factory.mktemp("layout")
    for i, name in enumerate(TABLES):
        frame = pl.read_parquet(single / f"{name}.parquet").sample(fraction=1.0, shuffle=True, seed=seed + i)
        split(frame, drop / name, parts, row_group=row_group)
    got = validate_drop(drop)
    assert report_by_content(drop, got) == report_by_content(single, expected)
    assert got.rejected_rows == expected.rejected_rows
    for name in TABLES:  # the same accepted rows (lines aside)
        assert (
            got.tables[name]
            .drop("line")
            .sort(pl.all())
            .equals(expected.tables[name].drop("line").sort(pl.all()))
        )
    assert screen(got.tables, resolve("beijing-2021", AS_OF), AS_OF).equals(decided)


def test_the_report_names_the_part_and_the_line_within_it(tmp_path: Path) -> None:
    generate(units=60, seed=2, out=tmp_path / "gen", fmt="parquet")
    tables = {t: pl.read_parquet(tmp_path / "gen" / f"{t}.parquet") for t in TABLES}
    hc = tables["headcount"]
    bad_at = hc.height - 3  # in the last part
    tables["headcount"] = hc.with_columns(
        pl.when(pl.int_range(pl.len()) == bad_at).then(-1).otherwise(pl.col("insured")).alias("insured")
    )
    drop = tmp_path / "drop"
    for name, frame in tables.items():
        split(frame, drop / name, 3)
    result = validate_drop(drop)
    problem = result.problems.filter(pl.col("column") == "insured").row(0, named=True)
    first_two = sum(pl.read_parquet(p).height for p in sorted((drop / "headcount").glob("part-0000[01]*")))
    assert problem["file"] == "headcount/part-00002-c000.snappy.parquet"
    assert problem["line"] == bad_at - first_two + 2
    assert result.files["headcount"].filename == "headcount/" and len(result.files["headcount"].parts) == 3
    assert result.files["headcount"].rows == hc.height


def test_generate_writes_parts_that_read_as_the_single_file(tmp_path: Path) -> None:
    rows = generate(units=900, seed=4, out=tmp_path / "single", fmt="parquet")
    assert generate(units=900, seed=4, out=tmp_path / "parts", fmt="parquet", parts=4) == rows
    a, b = validate_drop(tmp_path / "single"), validate_drop(tmp_path / "parts")
    for name in TABLES:
        parts = b.files[name].parts
        assert len(parts) == 4 and sum(p.rows for p in parts) == rows[name]
        assert a.tables[name].drop("line").sort(pl.all()).equals(b.tables[name].drop("line").sort(pl.all()))
    units_per_part = [
        pl.read_parquet(p)["unit_id"].to_list() for p in sorted((tmp_path / "parts/units").iterdir())
    ]
    for k, ids in enumerate(units_per_part):  # a unit's rows are all in its own part
        hc = pl.read_parquet(tmp_path / f"parts/headcount/part-{k:05d}.parquet")
        assert set(hc["unit_id"]) <= set(ids)
    # written again as single files: the folders go
    generate(units=900, seed=4, out=tmp_path / "parts", fmt="csv")
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == sorted(f"{t}.csv" for t in TABLES)


def test_generate_parts_refuses_csv_and_bad_counts(tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="--format parquet"):
        generate(units=10, seed=1, out=tmp_path / "a", fmt="csv", parts=2)
    with pytest.raises(GenerateError, match="--parts"):
        generate(units=10, seed=1, out=tmp_path / "a", fmt="parquet", parts=-1)
    (tmp_path / "b" / "units").mkdir(parents=True)
    (tmp_path / "b" / "units" / "notes.txt").write_text("mine")
    (tmp_path / "b" / "units.csv").write_text("unit_id\n")
    with pytest.raises(GenerateError, match="did not write"):
        generate(units=10, seed=1, out=tmp_path / "b", fmt="parquet", parts=2)
    assert (tmp_path / "b" / "units" / "notes.txt").read_text() == "mine"


@pytest.fixture
def parts_drop(tmp_path: Path) -> Path:
    generate(units=30, seed=5, out=tmp_path / "gen", fmt="parquet")
    drop = tmp_path / "drop"
    for name in TABLES:
        split(pl.read_parquet(tmp_path / "gen" / f"{name}.parquet"), drop / name, 2)
    return drop


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: (d / "units.csv").write_text("unit_id\n"), "both units/ and units.csv"),
        (lambda d: (d / "headcount" / "month=2020-01").mkdir(), "Hive-style"),
        (lambda d: (d / "headcount" / "nested").mkdir(), "folder inside"),
        (lambda d: (d / "headcount" / "part-9.csv").write_text("x"), "only Parquet parts"),
        (
            lambda d: (d / "headcount" / "part-99.parquet").write_bytes(b"PAR1 broken"),
            "not a readable Parquet",
        ),
        (
            lambda d: pl.DataFrame({"unit_id": ["U1"], "month": ["2020-01"], "insured": [1.5]}).write_parquet(
                d / "headcount" / "part-99.parquet"
            ),
            "differ from headcount/part-00000",
        ),
    ],
)
def test_layouts_that_cannot_be_read_make_the_drop_unusable(
    parts_drop: Path, change: Any, message: str
) -> None:
    change(parts_drop)
    with pytest.raises(DropUnusable, match=message) as refused:
        validate_drop(parts_drop)
    assert "\n" not in str(refused.value)


def test_empty_folders(parts_drop: Path) -> None:
    for part in (parts_drop / "credit_flags").iterdir():
        part.unlink()
    result = validate_drop(parts_drop)
    assert result.tables["credit_flags"].height == 0 and result.files["credit_flags"].parts == ()
    for part in (parts_drop / "units").iterdir():
        part.unlink()
    with pytest.raises(DropUnusable, match="units/: no data rows"):
        validate_drop(parts_drop)


def test_a_repeat_names_the_first_row_by_its_part_and_line(tmp_path: Path) -> None:
    generate(units=20, seed=8, out=tmp_path / "gen", fmt="parquet")
    units = pl.read_parquet(tmp_path / "gen" / "units.parquet")
    drop = tmp_path / "drop"
    for name in TABLES:
        if name != "units":
            split(pl.read_parquet(tmp_path / "gen" / f"{name}.parquet"), drop / name, 1)
    split(pl.concat([units, units.head(1)]), drop / "units", 2)  # the first unit again, at the end
    problem = validate_drop(drop).problems.filter(pl.col("code") == "DUPLICATE_KEY").row(0, named=True)
    assert problem["file"] == "units/part-00001-c000.snappy.parquet"
    assert problem["message"].endswith("of line 2 of units/part-00000-c000.snappy.parquet")


def test_the_content_hash_follows_the_parts(parts_drop: Path) -> None:
    before = validate_drop(parts_drop).content_hash
    (parts_drop / "units" / "_SUCCESS").write_bytes(b"ignored")
    assert validate_drop(parts_drop).content_hash == before
    first = sorted((parts_drop / "units").glob("part-*"))[0]
    first.rename(first.with_name("part-99999-c000.snappy.parquet"))  # the same rows, in another order
    assert validate_drop(parts_drop).content_hash != before
