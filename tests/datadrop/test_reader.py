"""Reading a drop's files: locating them, encodings, CSV records and their lines, Parquet types, hashes."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from mianshen.datadrop import reader
from mianshen.datadrop.drop import DropUnusable
from mianshen.datadrop.schema import TABLES
from mianshen.datadrop.validate import validate_drop

HEADCOUNT = TABLES["headcount"]
UNITS = TABLES["units"]


def read_headcount(tmp_path: Path, content: str | bytes, *, encoding: str = "utf-8") -> pl.DataFrame:
    path = tmp_path / "headcount.csv"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return reader.read_table(path, HEADCOUNT, encoding=encoding).frame


def lines_and_ids(frame: pl.DataFrame) -> list[tuple[int, str | None]]:
    return list(frame.select("line", "unit_id").iter_rows())


# --- locating files ---------------------------------------------------------------------------------------


def test_locate_finds_csv_and_parquet_and_skips_an_absent_optional_file(tmp_path: Path, kit) -> None:
    drop = kit.write_drop(tmp_path, omit=("dispatch_confirmations", "units"))
    kit.typed_frame("units", kit.GOOD["units"]).write_parquet(drop / "units.parquet")
    found = reader.locate(drop, reader.requested_tables(None))
    assert found["units"].name == "units.parquet"
    assert found["headcount"].name == "headcount.csv"
    assert "dispatch_confirmations" not in found


@pytest.mark.parametrize("table", [t for t in TABLES if TABLES[t].required_file])
def test_a_missing_required_file_makes_the_drop_unusable(tmp_path: Path, kit, table: str) -> None:
    drop = kit.write_drop(tmp_path, omit=(table,))
    with pytest.raises(DropUnusable, match=f"required file {table}.csv"):
        validate_drop(drop)


def test_both_csv_and_parquet_of_a_table_make_the_drop_unusable(tmp_path: Path, kit) -> None:
    drop = kit.write_drop(tmp_path)
    kit.typed_frame("headcount", kit.GOOD["headcount"]).write_parquet(drop / "headcount.parquet")
    with pytest.raises(DropUnusable, match=r"both headcount\.csv and headcount\.parquet"):
        validate_drop(drop)


def test_tables_limits_what_is_required_and_read(tmp_path: Path, kit) -> None:
    drop = kit.write_drop(tmp_path, omit=("bank_accounts", "dispatch_confirmations"))
    result = validate_drop(drop, tables=["headcount", "dispatch_confirmations"])
    assert set(result.tables) == {"units", "headcount"}  # units always; the absent optional file left out
    with pytest.raises(ValueError, match="unknown table"):
        validate_drop(drop, tables=["nonsense"])


def test_a_drop_that_is_not_a_directory_is_unusable(tmp_path: Path) -> None:
    with pytest.raises(DropUnusable, match="not a directory"):
        validate_drop(tmp_path / "missing")


# --- empty, header-only, truncated -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"\n\n\r\n", b"\xef\xbb\xbf"], ids=["0 bytes", "blank lines", "BOM only"]
)
def test_a_file_without_header_is_unusable(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(DropUnusable, match=r"headcount\.csv: the file is empty \(no header row\)"):
        read_headcount(tmp_path, content)


@pytest.mark.parametrize(
    "content", ["unit_id,month,insured", "unit_id,month,insured\n", "unit_id,month,insured\n\n"]
)
def test_a_header_only_file_has_no_rows(tmp_path: Path, kit, content: str) -> None:
    drop = kit.write_drop(tmp_path, raw={"headcount.csv": content})
    result = validate_drop(drop)
    assert result.tables["headcount"].height == 0
    assert result.files["headcount"].rows == 0
    assert result.exit_code == 0


def test_an_unterminated_quote_at_the_end_makes_the_file_unusable(tmp_path: Path) -> None:
    content = 'unit_id,month,insured\nU001,2019-12,20\nU001,"2020-1'
    with pytest.raises(DropUnusable, match=r"headcount\.csv: line 3: a quoted value is never closed"):
        read_headcount(tmp_path, content)


def test_an_unterminated_quote_in_the_middle_makes_the_file_unusable(tmp_path: Path) -> None:
    content = 'unit_id,month,insured\nU001,"2019-12,20\nU001,2020-12,19\nU002,2019-12,5\n'
    with pytest.raises(DropUnusable, match="line 2: a quoted value is never closed"):
        read_headcount(tmp_path, content)


def test_a_last_line_cut_mid_record_is_a_short_record(tmp_path: Path, kit) -> None:
    content = "unit_id,month,insured\nU001,2019-12,20\nU001,2020-1"
    drop = kit.write_drop(tmp_path, raw={"headcount.csv": content})
    result = validate_drop(drop)
    assert kit.problem_keys(result.problems) == {
        ("headcount.csv", 3, "month", "BAD_MONTH"),
        ("headcount.csv", 3, "insured", "REQUIRED_MISSING"),
    }
    assert result.tables["headcount"]["line"].to_list() == [2]


# --- encodings --------------------------------------------------------------------------------------------


def test_a_utf8_bom_is_skipped(tmp_path: Path) -> None:
    frame = read_headcount(tmp_path, "\ufeffunit_id,month,insured\nU001,2019-12,20\n".encode())
    assert lines_and_ids(frame) == [(2, "U001")]


def test_invalid_utf8_is_unusable_and_names_the_line(tmp_path: Path) -> None:
    content = b"unit_id,month,insured\nU001,2019-12,20\nU\xff01,2020-12,19\n"
    with pytest.raises(DropUnusable, match=r"headcount\.csv: not valid UTF-8 \(near line 3\).*gb18030"):
        read_headcount(tmp_path, content)


def test_invalid_utf8_far_into_a_large_file_names_its_line(tmp_path: Path) -> None:
    rows = "".join(f"U{i:07d},2019-12,{i % 50}\n" for i in range(800_000))
    content = ("unit_id,month,insured\n" + rows).encode() + b"\xe4\xb8\n"
    with pytest.raises(DropUnusable, match=r"near line 800002\)"):
        read_headcount(tmp_path, content)


def test_gb18030_is_read_only_when_asked_and_utf8_files_stay_utf8(tmp_path: Path, kit) -> None:
    units = kit.csv_text("units", kit.GOOD["units"]).encode("gb18030")
    drop = kit.write_drop(tmp_path, raw={"units.csv": units})
    with pytest.raises(DropUnusable, match="not valid UTF-8"):
        validate_drop(drop)
    result = validate_drop(drop, encoding="gb18030")
    assert result.tables["units"]["name"].to_list() == [r["name"] for r in kit.GOOD["units"]]
    assert result.exit_code == 0


def test_with_gb18030_a_utf8_file_with_bom_is_still_utf8(tmp_path: Path, kit) -> None:
    units = b"\xef\xbb\xbf" + kit.csv_text("units", kit.GOOD["units"]).encode("utf-8")
    drop = kit.write_drop(tmp_path, raw={"units.csv": units})
    result = validate_drop(drop, encoding="gb18030")
    assert result.tables["units"]["name"].to_list() == [r["name"] for r in kit.GOOD["units"]]


def test_invalid_gb18030_is_unusable(tmp_path: Path) -> None:
    with pytest.raises(DropUnusable, match="not valid GB18030"):
        read_headcount(tmp_path, b"unit_id,month,insured\nU\x81\x20,2019-12,1\n", encoding="gb18030")


# --- records and their lines ------------------------------------------------------------------------------


def test_quoted_newlines_keep_line_numbers_exact(tmp_path: Path) -> None:
    content = (
        "unit_id,month,insured\n"
        "U001,2019-12,20\n"
        '"U0\n02","2019\n-12",5\n'  # lines 3-5
        'U003,"2019-12",7\n'  # line 6
        '"U""4""\r\n\r\nx",2019-12,1\r\n'  # lines 7-9, CRLF inside the quotes
        "U005,2019-12,2\n"  # line 10
    )
    frame = read_headcount(tmp_path, content)
    assert lines_and_ids(frame) == [
        (2, "U001"),
        (3, "U0\n02"),
        (6, "U003"),
        (7, 'U"4"\r\n\r\nx'),
        (10, "U005"),
    ]


def test_blank_lines_are_kept_for_the_validator_and_counted(tmp_path: Path, kit) -> None:
    content = "\n\nunit_id,month,insured\r\nU001,2019-12,20\r\n\r\n   \n,,\nU001,2020-12,19\n\n"
    frame = read_headcount(tmp_path, content)
    assert frame["line"].to_list()[0] == 4  # the header is on line 3
    drop = kit.write_drop(tmp_path / "drop", raw={"headcount.csv": content})
    result = validate_drop(drop)
    assert result.tables["headcount"]["line"].to_list() == [4, 8]
    assert result.files["headcount"].rows == 2
    assert result.problems.is_empty()


def test_a_carriage_return_inside_an_unquoted_value_is_unusable(tmp_path: Path) -> None:
    with pytest.raises(DropUnusable, match=r"headcount\.csv: line 1: cannot be read as CSV"):
        read_headcount(tmp_path, b"\r\x00")


def test_stray_quotes_in_an_unquoted_value_are_kept_as_text(tmp_path: Path) -> None:
    content = 'unit_id,month,insured\nU"1,2019-12,20\n"U2"x,2019-12,5\n"U\n3",2019-12,1\nU4,2019-12,2\n'
    frame = read_headcount(tmp_path, content)
    assert lines_and_ids(frame) == [(2, 'U"1'), (3, "U2x"), (4, "U\n3"), (6, "U4")]


@pytest.mark.parametrize(
    "content",
    [
        "unit_id,month,insured\nU1,2019-12,20\nU2,2019-12,5\n",
        'unit_id,month,insured\n"U\n1",2019-12,20\n\nU2,"2019\n-12",5',
        'x,unit_id,y,month,insured\n"a\n\nb",U1,"c\nd",2019-12,20\n,,,,\nq,U2,"",2019-12\n',
        "unit_id,month,insured\r\nU1,2019-12,20\r\n\r\nU2,2019-12,5\r\n",
    ],
    ids=["plain", "quoted newlines", "unknown columns with newlines", "crlf"],
)
def test_the_fast_and_the_exact_csv_readers_agree(content: str) -> None:
    data = content.encode()
    fast = reader._polars_csv(data, "headcount.csv", HEADCOUNT)
    exact = reader._python_csv(content, "headcount.csv", HEADCOUNT)
    assert fast is not None
    blank = pl.all_horizontal(pl.col(HEADCOUNT.column_names).is_null())
    exact = exact.with_columns(pl.col(HEADCOUNT.column_names).replace("", None))
    assert fast.filter(~blank).equals(exact.filter(~blank))
    assert fast.filter(~blank).height == 2


def test_short_records_have_empty_fields_and_extra_fields_are_ignored(tmp_path: Path) -> None:
    frame = read_headcount(tmp_path, "unit_id,month,insured\nU1,2019-12\nU2,2019-12,5,extra,more\n")
    assert frame.rows() == [(2, "U1", "2019-12", None), (3, "U2", "2019-12", "5")]


# --- headers ----------------------------------------------------------------------------------------------


def test_unknown_columns_are_ignored_and_absent_optional_columns_are_empty(tmp_path: Path, kit) -> None:
    rows = kit.GOOD["units"]
    names = ["note", *[c for c in UNITS.column_names if c not in ("phone", "employees")]]
    drop = kit.write_drop(tmp_path, raw={"units.csv": kit.csv_text("units", rows, names)})
    result = validate_drop(drop)
    units = result.tables["units"]
    assert list(units.columns) == ["line", *UNITS.column_names]
    assert units["phone"].null_count() == units["employees"].null_count() == len(rows)
    assert result.exit_code == 0


def test_a_missing_required_column_is_unusable_with_a_hint_about_case(tmp_path: Path) -> None:
    with pytest.raises(DropUnusable, match=r"required column\(s\) missing: insured$"):
        read_headcount(tmp_path, "unit_id,month\nU1,2019-12\n")
    with pytest.raises(DropUnusable, match=r"missing: unit_id \(header names are exact lower case\)"):
        read_headcount(tmp_path, "Unit_ID,month,insured\nU1,2019-12,1\n")


def test_a_column_named_twice_is_unusable(tmp_path: Path) -> None:
    with pytest.raises(DropUnusable, match="column 'month' appears twice"):
        read_headcount(tmp_path, "unit_id,month,insured,month\nU1,2019-12,1,2020-01\n")


def test_header_names_may_have_surrounding_spaces(tmp_path: Path) -> None:
    frame = read_headcount(tmp_path, " unit_id , month,insured \nU1,2019-12,1\n")
    assert frame.rows() == [(2, "U1", "2019-12", "1")]


# --- hashes -----------------------------------------------------------------------------------------------


def test_file_hashes_and_the_drop_content_hash(tmp_path: Path, kit) -> None:
    drop = kit.write_drop(tmp_path / "a")
    first = validate_drop(drop)
    units_bytes = (drop / "units.csv").read_bytes()
    assert first.files["units"].sha256 == hashlib.sha256(units_bytes).hexdigest()
    lines = sorted(f"{f.filename} {f.sha256}\n" for f in first.files.values())
    assert first.content_hash == hashlib.sha256("".join(lines).encode()).hexdigest()
    same = validate_drop(kit.write_drop(tmp_path / "b"))
    assert same.content_hash == first.content_hash
    (drop / "units.csv").write_bytes(units_bytes + b"\n")
    assert validate_drop(drop).content_hash != first.content_hash


# --- Parquet ----------------------------------------------------------------------------------------------


def test_parquet_lines_are_row_index_plus_two(tmp_path: Path, kit) -> None:
    path = tmp_path / "headcount.parquet"
    kit.typed_frame("headcount", kit.GOOD["headcount"]).write_parquet(path)
    frame = reader.read_table(path, HEADCOUNT).frame
    assert frame["line"].to_list() == [2, 3, 4]
    assert frame.schema["insured"] == pl.Int64


@pytest.mark.parametrize(
    ("table", "column", "values", "message"),
    [
        ("headcount", "insured", pl.Series([20.0, 19.0, 5.0]), "'insured' is of type Float64"),
        ("headcount", "unit_id", pl.Series([1, 1, 2]), "'unit_id' is of type Int64"),
        ("headcount", "month", pl.Series([datetime(2019, 12, 1)] * 3), "'month' is of type Datetime"),
        ("contributions", "paid_on", pl.Series([datetime(2020, 1, 15)] * 2), "'paid_on' is of type Datetime"),
        ("units", "dispatch", pl.Series([0.0, 1.0, 0.0]), "'dispatch' is of type Float64"),
    ],
)
def test_a_parquet_column_that_cannot_hold_its_values_is_unusable(
    tmp_path: Path, kit, table: str, column: str, values: pl.Series, message: str
) -> None:
    drop = kit.write_drop(tmp_path, omit=(table,))
    kit.typed_frame(table, kit.GOOD[table]).with_columns(values.alias(column)).write_parquet(
        drop / f"{table}.parquet"
    )
    with pytest.raises(DropUnusable, match=message):
        validate_drop(drop)


def test_parquet_of_random_bytes_is_unusable(tmp_path: Path, kit) -> None:
    drop = kit.write_drop(tmp_path, omit=("units",), raw={"units.parquet": b"PAR1 not really"})
    with pytest.raises(DropUnusable, match=r"units\.parquet: not a readable Parquet file"):
        validate_drop(drop)


def test_a_parquet_file_with_a_missing_required_column_is_unusable(tmp_path: Path, kit) -> None:
    drop = kit.write_drop(tmp_path, omit=("headcount",))
    kit.typed_frame("headcount", kit.GOOD["headcount"]).drop("month").write_parquet(
        drop / "headcount.parquet"
    )
    with pytest.raises(DropUnusable, match=r"headcount\.parquet: required column\(s\) missing: month"):
        validate_drop(drop)
