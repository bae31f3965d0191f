"""Properties of validation: no input crashes it, and good rows always come through unchanged."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.datadrop.drop import DropUnusable, ValidatedDrop
from mianshen.datadrop.schema import CODES, ERROR, SIZE_CLASSES, TABLES, UNIT_TYPES, USCC_ALPHABET
from mianshen.datadrop.validate import validate_drop

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
EMPTY_TABLES = ("separations", "contributions", "bank_accounts", "credit_flags")


def header_only(table: str) -> str:
    return ",".join(TABLES[table].column_names) + "\n"


def validate_or_unusable(drop: Path, **kwargs: Any) -> ValidatedDrop | None:
    """Validate; None when the drop is unusable. Any other exception fails the test."""
    try:
        result = validate_drop(drop, **kwargs)
    except DropUnusable as exc:
        assert str(exc) and "\n" not in str(exc)
        return None
    assert_consistent(result)
    return result


def assert_consistent(result: ValidatedDrop) -> None:
    """What holds for every result: rows add up, errors and rejected rows match, problems are sorted."""
    problems = result.problems
    assert problems.equals(problems.sort(["file", "line", "column", "code", "message"]))
    for table, source in result.files.items():
        accepted, rejected = result.tables[table], result.rejected[table]
        assert accepted.height + rejected.height == source.rows
        assert accepted.schema == pl.Schema(TABLES[table].schema())
        errors = problems.filter((pl.col("file") == source.filename) & (pl.col("severity") == ERROR))
        assert set(errors["line"]) == set(rejected["line"])
        assert set(accepted["line"]).isdisjoint(rejected["line"])
    for code, severity in problems.select("code", "severity").unique().iter_rows():
        assert CODES[code] == severity


# --- anything in a file: DropUnusable or a result, never a crash ------------------------------------------

CSV_CHARS = st.sampled_from([*',"\n\r \t-.eE+019aZ\u3000\uff11\xe9', "2020-01", "U001", '""', "\r\n"])


@SETTINGS
@given(content=st.binary(max_size=3000), table=st.sampled_from(["units", "headcount", "credit_flags"]))
def test_random_bytes_as_a_csv_file_never_crash(kit: Any, content: bytes, table: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        drop = kit.write_drop(Path(tmp), raw={f"{table}.csv": content})
        validate_or_unusable(drop)
        validate_or_unusable(drop, encoding="gb18030")


@SETTINGS
@given(body=st.lists(CSV_CHARS, max_size=400).map("".join), bom=st.booleans())
def test_random_records_under_a_good_header_never_crash(kit: Any, body: str, bom: bool) -> None:
    content = ("\ufeff" if bom else "") + header_only("headcount") + body
    with tempfile.TemporaryDirectory() as tmp:
        drop = kit.write_drop(Path(tmp), raw={"headcount.csv": content})
        validate_or_unusable(drop)


@SETTINGS
@given(content=st.binary(max_size=2000))
def test_random_bytes_as_a_parquet_file_are_unusable(kit: Any, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        drop = kit.write_drop(Path(tmp), omit=("headcount",), raw={"headcount.parquet": b"PAR1" + content})
        assert validate_or_unusable(drop) is None


# --- good rows come through unchanged --------------------------------------------------------------------

DIGITS = "0123456789"
NOT_TRIMMED = set(
    "\x1c\x1d\x1e\x1f"
)  # Python strips these, the contract's trim (Unicode White_Space) does not


def trimmed(text: str) -> bool:
    return bool(text) and text == text.strip() and text[0] not in NOT_TRIMMED and text[-1] not in NOT_TRIMMED


def fixed(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=size, max_size=size)


def optional(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), strategy)


ints = st.integers(min_value=0, max_value=2**63 - 1).map(str)
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat)
months = st.tuples(st.integers(1, 9999), st.integers(1, 12)).map(lambda ym: f"{ym[0]:04d}-{ym[1]:02d}")
# a good name: any characters but control characters (CONTROL_CHARACTER) and lone surrogates (not UTF-8)
names = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(trimmed)
industries = st.tuples(st.integers(1, 97), fixed(DIGITS, 0) | fixed(DIGITS, 1) | fixed(DIGITS, 2)).map(
    lambda d: f"{d[0]:02d}{d[1]}"
)
uscc_bodies = st.tuples(fixed(USCC_ALPHABET, 2), fixed(DIGITS, 6), fixed(USCC_ALPHABET, 9)).map("".join)


@st.composite
def unit_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    from mianshen.datadrop.schema import uscc_check_char

    ids = draw(
        st.lists(
            st.text("ABCDEFGHJK0123456789-_", min_size=1, max_size=12), min_size=1, max_size=12, unique=True
        )
    )
    bodies = draw(st.lists(uscc_bodies, min_size=len(ids), max_size=len(ids), unique=True))
    rows = []
    for unit_id, body in zip(ids, bodies, strict=True):
        rows.append(
            {
                "unit_id": "U" + unit_id,
                "credit_code": body + uscc_check_char(body),
                "name": draw(names),
                "unit_type": draw(st.sampled_from(UNIT_TYPES)),
                "industry": draw(industries),
                "district": draw(fixed(DIGITS, 6)),
                "dispatch": draw(st.sampled_from(["0", "1"])),
                "size_class_declared": draw(optional(st.sampled_from(SIZE_CLASSES))),
                "employees": draw(optional(ints)),
                "revenue_yuan": draw(optional(ints)),
                "assets_yuan": draw(optional(ints)),
                "deregistered_on": draw(optional(dates)),
                "phone": draw(optional(fixed(DIGITS, 10).map(lambda d: "1" + d))),
            }
        )
    return rows


@st.composite
def good_drops(draw: st.DrawFn) -> dict[str, list[dict[str, str]]]:
    units = draw(unit_rows())
    keys = draw(
        st.lists(st.tuples(st.sampled_from([u["unit_id"] for u in units]), months), max_size=30, unique=True)
    )
    headcount = [{"unit_id": u, "month": m, "insured": draw(ints)} for u, m in keys]
    return {"units": units, "headcount": headcount}


@SETTINGS
@given(tables=good_drops(), fmt=st.sampled_from(["csv", "parquet"]))
def test_good_rows_are_accepted_unchanged(
    kit: Any, tables: dict[str, list[dict[str, str]]], fmt: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        drop = kit.write_drop(Path(tmp), tables, fmt=fmt)
        for table in EMPTY_TABLES:
            kit.write_drop(Path(tmp), {}, raw={f"{table}.csv": header_only(table)})
        result = validate_drop(drop)
        assert_consistent(result)
        assert result.problems.is_empty(), result.problems.rows()
        for table, rows in tables.items():
            lines = csv_lines(rows) if fmt == "csv" else None
            assert result.tables[table].equals(kit.expected_accepted(table, rows, lines)), table


def csv_lines(rows: list[dict[str, str]]) -> list[int]:
    """The line where each record starts: a value with line breaks (quoted) spans several lines."""
    lines, line = [], 2
    for row in rows:
        lines.append(line)
        line += 1 + sum(value.count("\n") for value in row.values())
    return lines


# --- unique keys: the fast paths agree with a plain reference ---------------------------------------------

key_parts = st.sampled_from(["A", "B", "C", "AA", None])


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(key_parts, key_parts), max_size=40),
    width=st.sampled_from([1, 2]),
    block=st.sampled_from([1, 2, 3, 1 << 22]),
    sort=st.sampled_from(["no", "first key", "whole key"]),
)
def test_later_repeats_agrees_with_a_plain_reference(
    rows: list[tuple[str | None, str | None]], width: int, block: int, sort: str
) -> None:
    from mianshen.datadrop import checks

    if sort != "no":  # extracts sorted by unit take the run-by-run path
        size = 1 if sort == "first key" else 2
        rows = sorted(rows, key=lambda r: tuple("" if p is None else p for p in r[:size]))
    keys = pl.DataFrame([pl.Series(f"k{i}", [r[i] for r in rows], dtype=pl.String) for i in range(width)])
    lines = pl.Series("line", [i + 2 for i in range(len(rows))], dtype=pl.Int64)
    expected: dict[int, int] = {}
    first: dict[tuple[str | None, ...], int] = {}
    for pos, row in enumerate(rows):
        key = row[:width]
        if None in key:
            continue
        if key in first:
            expected[pos] = first[key] + 2
        else:
            first[key] = pos
    saved = checks._BLOCK_ROWS
    checks._BLOCK_ROWS = block
    try:
        later = checks.later_repeats(keys, lines)
    finally:
        checks._BLOCK_ROWS = saved
    got = {} if later is None else dict(zip(later["pos"], later["first_line"], strict=True))
    assert got == expected


# --- free text: accepted exactly when the database can store it --------------------------------------------

CONTROL = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}


@SETTINGS
@given(
    name=st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
    | st.text(st.sampled_from("名a \t\n\x00\x85"), min_size=495, max_size=505),
    fmt=st.sampled_from(["csv", "parquet"]),
)
def test_a_name_is_accepted_exactly_when_it_fits_and_has_no_control_character(
    kit: Any, name: str, fmt: str
) -> None:
    tables = kit.good_tables()
    tables["units"][2]["name"] = name
    with tempfile.TemporaryDirectory() as tmp:
        result = validate_drop(kit.write_drop(Path(tmp), tables, fmt=fmt))
    kept = name.strip(_WHITE_SPACE)
    codes = set(result.problems.filter(pl.col("line") == 4)["code"])
    expected = set()
    if not kept:
        expected.add("REQUIRED_MISSING")
    if CONTROL & set(kept):
        expected.add("CONTROL_CHARACTER")
    if len(kept) > TABLES["units"].max_length("name"):
        expected.add("TOO_LONG")
    assert codes == expected, (name, result.problems.rows())
    if not expected:
        assert result.tables["units"].filter(pl.col("line") == 4)["name"].to_list() == [kept]


# Unicode White_Space: what the contract's trim removes (Python's str.strip also removes U+001C..U+001F)
_WHITE_SPACE = "".join(chr(c) for c in (*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                                         0x2028, 0x2029, 0x202F, 0x205F, 0x3000))  # fmt: skip
