"""Helpers to write small data drops from Python values (no database needed)."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Mapping
from pathlib import Path

import polars as pl
import pytest

from mianshen.datadrop.schema import TABLES, uscc_check_char

Rows = list[dict[str, str]]


def uscc(first17: str) -> str:
    """A valid 18-character USCC from its first 17 characters."""
    return first17 + uscc_check_char(first17)


USCC_1 = uscc("91110105MA01ABCD3")
USCC_2 = uscc("51110108500012345")
USCC_OUTSIDE = uscc("91310115MA1K00042")  # a host employer outside the city: no unit of the drop
USCC_3 = uscc("91110108MA00XYW1Q")  # unit U003 has no other rows: its problems touch no other file
PERSON_1 = "a" * 64  # pseudonyms: 64 lower-case hex digits (HMAC-SHA256)
PERSON_2 = "0123456789abcdef" * 4

# A small drop where every row is good; tests change one thing. Lines: units U001 2, U002 3, U003 4.
GOOD: dict[str, Rows] = {
    "units": [
        {
            "unit_id": "U001",
            "credit_code": USCC_1,
            "name": "北京甲科技有限公司",
            "unit_type": "enterprise",
            "industry": "6513",
            "district": "110105",
            "dispatch": "0",
            "size_class_declared": "small",
            "employees": "25",
            "revenue_yuan": "1000000",
            "assets_yuan": "",
            "deregistered_on": "",
            "phone": "13800138000",
        },
        {
            "unit_id": "U002",
            "credit_code": USCC_2,
            "name": '北京乙律师事务所, "普通合伙"',
            "unit_type": "law_firm",
            "industry": "7231",
            "district": "110108",
            "dispatch": "1",
            "size_class_declared": "",
            "employees": "",
            "revenue_yuan": "",
            "assets_yuan": "",
            "deregistered_on": "2021-03-01",
            "phone": "",
        },
        {
            "unit_id": "U003",
            "credit_code": USCC_3,
            "name": "北京丙餐饮有限公司",
            "unit_type": "enterprise",
            "industry": "62",
            "district": "110101",
            "dispatch": "0",
            "size_class_declared": "",
            "employees": "0",
            "revenue_yuan": "",
            "assets_yuan": "",
            "deregistered_on": "",
            "phone": "",
        },
    ],
    "headcount": [
        {"unit_id": "U001", "month": "2019-12", "insured": "20"},
        {"unit_id": "U001", "month": "2020-12", "insured": "19"},
        {"unit_id": "U002", "month": "2019-12", "insured": "5"},
    ],
    "separations": [
        {"unit_id": "U001", "month": "2020-06", "reason": "retirement", "persons": "1"},
        {"unit_id": "U001", "month": "2020-06", "reason": "retirement", "persons": "2"},
    ],
    "contributions": [
        {
            "unit_id": "U001",
            "period": "2020-01",
            "due_fen": "10000",
            "paid_fen": "10000",
            "paid_on": "2020-01-15",
        },
        {"unit_id": "U002", "period": "2020-01", "due_fen": "500", "paid_fen": "0", "paid_on": ""},
    ],
    "bank_accounts": [
        {
            "unit_id": "U001",
            "bank_code": "102",
            "branch_code": "102100000011",
            "account_no": "6222020200001234567",
            "account_name": "北京甲科技有限公司",
        }
    ],
    "credit_flags": [
        {
            "credit_code": USCC_2,
            "flag": "abnormal_operation",
            "listed_on": "2020-05-01",
            "removed_on": "",
            "source": "市场监管局",
        }
    ],
    "dispatch_confirmations": [{"unit_id": "U002", "confirmed_on": "2021-02-01"}],
    "dispatch_hosts": [  # U002 (a dispatch firm) places workers with U001 and with an employer outside the city
        {"unit_id": "U002", "host_credit_code": USCC_1, "workers": "12"},
        {"unit_id": "U002", "host_credit_code": USCC_OUTSIDE, "workers": "3"},
    ],
    "risk_areas": [
        {"district": "110105", "level": "high", "from_on": "2022-04-12", "to_on": "2022-04-30"},
        {"district": "110108", "level": "medium", "from_on": "2022-05-02", "to_on": ""},
    ],
    "person_months": [
        {"person_id": PERSON_1, "unit_id": "U001", "month": "2022-04"},
        {"person_id": PERSON_2, "unit_id": "U001", "month": "2022-04"},
    ],
    "hires": [
        {
            "unit_id": "U002",
            "person_id": PERSON_1,
            "hired_on": "2022-07-01",
            "contract_start": "2022-07-01",
            "contribution_months": "3",
        },
        {
            "unit_id": "U002",
            "person_id": PERSON_2,
            "hired_on": "2022-08-15",
            "contract_start": "",
            "contribution_months": "0",
        },
    ],
    "graduate_register": [
        {"person_id": PERSON_1, "category": "graduate", "graduation_year": "2022", "birth_year": "2000"},
        {"person_id": PERSON_2, "category": "unemployed_youth", "graduation_year": "", "birth_year": "2003"},
    ],
    "hiring_subsidy_recipients": [{"person_id": PERSON_2, "granted_on": "2022-09-01"}],
}


def good_tables() -> dict[str, Rows]:
    return copy.deepcopy(GOOD)


def csv_text(table: str, rows: Rows, columns: list[str] | None = None) -> str:
    """The rows as CSV text (LF line ends, quoting where needed), header = ``columns`` or the schema's."""
    names = columns or TABLES[table].column_names
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(n, "") for n in names])
    return out.getvalue()


def write_drop(
    path: Path,
    tables: Mapping[str, Rows] | None = None,
    *,
    raw: Mapping[str, str | bytes] | None = None,
    fmt: str = "csv",
    omit: tuple[str, ...] = (),
) -> Path:
    """Write a drop into ``path``: ``tables`` (default: the good drop) as CSV or Parquet, then ``raw`` file
    contents by file name (e.g. ``{"units.csv": b"..."}``), leaving out the tables in ``omit``."""
    path.mkdir(parents=True, exist_ok=True)
    for table, rows in (good_tables() if tables is None else tables).items():
        if table in omit:
            continue
        if fmt == "csv":
            (path / f"{table}.csv").write_text(csv_text(table, rows), encoding="utf-8")
        else:
            typed_frame(table, rows).write_parquet(path / f"{table}.parquet")
    for name, content in (raw or {}).items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (path / name).write_bytes(data)
    return path


def text_frame(table: str, rows: Rows) -> pl.DataFrame:
    """The rows as a frame of text columns (empty → null)."""
    names = TABLES[table].column_names
    return pl.DataFrame(
        {n: [row.get(n) or None for row in rows] for n in names}, schema={n: pl.String for n in names}
    )


def typed_frame(table: str, rows: Rows) -> pl.DataFrame:
    """The rows typed the way a Parquet extract would hold them (ints Int64, dates Date, dispatch Int64)."""
    frame = text_frame(table, rows)
    casts = []
    for column in TABLES[table].columns:
        c = pl.col(column.name)
        if column.kind in ("int", "flag01"):
            casts.append(c.cast(pl.Int64))
        elif column.kind == "date":
            casts.append(c.str.to_date("%Y-%m-%d"))
        else:
            casts.append(c)
    return frame.select(casts)


def expected_accepted(table: str, rows: Rows, lines: list[int] | None = None) -> pl.DataFrame:
    """What ``validate`` must accept for good ``rows``: the values, typed as the schema says."""
    frame = typed_frame(table, rows).with_columns(
        pl.col(c.name).cast(pl.Boolean) for c in TABLES[table].columns if c.kind == "flag01"
    )
    line = pl.Series("line", lines or list(range(2, len(rows) + 2)), dtype=pl.Int64)
    return frame.insert_column(0, line).cast(TABLES[table].schema())  # type: ignore[arg-type]


def problem_keys(problems: pl.DataFrame) -> set[tuple[str, int, str, str]]:
    """The (file, line, column, code) of every problem."""
    return {(f, int(n), c, k) for f, n, c, k in problems.select("file", "line", "column", "code").iter_rows()}


class DropKit:
    """The helpers above, handed to tests by the ``kit`` fixture (test modules do not import conftest)."""

    GOOD = GOOD
    USCC_1 = USCC_1
    USCC_2 = USCC_2
    USCC_3 = USCC_3
    uscc = staticmethod(uscc)
    good_tables = staticmethod(good_tables)
    csv_text = staticmethod(csv_text)
    write_drop = staticmethod(write_drop)
    text_frame = staticmethod(text_frame)
    typed_frame = staticmethod(typed_frame)
    expected_accepted = staticmethod(expected_accepted)
    problem_keys = staticmethod(problem_keys)


@pytest.fixture(scope="session")
def kit() -> DropKit:
    return DropKit()


@pytest.fixture
def good_drop(tmp_path: Path) -> Path:
    """The good drop, as CSV files in a temporary directory."""
    return write_drop(tmp_path / "drop")
