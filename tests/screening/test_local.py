"""`mianshen screen` bucket by bucket on one node (mianshen.screening.local): the same decisions.csv, byte for byte,
and the same validation (problems, lines, rows rejected) as the run that reads the drop whole, whatever the number
of buckets and the layout of the drop; one-line errors when the bucket files cannot be written or a part cannot
be read."""

from __future__ import annotations

import os
from datetime import date
from io import StringIO
from pathlib import Path
from unittest import mock

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.datadrop.drop import DropUnusable, ValidatedDrop
from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.policy.engine import INPUT_TABLES, screen
from mianshen.policy.parameters import resolve
from mianshen.screening import buckets as buckets_module
from mianshen.screening import local
from tests.bench.test_duckdb_baseline import SCREEN_TABLES, _dirty
from tests.datadrop.test_parts import dirty, split, write_single
from tests.spark.test_engine import write_layout

AS_OF = date(2021, 7, 1)
PARAMS = resolve("beijing-2021", AS_OF)


def screen_cli(drop: Path, out: Path, buckets: int | None) -> str:
    """``mianshen screen`` in this process, with MIANSHEN_SCREEN_BUCKETS set (None: from the drop's size)."""
    err = StringIO()
    saved = os.environ.pop("MIANSHEN_SCREEN_BUCKETS", None)
    if buckets is not None:
        os.environ["MIANSHEN_SCREEN_BUCKETS"] = str(buckets)
    try:
        call_command(
            "screen", "--policy", "beijing-2021", "--data", str(drop), "--as-of", AS_OF.isoformat(),
            "--out", str(out), stdout=StringIO(), stderr=err,
        )  # fmt: skip
    finally:
        os.environ.pop("MIANSHEN_SCREEN_BUCKETS", None)
        if saved is not None:
            os.environ["MIANSHEN_SCREEN_BUCKETS"] = saved
    return err.getvalue()


def assert_same_run(run: local.LocalRun, whole: ValidatedDrop) -> None:
    assert run.problems.equals(whole.problems)
    assert run.rejected == {name: frame.height for name, frame in whole.rejected.items()}
    assert run.decisions is not None
    assert run.decisions.equals(screen(whole.tables, PARAMS, AS_OF))


# --- small drops, any layout, any number of buckets (hypothesis) -------------------------------------------


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ValidatedDrop]:
    base = tmp_path_factory.mktemp("single")
    generate(units=300, seed=11, out=base / "gen", fmt="parquet")
    drop = write_single(dirty(base / "gen"), base / "single")
    return drop, validate_drop(drop, tables=INPUT_TABLES)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    parts=st.integers(0, 5),  # 0: one shuffled file per table
    buckets=st.integers(1, 7),
    row_group=st.sampled_from([None, 7, 1000]),
    slice_rows=st.sampled_from([13, 500, buckets_module.SLICE_ROWS]),  # a single file read in pieces
)
def test_buckets_give_the_whole_run_on_any_layout(
    single: tuple[Path, ValidatedDrop],
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    parts: int,
    buckets: int,
    row_group: int | None,
    slice_rows: int,
) -> None:
    source, _ = single
    drop = tmp_path_factory.mktemp("layout")
    for i, file in enumerate(sorted(source.glob("*.parquet"))):
        name = file.stem
        frame = pl.read_parquet(file).sample(fraction=1.0, shuffle=True, seed=seed + i)
        if parts:
            split(frame, drop / name, parts, row_group=row_group)
        else:
            frame.write_parquet(drop / f"{name}.parquet", row_group_size=row_group)
    work = tmp_path_factory.mktemp("work")
    with mock.patch.object(buckets_module, "SLICE_ROWS", slice_rows):
        run = local.run_partitioned(
            drop, INPUT_TABLES, workdir=work, params=PARAMS, as_of=AS_OF, partitions=buckets
        )
    assert_same_run(run, validate_drop(drop, tables=INPUT_TABLES))
    assert list(work.iterdir()) == []  # the bucket files are removed


# --- dirty rows of every kind, through the command ----------------------------------------------------------


@pytest.fixture(scope="module")
def dirty_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    clean = tmp_path_factory.mktemp("gen") / "clean"
    generate(units=3_000, seed=7, out=clean, fmt="parquet")
    tables = _dirty({name: pl.read_parquet(clean / f"{name}.parquet") for name in SCREEN_TABLES})
    accounts = pl.read_parquet(clean / "bank_accounts.parquet")
    return {**tables, "bank_accounts": pl.concat([accounts, accounts.slice(1_500, 1)])}


@pytest.mark.parametrize("layout", ["parquet", "shuffled-parts", "csv"])
def test_the_command_in_buckets_writes_the_same_decisions(
    dirty_tables: dict[str, pl.DataFrame], tmp_path: Path, layout: str
) -> None:
    drop = write_layout(dirty_tables, layout, tmp_path / "drop")
    whole_err = screen_cli(drop, tmp_path / "whole", 1)
    buckets_err = screen_cli(drop, tmp_path / "buckets", 6)
    assert (tmp_path / "buckets" / "decisions.csv").read_bytes() == (
        tmp_path / "whole" / "decisions.csv"
    ).read_bytes()
    assert (tmp_path / "buckets" / "decisions.parquet").read_bytes() == (
        tmp_path / "whole" / "decisions.parquet"
    ).read_bytes() or pl.read_parquet(tmp_path / "buckets" / "decisions.parquet").equals(
        pl.read_parquet(tmp_path / "whole" / "decisions.parquet")
    )
    assert buckets_err == whole_err and "0 rows rejected" not in whole_err
    assert sorted(p.name for p in (tmp_path / "buckets").iterdir()) == ["decisions.csv", "decisions.parquet"]

    whole = validate_drop(drop, tables=INPUT_TABLES)
    run = local.run_partitioned(
        drop, INPUT_TABLES, workdir=tmp_path / "w", params=PARAMS, as_of=AS_OF, partitions=4
    )
    assert_same_run(run, whole)
    codes = set(run.problems["code"])
    assert {"DUPLICATE_KEY", "UNKNOWN_UNIT", "DUPLICATE_CREDIT_CODE", "BAD_ENUM", "NEGATIVE"} <= codes
    # validation only (every table, bank_accounts too): the same problems as `mianshen validate`
    checked = local.run_partitioned(drop, None, workdir=tmp_path / "w", partitions=3)
    reference = validate_drop(drop)
    assert checked.decisions is None
    assert checked.problems.equals(reference.problems)
    assert checked.rows == {name: src.rows for name, src in reference.files.items()}


def test_a_single_parquet_file_is_read_in_pieces_with_its_lines(single: tuple[Path, ValidatedDrop]) -> None:
    drop, whole = single
    rows = whole.files["headcount"].rows
    with mock.patch.object(buckets_module, "SLICE_ROWS", 1000):
        plan_ = local.plan(drop, INPUT_TABLES, encoding="utf-8", partitions=3)
    pieces = [t for t in plan_.tasks if t.table == "headcount"]
    assert [(t.offset, t.first_line, t.rows) for t in pieces] == [
        (start, start + 2, min(1000, rows - start)) for start in range(0, rows, 1000)
    ]
    cut = pl.concat([p.frame for t in pieces for p in buckets_module.read_pieces(t, plan_)]).sort("line")
    assert cut["line"].to_list() == list(range(2, rows + 2))
    assert cut.drop("line").equals(
        pl.read_parquet(drop / "headcount.parquet").select(cut.drop("line").columns)
    )


def test_a_large_part_is_read_in_pieces_with_its_lines(tmp_path: Path) -> None:
    generate(units=300, seed=3, out=tmp_path / "drop", fmt="parquet", parts=2)
    whole = validate_drop(tmp_path / "drop", tables=["headcount"]).files["headcount"]
    with mock.patch.object(buckets_module, "SLICE_ROWS", 700):
        plan_ = local.plan(tmp_path / "drop", ["headcount"], encoding="utf-8", partitions=2)
    tasks = [t for t in plan_.tasks if t.table == "headcount"]
    first = whole.parts[0].rows
    assert [(t.name, t.offset, t.first_line) for t in tasks] == [
        *((whole.parts[0].filename, s, 2 + s) for s in range(0, first, 700)),
        *((whole.parts[1].filename, s, 2 + first + s) for s in range(0, whole.parts[1].rows, 700)),
    ]
    cut = pl.concat([p.frame for t in tasks for p in buckets_module.read_pieces(t, plan_)]).sort("line")
    assert cut["line"].to_list() == list(range(2, whole.rows + 2))


# --- how many buckets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "buckets"),
    [
        (0, 1),
        (1, 1),
        (52_000_000, 1),  # 1M units: read whole
        (local.WHOLE_ROWS, 1),
        (local.WHOLE_ROWS + 1, 5),
        (260_000_000, 19),  # 5M units
        (517_000_000, 37),  # 10M units
        (10**15, local.MAX_BUCKETS),
    ],
)
def test_buckets_follow_the_drop_size(rows: int, buckets: int) -> None:
    assert local.buckets_for(rows) == buckets


def test_a_small_drop_is_read_whole_and_rows_are_counted_from_footers_and_bytes(tmp_path: Path) -> None:
    generate(units=200, seed=2, out=tmp_path / "pq", fmt="parquet", parts=2)
    generate(units=200, seed=2, out=tmp_path / "csv", fmt="csv")
    whole = validate_drop(tmp_path / "pq", tables=INPUT_TABLES)
    counted = local.drop_rows(local.plan(tmp_path / "pq", INPUT_TABLES, encoding="utf-8", partitions=1))
    assert counted == sum(src.rows for src in whole.files.values())
    csv_bytes = sum(p.stat().st_size for p in (tmp_path / "csv").glob("*.csv") if p.stem in whole.files)
    estimate = local.drop_rows(local.plan(tmp_path / "csv", INPUT_TABLES, encoding="utf-8", partitions=1))
    assert estimate == pytest.approx(csv_bytes / local.CSV_BYTES_PER_ROW, abs=len(whole.files))
    assert local.buckets_wanted(tmp_path / "pq", INPUT_TABLES) == 1


# --- bad input: one line, exit 2 ----------------------------------------------------------------------------------


@pytest.fixture
def parts_drop(tmp_path: Path) -> Path:
    generate(units=200, seed=5, out=tmp_path / "drop", fmt="parquet", parts=3)
    return tmp_path / "drop"


def test_bucket_files_that_cannot_be_written_are_one_line(parts_drop: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(CommandError, match=r"^cannot write the bucket files to .*a-file/out: ") as refused:
        screen_cli(parts_drop, blocker / "out", 3)
    assert "\n" not in str(refused.value)


def test_an_unreadable_part_is_one_line(parts_drop: Path, tmp_path: Path) -> None:
    (parts_drop / "contributions" / "part-00001.parquet").write_bytes(b"PAR1 not parquet")
    with pytest.raises(
        CommandError, match=r"^contributions/part-00001.parquet: not a readable Parquet file$"
    ):
        screen_cli(parts_drop, tmp_path / "out", 4)
    with pytest.raises(DropUnusable, match="not a readable Parquet file"):
        validate_drop(parts_drop, tables=INPUT_TABLES)  # the same drop read whole says the same


def test_a_part_unreadable_after_planning_is_one_line(parts_drop: Path, tmp_path: Path) -> None:
    """A part whose footer reads but whose rows do not (truncated in the middle): the reader's message."""
    part = parts_drop / "headcount" / "part-00002.parquet"
    expected = None
    try:
        validate_drop(parts_drop, tables=INPUT_TABLES)
    except DropUnusable as exc:  # pragma: no cover - the intact drop is usable
        expected = str(exc)
    assert expected is None
    data = part.read_bytes()
    footer = data[-8 - int.from_bytes(data[-8:-4], "little") :]
    part.write_bytes(b"PAR1" + b"\0" * (len(data) - 4 - len(footer)) + footer)  # rows zeroed, footer kept
    with pytest.raises(DropUnusable) as whole:
        validate_drop(parts_drop, tables=INPUT_TABLES)
    with pytest.raises(CommandError) as refused:
        screen_cli(parts_drop, tmp_path / "out", 4)
    assert str(refused.value) == str(whole.value) and "\n" not in str(refused.value)


def test_no_units_in_buckets(parts_drop: Path, tmp_path: Path) -> None:
    for part in (parts_drop / "units").glob("*.parquet"):
        pl.read_parquet(part).clear().write_parquet(part)
    with pytest.raises(CommandError, match=r"^units/: no data rows \(a drop needs at least one unit\)$"):
        screen_cli(parts_drop, tmp_path / "out", 3)


@pytest.mark.parametrize("value", ["0", "x", "-3", "5000"])
def test_a_bad_bucket_count_is_one_line(parts_drop: Path, tmp_path: Path, value: str) -> None:
    os.environ["MIANSHEN_SCREEN_BUCKETS"] = value
    try:
        with pytest.raises(CommandError, match=r"^MIANSHEN_SCREEN_BUCKETS must be a number 1 … 4,096, not "):
            call_command(
                "screen", "--policy", "beijing-2021", "--data", str(parts_drop), "--as-of", "2021-07-01",
                "--out", str(tmp_path / "out"), stdout=StringIO(), stderr=StringIO(),
            )  # fmt: skip
    finally:
        del os.environ["MIANSHEN_SCREEN_BUCKETS"]
