"""Validation of a drop: every code, normalisation, accepted / rejected rows, the report, the command."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mianshen.datadrop import checks
from mianshen.datadrop.drop import DropUnusable, ValidatedDrop
from mianshen.datadrop.report import write_report
from mianshen.datadrop.schema import CODES, ERROR, REPORT_COLUMNS, TABLES
from mianshen.datadrop.validate import validate_drop

MIANSHEN = Path(sys.executable).parent / "mianshen"

# An edit of the good drop: ("set", table, row index, column, value) or ("add", table, {column: value}).
Edit = tuple[Any, ...]
Key = tuple[str, int, str, str]


def edited(kit: Any, edits: list[Edit]) -> dict[str, list[dict[str, str]]]:
    tables = kit.good_tables()
    for edit in edits:
        if edit[0] == "set":
            _, table, index, column, value = edit
            tables[table][index][column] = value
        else:
            _, table, row = edit
            tables[table].append(dict(row))
    return tables


def check(
    kit: Any,
    tmp_path: Path,
    edits: list[Edit],
    expected: set[Key],
    *,
    tables: dict[str, list[dict[str, str]]] | None = None,
    **kwargs: Any,
) -> ValidatedDrop:
    """Validate the edited drop (``tables``: instead of the good one); its problems must be exactly
    ``expected``, and exactly the rows with an error must be rejected (with those codes), all others accepted."""
    drop = kit.write_drop(tmp_path / "drop", tables if tables is not None else edited(kit, edits), **kwargs)
    result = validate_drop(drop)
    assert kit.problem_keys(result.problems) == expected
    for file, code, severity in result.problems.select("file", "code", "severity").iter_rows():
        assert severity == CODES[code], (file, code)
    for table, source in result.files.items():
        errors: dict[int, set[str]] = {}
        for file, line, _column, code in expected:
            if file == source.filename and CODES[code] == ERROR:
                errors.setdefault(line, set()).add(code)
        rejected = result.rejected[table]
        assert dict(zip(rejected["line"], rejected["codes"], strict=True)) == {
            line: "|".join(sorted(codes)) for line, codes in errors.items()
        }
        assert set(result.tables[table]["line"]).isdisjoint(errors)
        assert result.tables[table].height + rejected.height == source.rows
    assert result.exit_code == (3 if any(CODES[k[3]] == ERROR for k in expected) else 0)
    return result


# --- the good drop ----------------------------------------------------------------------------------------


def test_the_good_drop_is_accepted_whole_and_typed(tmp_path: Path, kit: Any) -> None:
    result = check(kit, tmp_path, [], set())
    assert result.exit_code == 0
    for table, rows in kit.GOOD.items():
        assert result.tables[table].schema == pl.Schema(TABLES[table].schema())
        assert result.tables[table].equals(kit.expected_accepted(table, rows)), table
        assert result.rejected[table].is_empty()
    assert result.problems.columns == list(REPORT_COLUMNS)


# --- every code, table-driven -----------------------------------------------------------------------------

U3 = ("set", "units", 2)  # unit U003, line 4 of units.csv, has no other rows
CASES: list[tuple[str, list[Edit], set[Key]]] = [
    ("required name", [(*U3, "name", "")], {("units.csv", 4, "name", "REQUIRED_MISSING")}),
    ("required id spaces", [(*U3, "unit_id", "   ")], {("units.csv", 4, "unit_id", "REQUIRED_MISSING")}),
    (
        "required int",
        [("set", "headcount", 0, "insured", "")],
        {("headcount.csv", 2, "insured", "REQUIRED_MISSING")},
    ),
    (
        "required date",
        [("set", "dispatch_confirmations", 0, "confirmed_on", "")],
        {("dispatch_confirmations.csv", 2, "confirmed_on", "REQUIRED_MISSING")},
    ),
    *[
        (
            f"bad int {v!r}",
            [("set", "headcount", 0, "insured", v)],
            {("headcount.csv", 2, "insured", "BAD_INT")},
        )
        for v in ("+5", "5.0", "1e3", "abc", "1 000", "٣", "-0", "99999999999999999999", "0x10")
    ],
    ("bad optional int", [(*U3, "employees", "12.5")], {("units.csv", 4, "employees", "BAD_INT")}),
    (
        "negative",
        [("set", "contributions", 0, "due_fen", "-5")],
        {("contributions.csv", 2, "due_fen", "NEGATIVE")},
    ),
    (
        "negative persons",
        [("set", "separations", 1, "persons", "-1")],
        {("separations.csv", 3, "persons", "NEGATIVE")},
    ),
    ("uscc as number", [(*U3, "credit_code", "9.1E+17")], {("units.csv", 4, "credit_code", "ID_AS_NUMBER")}),
    (
        "uscc as number 2",
        [(*U3, "credit_code", "9.12e17")],
        {("units.csv", 4, "credit_code", "ID_AS_NUMBER")},
    ),
    (
        "account as number",
        [("set", "bank_accounts", 0, "account_no", "6.22202E+18")],
        {("bank_accounts.csv", 2, "account_no", "ID_AS_NUMBER")},
    ),
    (
        "unit id as number",
        [("set", "headcount", 0, "unit_id", "1.1E+10")],
        {("headcount.csv", 2, "unit_id", "ID_AS_NUMBER")},
    ),
    (
        "branch as number",
        [("set", "bank_accounts", 0, "branch_code", "1.021E+11")],
        {("bank_accounts.csv", 2, "branch_code", "ID_AS_NUMBER")},
    ),
    ("phone as number", [(*U3, "phone", "1.38E+10")], {("units.csv", 4, "phone", "ID_AS_NUMBER")}),
    *[
        (f"bad date {v!r}", [(*U3, "deregistered_on", v)], {("units.csv", 4, "deregistered_on", "BAD_DATE")})
        for v in (
            "2021-02-30",
            "2021-2-3",
            "20210203",
            "2021-13-01",
            "0000-01-01",
            "2021-02-28T00",
            "+2021-01-01",
        )
    ],
    (
        "bad paid_on",
        [("set", "contributions", 0, "paid_on", "2020/01/15")],
        {("contributions.csv", 2, "paid_on", "BAD_DATE")},
    ),
    (
        "bad listed_on",
        [("set", "credit_flags", 0, "listed_on", "soon")],
        {("credit_flags.csv", 2, "listed_on", "BAD_DATE")},
    ),
    (
        "bad confirmed_on",
        [("set", "dispatch_confirmations", 0, "confirmed_on", "2021-02-29")],
        {("dispatch_confirmations.csv", 2, "confirmed_on", "BAD_DATE")},
    ),
    *[
        (
            f"bad month {v!r}",
            [("set", "headcount", 0, "month", v)],
            {("headcount.csv", 2, "month", "BAD_MONTH")},
        )
        for v in ("2020-13", "2020-1", "202001", "2020-00", "0000-01", "2020-01-01")
    ],
    (
        "bad period",
        [("set", "contributions", 1, "period", "2020-13")],
        {("contributions.csv", 3, "period", "BAD_MONTH")},
    ),
    ("bad unit type", [(*U3, "unit_type", "Enterprise")], {("units.csv", 4, "unit_type", "BAD_ENUM")}),
    ("bad dispatch", [(*U3, "dispatch", "2")], {("units.csv", 4, "dispatch", "BAD_ENUM")}),
    ("bad dispatch text", [(*U3, "dispatch", "yes")], {("units.csv", 4, "dispatch", "BAD_ENUM")}),
    (
        "bad size class",
        [(*U3, "size_class_declared", "tiny")],
        {("units.csv", 4, "size_class_declared", "BAD_ENUM")},
    ),
    (
        "bad reason",
        [("set", "separations", 0, "reason", "quit")],
        {("separations.csv", 2, "reason", "BAD_ENUM")},
    ),
    (
        "bad flag",
        [("set", "credit_flags", 0, "flag", "blacklist")],
        {("credit_flags.csv", 2, "flag", "BAD_ENUM")},
    ),
    *[
        (f"bad uscc {v!r}", [(*U3, "credit_code", v)], {("units.csv", 4, "credit_code", "BAD_USCC")})
        for v in (
            "91110108MA00XYW1QI",
            "91110108MA00XYW1",
            "91A10108MA00XYW1Q6",
            "911101080A00XYW1Q6Z",
            "9111010８MA00XYW1QO",
        )
    ],
    (
        "bad flag uscc",
        [("set", "credit_flags", 0, "credit_code", "ABC")],
        {("credit_flags.csv", 2, "credit_code", "BAD_USCC")},
    ),
    (
        "uscc checksum",
        [(*U3, "credit_code", "USCC_3_BAD")],
        {("units.csv", 4, "credit_code", "USCC_CHECKSUM")},
    ),
    *[
        (f"bad industry {v!r}", [(*U3, "industry", v)], {("units.csv", 4, "industry", "BAD_CODE")})
        for v in ("98", "00", "1", "12345", "6a13", "99")
    ],
    ("bad district", [(*U3, "district", "11010")], {("units.csv", 4, "district", "BAD_CODE")}),
    (
        "bad bank code",
        [("set", "bank_accounts", 0, "bank_code", "1020")],
        {("bank_accounts.csv", 2, "bank_code", "BAD_CODE")},
    ),
    (
        "bad branch code",
        [("set", "bank_accounts", 0, "branch_code", "10210000001")],
        {("bank_accounts.csv", 2, "branch_code", "BAD_CODE")},
    ),
    (
        "branch of another bank",
        [("set", "bank_accounts", 0, "branch_code", "103100000011")],
        {("bank_accounts.csv", 2, "branch_code", "BAD_CODE")},
    ),
    (
        "paid without date",
        [("set", "contributions", 1, "paid_fen", "500")],
        {("contributions.csv", 3, "paid_on", "PAID_WITHOUT_DATE")},
    ),
    (
        "dates reversed",
        [("set", "credit_flags", 0, "removed_on", "2020-04-30")],
        {("credit_flags.csv", 2, "removed_on", "DATES_REVERSED")},
    ),
    (
        "risk area ends before it starts",
        [("set", "risk_areas", 0, "to_on", "2022-04-11")],
        {("risk_areas.csv", 2, "to_on", "DATES_REVERSED")},
    ),
    (
        "risk level not medium or high",
        [("set", "risk_areas", 1, "level", "low")],
        {("risk_areas.csv", 3, "level", "BAD_ENUM")},
    ),
    (
        "risk area district",
        [("set", "risk_areas", 0, "district", "1101")],
        {("risk_areas.csv", 2, "district", "BAD_CODE")},
    ),
    (
        "risk area repeated",
        [
            (
                "add",
                "risk_areas",
                {"district": "110105", "level": "high", "from_on": "2022-04-12", "to_on": ""},
            )
        ],
        {("risk_areas.csv", 4, "", "DUPLICATE_KEY")},
    ),
    *[
        (
            f"person id not a pseudonym {v!r}",
            [("set", "person_months", 0, "person_id", v)],
            {("person_months.csv", 2, "person_id", "BAD_PSEUDONYM")},
        )
        for v in ("110105199001011234", "A" * 64, "a" * 63, "g" * 64)
    ],
    (
        "person month of an unknown unit",
        [("set", "person_months", 1, "unit_id", "U999")],
        {("person_months.csv", 3, "unit_id", "UNKNOWN_UNIT")},
    ),
    (
        "person month repeated",
        [("add", "person_months", {"person_id": "a" * 64, "unit_id": "U001", "month": "2022-04"})],
        {("person_months.csv", 4, "", "DUPLICATE_KEY")},
    ),
    (
        "a graduate without a graduation year",
        [("set", "graduate_register", 0, "graduation_year", "")],
        {("graduate_register.csv", 2, "graduation_year", "GRADUATION_YEAR_MISSING")},
    ),
    (
        "register category not listed",
        [("set", "graduate_register", 1, "category", "retiree")],
        {("graduate_register.csv", 3, "category", "BAD_ENUM")},
    ),
    (
        "register person repeated",
        [
            (
                "add",
                "graduate_register",
                {
                    "person_id": "a" * 64,
                    "category": "graduate",
                    "graduation_year": "2021",
                    "birth_year": "1999",
                },
            )
        ],
        {("graduate_register.csv", 4, "", "DUPLICATE_KEY")},
    ),
    *[
        (
            f"{table} person id not a pseudonym",
            [("set", table, 0, "person_id", "11010520000101123X")],
            {(f"{table}.csv", 2, "person_id", "BAD_PSEUDONYM")},
        )
        for table in ("hires", "graduate_register", "hiring_subsidy_recipients")
    ],
    (
        "hire of an unknown unit",
        [("set", "hires", 1, "unit_id", "U999")],
        {("hires.csv", 3, "unit_id", "UNKNOWN_UNIT")},
    ),
    (
        "hire contribution months negative",
        [("set", "hires", 0, "contribution_months", "-1")],
        {("hires.csv", 2, "contribution_months", "NEGATIVE")},
    ),
    (
        "hire without a hire date",
        [("set", "hires", 0, "hired_on", "")],
        {("hires.csv", 2, "hired_on", "REQUIRED_MISSING")},
    ),
    (
        "hiring subsidy recipient repeated",
        [("add", "hiring_subsidy_recipients", {"person_id": "0123456789abcdef" * 4, "granted_on": ""})],
        {("hiring_subsidy_recipients.csv", 3, "", "DUPLICATE_KEY")},
    ),
    (
        "duplicate unit",
        [
            (
                "add",
                "units",
                {**dict(zip(TABLES["units"].column_names, [""] * 13, strict=True)), "unit_id": "U003"},
            )
        ],
        {
            ("units.csv", 5, "", "DUPLICATE_KEY"),
            ("units.csv", 5, "credit_code", "REQUIRED_MISSING"),
            ("units.csv", 5, "name", "REQUIRED_MISSING"),
            ("units.csv", 5, "unit_type", "REQUIRED_MISSING"),
            ("units.csv", 5, "industry", "REQUIRED_MISSING"),
            ("units.csv", 5, "district", "REQUIRED_MISSING"),
            ("units.csv", 5, "dispatch", "REQUIRED_MISSING"),
        },
    ),
    (
        "duplicate headcount",
        [("add", "headcount", {"unit_id": "U001", "month": "2019-12", "insured": "3"})],
        {("headcount.csv", 5, "", "DUPLICATE_KEY")},
    ),
    (
        "duplicate after normalisation",
        [("add", "headcount", {"unit_id": " U001\u3000", "month": "２０１９－１２", "insured": "3"})],
        {("headcount.csv", 5, "", "DUPLICATE_KEY")},
    ),
    (
        "duplicate contribution twice",
        [("add", "contributions", {"unit_id": "U002", "period": "2020-01", "due_fen": "1", "paid_fen": "0"})]
        * 2,
        {("contributions.csv", 4, "", "DUPLICATE_KEY"), ("contributions.csv", 5, "", "DUPLICATE_KEY")},
    ),
    (
        "duplicate account",
        [
            (
                "add",
                "bank_accounts",
                {
                    "unit_id": "U001",
                    "bank_code": "103",
                    "branch_code": "103100000011",
                    "account_no": "1",
                    "account_name": "x",
                },
            )
        ],
        {("bank_accounts.csv", 3, "", "DUPLICATE_KEY")},
    ),
    (
        "the first of a key counts even when rejected",
        [
            ("set", "headcount", 0, "insured", "x"),
            ("add", "headcount", {"unit_id": "U001", "month": "2019-12", "insured": "3"}),
        ],
        {("headcount.csv", 2, "insured", "BAD_INT"), ("headcount.csv", 5, "", "DUPLICATE_KEY")},
    ),
    (
        "unknown unit",
        [("set", "headcount", 2, "unit_id", "U999")],
        {("headcount.csv", 4, "unit_id", "UNKNOWN_UNIT")},
    ),
    (
        "unknown confirmed unit",
        [("set", "dispatch_confirmations", 0, "unit_id", "U404")],
        {("dispatch_confirmations.csv", 2, "unit_id", "UNKNOWN_UNIT")},
    ),
    (
        "facts of a rejected unit",
        [("set", "units", 1, "unit_type", "club")],
        {
            ("units.csv", 3, "unit_type", "BAD_ENUM"),
            ("headcount.csv", 4, "unit_id", "UNKNOWN_UNIT"),
            ("contributions.csv", 3, "unit_id", "UNKNOWN_UNIT"),
            ("dispatch_confirmations.csv", 2, "unit_id", "UNKNOWN_UNIT"),
            ("dispatch_hosts.csv", 2, "unit_id", "UNKNOWN_UNIT"),
            ("dispatch_hosts.csv", 3, "unit_id", "UNKNOWN_UNIT"),
            ("hires.csv", 2, "unit_id", "UNKNOWN_UNIT"),
            ("hires.csv", 3, "unit_id", "UNKNOWN_UNIT"),
        },
    ),
    (
        "shared credit code",
        [(*U3, "credit_code", "USCC_1")],
        {("units.csv", 4, "credit_code", "DUPLICATE_CREDIT_CODE")},
    ),
    (
        "shared with a rejected unit only",
        [("set", "units", 0, "industry", "98"), (*U3, "credit_code", "USCC_1")],
        {("units.csv", 2, "industry", "BAD_CODE")}
        | {
            (f, n, "unit_id", "UNKNOWN_UNIT")
            for f, n in [
                ("headcount.csv", 2),
                ("headcount.csv", 3),
                ("separations.csv", 2),
                ("separations.csv", 3),
                ("contributions.csv", 2),
                ("bank_accounts.csv", 2),
                ("person_months.csv", 2),
                ("person_months.csv", 3),
            ]
        },
    ),
    *[
        (f"bad phone {v!r}", [(*U3, "phone", v)], {("units.csv", 4, "phone", "BAD_PHONE")})
        for v in ("1380013800", "23800138000", "138-0013-8000", "+8613800138000")
    ],
    (
        "several problems in one row",
        [(*U3, "unit_type", "club"), (*U3, "industry", "99"), (*U3, "phone", "12"), (*U3, "employees", "-3")],
        {
            ("units.csv", 4, "unit_type", "BAD_ENUM"),
            ("units.csv", 4, "industry", "BAD_CODE"),
            ("units.csv", 4, "phone", "BAD_PHONE"),
            ("units.csv", 4, "employees", "NEGATIVE"),
        },
    ),
    *[
        (
            f"control character {v!r} in a name",
            [(*U3, "name", v)],
            {("units.csv", 4, "name", "CONTROL_CHARACTER")},
        )
        for v in (
            "北京\x00丙",
            "北京\t丙",
            "北京\n丙",
            "北京\r\n丙",
            "北京\x7f丙",
            "北京\x85丙",
            "\x01",
            "x\x9f",
            "北京\u2028丙",
            "北京\u2029丙",
            "甲\u202e司公乙",
            "\u2066甲\u2069",
            "甲\u200f",
            "甲\u061c",
        )
    ],
    (
        "control character in an account name",
        [("set", "bank_accounts", 0, "account_name", "甲\x00")],
        {("bank_accounts.csv", 2, "account_name", "CONTROL_CHARACTER")},
    ),
    (
        "control character in a unit id",
        [("set", "headcount", 0, "unit_id", "U0\x0001")],
        {
            ("headcount.csv", 2, "unit_id", "CONTROL_CHARACTER"),
            ("headcount.csv", 2, "unit_id", "UNKNOWN_UNIT"),
        },
    ),
    (
        "control character in a phone",
        [(*U3, "phone", "1380013\x008000")],
        {("units.csv", 4, "phone", "CONTROL_CHARACTER"), ("units.csv", 4, "phone", "BAD_PHONE")},
    ),
    (
        "control character in a flag source",
        [("set", "credit_flags", 0, "source", "市场\x1b监管局")],
        {("credit_flags.csv", 2, "source", "CONTROL_CHARACTER")},
    ),
    (
        "a control character in a shaped column is its shape's problem",
        [(*U3, "district", "1101\x0001"), (*U3, "credit_code", "USCC_3_NUL")],
        {("units.csv", 4, "district", "BAD_CODE"), ("units.csv", 4, "credit_code", "BAD_USCC")},
    ),
    ("name too long", [(*U3, "name", "名" * 501)], {("units.csv", 4, "name", "TOO_LONG")}),
    ("name just fits", [(*U3, "name", "名" * 500)], set()),
    ("unit id too long", [(*U3, "unit_id", "U" * 65)], {("units.csv", 4, "unit_id", "TOO_LONG")}),
    (
        "phone too long",
        [(*U3, "phone", "1" * 45)],
        {("units.csv", 4, "phone", "TOO_LONG"), ("units.csv", 4, "phone", "BAD_PHONE")},
    ),
    (
        "account number too long",
        [("set", "bank_accounts", 0, "account_no", "6" * 65)],
        {("bank_accounts.csv", 2, "account_no", "TOO_LONG")},
    ),
    (
        "account name too long",
        [("set", "bank_accounts", 0, "account_name", "甲" * 501)],
        {("bank_accounts.csv", 2, "account_name", "TOO_LONG")},
    ),
    (
        "flag source too long",
        [("set", "credit_flags", 0, "source", "局" * 201)],
        {("credit_flags.csv", 2, "source", "TOO_LONG")},
    ),
    (
        "length counts after normalisation",
        [("set", "headcount", 0, "unit_id", "  " + "Ｕ" * 65 + "  ")],
        {("headcount.csv", 2, "unit_id", "TOO_LONG"), ("headcount.csv", 2, "unit_id", "UNKNOWN_UNIT")},
    ),
    ("spaces around a name are trimmed, not counted", [(*U3, "name", " \t" + "名" * 500 + "\n ")], set()),
    ("over-payment is fine", [("set", "contributions", 0, "paid_fen", "20000")], set()),
    ("a date with nothing paid is fine", [("set", "contributions", 1, "paid_on", "2020-02-01")], set()),
    ("removed the day listed is fine", [("set", "credit_flags", 0, "removed_on", "2020-05-01")], set()),
    ("a flag for no unit is fine", [("set", "credit_flags", 0, "credit_code", "USCC_NONE")], set()),
    (
        "confirmation for a non-dispatch unit is fine",
        [("set", "dispatch_confirmations", 0, "unit_id", "U003")],
        set(),
    ),
    # dispatch_hosts (a host employer of a dispatch firm): the checks of units.credit_code and of every fact table
    ("hosts of a non-dispatch unit are fine", [("set", "dispatch_hosts", 0, "unit_id", "U003")], set()),
    (
        "a host of no unit of the city is fine",
        [("set", "dispatch_hosts", 0, "host_credit_code", "USCC_NONE")],
        set(),
    ),
    (
        "a host code in lower case is fine",
        [("set", "dispatch_hosts", 0, "host_credit_code", "USCC_1_LOWER")],
        set(),
    ),
    ("no workers is fine", [("set", "dispatch_hosts", 0, "workers", "0")], set()),
    (
        "host unknown unit",
        [("set", "dispatch_hosts", 0, "unit_id", "U404")],
        {("dispatch_hosts.csv", 2, "unit_id", "UNKNOWN_UNIT")},
    ),
    (
        "host code missing",
        [("set", "dispatch_hosts", 0, "host_credit_code", " ")],
        {("dispatch_hosts.csv", 2, "host_credit_code", "REQUIRED_MISSING")},
    ),
    (
        "host code bad",
        [("set", "dispatch_hosts", 0, "host_credit_code", "91110105MA01ABCDI3")],
        {("dispatch_hosts.csv", 2, "host_credit_code", "BAD_USCC")},
    ),
    (
        "host code check character",
        [("set", "dispatch_hosts", 1, "host_credit_code", "USCC_3_BAD")],
        {("dispatch_hosts.csv", 3, "host_credit_code", "USCC_CHECKSUM")},
    ),
    (
        "host code as a number",
        [("set", "dispatch_hosts", 0, "host_credit_code", "9.11101E+17")],
        {("dispatch_hosts.csv", 2, "host_credit_code", "ID_AS_NUMBER")},
    ),
    (
        "host workers not an integer",
        [("set", "dispatch_hosts", 0, "workers", "12.5")],
        {("dispatch_hosts.csv", 2, "workers", "BAD_INT")},
    ),
    (
        "host workers negative",
        [("set", "dispatch_hosts", 0, "workers", "-1")],
        {("dispatch_hosts.csv", 2, "workers", "NEGATIVE")},
    ),
    (
        "host workers missing",
        [("set", "dispatch_hosts", 0, "workers", "")],
        {("dispatch_hosts.csv", 2, "workers", "REQUIRED_MISSING")},
    ),
    (
        "host repeated",
        [
            ("add", "dispatch_hosts", {"unit_id": "U002", "host_credit_code": "", "workers": "4"}),
            ("set", "dispatch_hosts", 2, "host_credit_code", "USCC_1_LOWER"),  # the same code once normalised
        ],
        {("dispatch_hosts.csv", 4, "", "DUPLICATE_KEY")},
    ),
    (
        "host unit id with a control character",
        [("set", "dispatch_hosts", 0, "unit_id", "U0\x0102")],
        {
            ("dispatch_hosts.csv", 2, "unit_id", "CONTROL_CHARACTER"),
            ("dispatch_hosts.csv", 2, "unit_id", "UNKNOWN_UNIT"),
        },
    ),
]


def resolve(edits: list[Edit], kit: Any) -> list[Edit]:
    """Replace the names of the kit's USCC constants by their values."""
    wrong = "0" if kit.USCC_3[-1] != "0" else "1"
    names = {
        "USCC_1": kit.USCC_1,
        "USCC_1_LOWER": kit.USCC_1.lower(),
        "USCC_3_BAD": kit.USCC_3[:-1] + wrong,
        "USCC_NONE": kit.uscc("91110108000000001"),
        "USCC_3_NUL": kit.USCC_3[:5] + "\x00" + kit.USCC_3[6:],
    }
    return [tuple(names.get(part, part) if isinstance(part, str) else part for part in e) for e in edits]


@pytest.fixture(params=["as chosen", "runs", "unique values", "known units excluded"])
def distinct_values(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How columns find the values to check: as ``Distinct.of`` chooses (the column itself, for these small
    files), or forced to the ways chosen for big columns, so the small cases cover those paths too (mapping bad
    values back to rows, re-normalising a whole column, reusing runs for keys, comparing keys in blocks, a
    fact table's unit reference checked only where it is not an accepted unit id)."""
    how = str(request.param)

    def forced(
        cls: type[checks.Distinct], column: pl.Series, known: pl.Series | None = None
    ) -> checks.Distinct:
        if how == "runs":
            runs = column.rle()
            return cls(column, runs.struct.field("value"), False, runs)
        if how == "known units excluded" and known is not None:
            return cls.excluding(column, known)
        return cls(column, column.unique(), False)

    if how != "as chosen":
        monkeypatch.setattr(checks.Distinct, "of", classmethod(forced))
        monkeypatch.setattr(checks, "_BLOCK_ROWS", 2)
    return how


@pytest.mark.parametrize(("edits", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_is_reported_and_only_bad_rows_are_rejected(
    tmp_path: Path, kit: Any, edits: list[Edit], expected: set[Key], distinct_values: str
) -> None:
    check(kit, tmp_path, resolve(edits, kit), expected)


def test_big_columns_are_checked_on_their_distinct_values(tmp_path: Path, kit: Any) -> None:
    """A headcount of 100,000 rows sorted by unit: unit ids are checked run by run, months by unique value."""
    months = [f"{y}-{m:02d}" for y in (2019, 2020) for m in range(1, 13)]
    units = [dict(kit.GOOD["units"][2], unit_id=f"U{i:05d}", credit_code="") for i in range(4_200)]
    for i, unit in enumerate(units):
        unit["credit_code"] = kit.uscc(f"9111010{i % 10}MA{i:07d}")
    rows = [{"unit_id": u["unit_id"], "month": m, "insured": "1"} for u in units for m in months]
    rows[5_000]["month"] = "2019-13"
    rows[70_000]["unit_id"] = "U99999"
    rows[70_001]["unit_id"] = "Ｕ０２９１６ "  # the unit of its neighbours, written full-width with a space
    rows[90_000]["insured"] = "-1"
    tables = {"units": units, "headcount": rows, **{t: [] for t in ("separations", "contributions")}}
    tables |= {t: [] for t in ("bank_accounts", "credit_flags", "dispatch_confirmations")}
    result = check(
        kit,
        tmp_path,
        [],
        {
            ("headcount.csv", 5_002, "month", "BAD_MONTH"),
            ("headcount.csv", 70_002, "unit_id", "UNKNOWN_UNIT"),
            ("headcount.csv", 90_002, "insured", "NEGATIVE"),
        },
        tables=tables,
    )
    assert result.tables["headcount"].filter(pl.col("line") == 70_003)["unit_id"].to_list() == ["U02916"]


def test_every_code_has_a_case() -> None:
    covered = {key[3] for _, _, expected in CASES for key in expected}
    assert covered == set(CODES)


def test_the_same_problems_in_parquet(tmp_path: Path, kit: Any) -> None:
    edits = [
        ("set", "headcount", 0, "insured", "-4"),
        ("set", "headcount", 1, "insured", ""),
        ("set", "contributions", 1, "paid_fen", "500"),
        ("set", "credit_flags", 0, "removed_on", "2020-04-30"),
        ("set", "units", 2, "dispatch", "2"),
        ("add", "headcount", {"unit_id": "U001", "month": "2019-12", "insured": "3"}),
    ]
    expected = {
        ("headcount.parquet", 2, "insured", "NEGATIVE"),
        ("headcount.parquet", 3, "insured", "REQUIRED_MISSING"),
        ("headcount.parquet", 5, "", "DUPLICATE_KEY"),
        ("contributions.parquet", 3, "paid_on", "PAID_WITHOUT_DATE"),
        ("credit_flags.parquet", 2, "removed_on", "DATES_REVERSED"),
        ("units.parquet", 4, "dispatch", "BAD_ENUM"),
    }
    check(kit, tmp_path, edits, expected, fmt="parquet")


# --- normalisation ----------------------------------------------------------------------------------------


def test_values_are_normalised(tmp_path: Path, kit: Any) -> None:
    edits = [
        (*U3, "unit_id", "\u3000Ｕ００３ "),
        (*U3, "credit_code", " " + kit.USCC_3.lower()),
        (*U3, "name", "  ＡＢＣ 餐饮\u3000"),
        (*U3, "industry", "６２"),
        (*U3, "employees", " ０ "),
        (*U3, "unit_type", "ｅｎｔｅｒｐｒｉｓｅ"),
        (*U3, "phone", "１３８００１３８０００"),
        (*U3, "deregistered_on", "２０２１－０３－０１"),
        ("set", "headcount", 0, "month", "２０１９－１２"),
        ("set", "headcount", 0, "insured", "２０"),
    ]
    result = check(kit, tmp_path, edits, set())
    u3 = result.tables["units"].row(2, named=True)
    assert u3["unit_id"] == "U003"
    assert u3["credit_code"] == kit.USCC_3
    assert u3["name"] == "ＡＢＣ 餐饮"  # text is only trimmed
    assert (u3["industry"], u3["employees"], u3["unit_type"], u3["phone"]) == (
        "62",
        0,
        "enterprise",
        "13800138000",
    )
    assert str(u3["deregistered_on"]) == "2021-03-01"
    assert result.tables["headcount"].row(0) == (2, "U001", "2019-12", 20)


def test_an_id_as_number_has_no_other_problem(tmp_path: Path, kit: Any) -> None:
    result = check(
        kit, tmp_path, [(*U3, "industry", "6.5E+3")], {("units.csv", 4, "industry", "ID_AS_NUMBER")}
    )
    assert "industry '6.5E+3'" in result.problems["message"][0]


def test_warnings_keep_the_row_and_its_values(tmp_path: Path, kit: Any) -> None:
    bad_check = kit.USCC_3[:-1] + ("0" if kit.USCC_3[-1] != "0" else "1")
    edits = [(*U3, "credit_code", bad_check), (*U3, "phone", "12345")]
    expected = {("units.csv", 4, "credit_code", "USCC_CHECKSUM"), ("units.csv", 4, "phone", "BAD_PHONE")}
    result = check(kit, tmp_path, edits, expected)
    u3 = result.tables["units"].filter(pl.col("line") == 4).row(0, named=True)
    assert (u3["credit_code"], u3["phone"]) == (bad_check, "12345")
    assert result.exit_code == 0
    message = result.problems.filter(pl.col("code") == "USCC_CHECKSUM")["message"][0]
    assert f"its check character is '{kit.USCC_3[-1]}'" in message


def test_rejected_rows_keep_their_normalised_text_and_codes(tmp_path: Path, kit: Any) -> None:
    edits = [(*U3, "unit_type", " club "), (*U3, "industry", "９９"), (*U3, "employees", "7")]
    result = check(
        kit,
        tmp_path,
        edits,
        {("units.csv", 4, "unit_type", "BAD_ENUM"), ("units.csv", 4, "industry", "BAD_CODE")},
    )
    rejected = result.rejected["units"]
    assert rejected.columns == ["line", *TABLES["units"].column_names, "codes"]
    assert set(rejected.schema.values()) == {pl.Int64, pl.String} and rejected.schema["line"] == pl.Int64
    row = rejected.row(0, named=True)
    assert (row["line"], row["unit_type"], row["industry"], row["employees"], row["codes"]) == (
        4,
        "club",
        "99",
        "7",
        "BAD_CODE|BAD_ENUM",
    )


def test_messages_name_the_value(tmp_path: Path, kit: Any) -> None:
    result = check(
        kit,
        tmp_path,
        [("set", "headcount", 0, "month", "2020-13")],
        {("headcount.csv", 2, "month", "BAD_MONTH")},
    )
    assert result.problems["message"].to_list() == ["month '2020-13' is not a real month YYYY-MM"]


def test_a_long_or_multiline_value_is_shortened_in_its_message(tmp_path: Path, kit: Any) -> None:
    value = "x\n" * 100
    result = check(kit, tmp_path, [(*U3, "unit_type", value)], {("units.csv", 4, "unit_type", "BAD_ENUM")})
    message = result.problems["message"][0]
    shown = message.removeprefix("unit_type '").split("' is not one of")[0]
    assert "\n" not in message and shown.startswith("x\\nx\\n") and shown.endswith("...") and len(shown) == 60


def test_control_characters_are_escaped_in_messages(tmp_path: Path, kit: Any) -> None:
    """A message is one line of printable text whatever the value holds (the database keeps it: no NUL)."""
    edits = [
        (*U3, "name", "丙\x00\x1b\t\r\n\x85"),
        ("add", "headcount", {"unit_id": "U0\x0001", "month": "2019-12", "insured": "1"}),
        ("add", "headcount", {"unit_id": "U0\x0001", "month": "2019-12", "insured": "2"}),
    ]
    result = check(
        kit,
        tmp_path,
        edits,
        {
            ("units.csv", 4, "name", "CONTROL_CHARACTER"),
            ("headcount.csv", 5, "unit_id", "CONTROL_CHARACTER"),
            ("headcount.csv", 5, "unit_id", "UNKNOWN_UNIT"),
            ("headcount.csv", 6, "unit_id", "CONTROL_CHARACTER"),
            ("headcount.csv", 6, "unit_id", "UNKNOWN_UNIT"),
            ("headcount.csv", 6, "", "DUPLICATE_KEY"),
        },
    )
    messages = result.problems.sort("file", "line", "code")["message"].to_list()
    assert "name '丙\\x00\\x1b\\t\\r\\n\\x85' contains a control character" in messages
    assert "repeats the key (unit_id 'U0\\x0001', month '2019-12') of line 5" in messages
    for message in messages:
        assert message.isprintable(), message


@pytest.mark.parametrize(
    ("table", "column"),
    [(t.name, c.name) for t in TABLES.values() for c in t.columns if c.max_length is not None],
)
def test_no_value_longer_than_its_column_is_accepted(
    tmp_path: Path, kit: Any, table: str, column: str
) -> None:
    """Whatever the kind, a value one character longer than ``max_length`` is rejected; a free-text value of
    exactly ``max_length`` characters is accepted."""
    spec = TABLES[table].column(column)
    limit = spec.max_length
    assert limit is not None
    filler = "9" if spec.kind in ("code", "int") or column in ("phone", "credit_code") else "x"
    filler = "a" if column == "person_id" else filler  # a pseudonym is hex
    tables = kit.good_tables()
    tables[table][0][column] = filler * (limit + 1)
    result = validate_drop(kit.write_drop(tmp_path / "long", tables))
    assert 2 in result.rejected[table]["line"].to_list(), result.problems.rows()
    if spec.free_text:
        assert "TOO_LONG" in result.rejected[table].filter(pl.col("line") == 2)["codes"][0]
    if spec.free_text and column != TABLES[table].unit_ref:  # (a unit reference must name a unit too)
        tables[table][0][column] = filler * limit
        fits = validate_drop(kit.write_drop(tmp_path / "fits", tables))
        assert 2 in fits.tables[table]["line"].to_list(), fits.problems.rows()


def test_problem_lines_follow_quoted_newlines_and_blank_lines(tmp_path: Path, kit: Any) -> None:
    text = 'unit_id,month,insured\nU001,2019-12,20\n\n"U0\n01",2020-12,1\n\nU002,2019-13,5\n'
    drop = kit.write_drop(tmp_path / "drop", raw={"headcount.csv": text})
    result = validate_drop(drop)
    assert kit.problem_keys(result.problems) == {
        ("headcount.csv", 4, "unit_id", "UNKNOWN_UNIT"),
        ("headcount.csv", 4, "unit_id", "CONTROL_CHARACTER"),  # the line break inside "U0\n01"
        ("headcount.csv", 7, "month", "BAD_MONTH"),
    }
    assert result.tables["headcount"]["line"].to_list() == [2]


# --- Parquet ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["typed", "text"])
def test_parquet_drops_are_read_like_csv(tmp_path: Path, kit: Any, how: str) -> None:
    from_csv = validate_drop(kit.write_drop(tmp_path / "csv"))
    drop = tmp_path / "pq"
    drop.mkdir()
    for table, rows in kit.GOOD.items():
        frame = kit.typed_frame(table, rows) if how == "typed" else kit.text_frame(table, rows)
        frame.write_parquet(drop / f"{table}.parquet")
    from_parquet = validate_drop(drop)
    assert from_parquet.problems.is_empty()
    for table in kit.GOOD:
        assert from_parquet.tables[table].equals(from_csv.tables[table]), table


def test_parquet_native_columns_are_checked(tmp_path: Path, kit: Any) -> None:
    drop = kit.write_drop(tmp_path, omit=("units", "headcount"))
    units = kit.typed_frame("units", kit.GOOD["units"]).with_columns(
        pl.Series("dispatch", [False, True, False]),
        pl.Series("employees", [2**64 - 1, None, 0], dtype=pl.UInt64),
        pl.Series("deregistered_on", [None, None, -800_000], dtype=pl.Int32).cast(pl.Date),  # the year -220
    )
    units.write_parquet(drop / "units.parquet")
    headcount = kit.typed_frame("headcount", kit.GOOD["headcount"]).with_columns(
        pl.Series("insured", [-1, None, 5], dtype=pl.Int8)
    )
    headcount.write_parquet(drop / "headcount.parquet")
    result = validate_drop(drop)
    assert kit.problem_keys(result.problems) == {
        ("units.parquet", 2, "employees", "BAD_INT"),
        ("units.parquet", 4, "deregistered_on", "BAD_DATE"),
        ("headcount.parquet", 2, "insured", "NEGATIVE"),
        ("headcount.parquet", 3, "insured", "REQUIRED_MISSING"),
    } | {
        (f, n, "unit_id", "UNKNOWN_UNIT")
        for f, n in [
            ("headcount.parquet", 2),
            ("headcount.parquet", 3),
            ("separations.csv", 2),
            ("separations.csv", 3),
            ("contributions.csv", 2),
            ("bank_accounts.csv", 2),
            ("person_months.csv", 2),
            ("person_months.csv", 3),
        ]
    }
    assert result.tables["units"]["dispatch"].to_list() == [True]
    assert result.rejected["headcount"]["insured"].to_list() == ["-1", None]


# --- the report -------------------------------------------------------------------------------------------


def test_the_report_is_sorted_with_exact_columns(tmp_path: Path, kit: Any) -> None:
    edits = [
        ("set", "units", 2, "phone", "12"),
        ("set", "units", 2, "industry", "99"),
        ("set", "units", 2, "credit_code", "USCC_1"),
        ("set", "headcount", 2, "insured", "x"),
        ("set", "headcount", 0, "month", "2019-13"),
        ("add", "headcount", {"unit_id": "U001", "month": "2020-12", "insured": "-1"}),
        ("set", "bank_accounts", 0, "bank_code", "1"),
    ]
    drop = kit.write_drop(tmp_path / "drop", edited(kit, resolve(edits, kit)))
    result = validate_drop(drop)
    report = tmp_path / "report.csv"
    write_report(result.problems, report)
    data = report.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data and data.endswith(b"\n")
    lines = data.decode().splitlines()
    assert lines[0] == "file,line,column,code,severity,message"
    rows = [line.split(",")[:5] for line in lines[1:]]
    assert rows == [
        ["bank_accounts.csv", "2", "bank_code", "BAD_CODE", "error"],
        ["headcount.csv", "2", "month", "BAD_MONTH", "error"],
        ["headcount.csv", "4", "insured", "BAD_INT", "error"],
        ["headcount.csv", "5", "", "DUPLICATE_KEY", "error"],
        ["headcount.csv", "5", "insured", "NEGATIVE", "error"],
        ["units.csv", "4", "industry", "BAD_CODE", "error"],
        ["units.csv", "4", "phone", "BAD_PHONE", "warning"],
    ]
    back = pl.read_csv(report, infer_schema=False)
    assert back.columns == list(REPORT_COLUMNS)


# --- a planted-error drop ---------------------------------------------------------------------------------


def test_a_planted_error_in_every_file_is_found_and_nothing_else(tmp_path: Path) -> None:
    from mianshen.datadrop.generate import generate

    drop = tmp_path / "drop"
    generate(units=400, seed=11, out=drop, fmt="csv")
    assert validate_drop(drop).problems.is_empty()
    plants = {  # table: (row index, column, bad value, code)
        "units": (7, "industry", "98", "BAD_CODE"),
        "headcount": (25, "insured", "-3", "NEGATIVE"),
        "separations": (3, "reason", "quit", "BAD_ENUM"),
        "contributions": (100, "period", "2020-13", "BAD_MONTH"),
        "bank_accounts": (11, "branch_code", "12", "BAD_CODE"),
        "credit_flags": (2, "listed_on", "2020-02-30", "BAD_DATE"),
        "dispatch_confirmations": (0, "confirmed_on", "yesterday", "BAD_DATE"),
    }
    expected: set[Key] = set()
    sizes = {}
    for table, (index, column, value, code) in plants.items():
        path = drop / f"{table}.csv"
        frame = pl.read_csv(path, infer_schema=False)
        sizes[table] = frame.height
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == index)
            .then(pl.lit(value))
            .otherwise(pl.col(column))
            .alias(column)
        )
        frame.write_csv(path)
        expected.add((f"{table}.csv", index + 2, column, code))
    planted_unit = pl.read_csv(drop / "units.csv", infer_schema=False)["unit_id"][7]
    for table in ("headcount", "separations", "contributions", "bank_accounts", "dispatch_confirmations"):
        facts = pl.read_csv(drop / f"{table}.csv", infer_schema=False).with_row_index("i")
        for i in facts.filter(pl.col("unit_id") == planted_unit)["i"]:
            expected.add((f"{table}.csv", int(i) + 2, "unit_id", "UNKNOWN_UNIT"))
    result = validate_drop(drop)
    assert result.exit_code == 3
    assert {k for k in _keys(result) if CODES[k[3]] == ERROR} == expected
    for table, size in sizes.items():
        rejected_lines = {k[1] for k in expected if k[0] == f"{table}.csv"}
        assert set(result.rejected[table]["line"]) == rejected_lines
        assert result.tables[table].height == size - len(rejected_lines)


def _keys(result: ValidatedDrop) -> set[Key]:
    return {
        (f, int(n), c, k)
        for f, n, c, k in result.problems.select("file", "line", "column", "code").iter_rows()
    }


# --- the command ------------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MIANSHEN), "validate", *args], capture_output=True, text=True, timeout=120)


def test_cli_exit_statuses(tmp_path: Path, kit: Any) -> None:
    good = kit.write_drop(tmp_path / "good")
    done = run_cli(str(good))
    assert done.returncode == 0, done.stderr
    assert "all rows accepted" in done.stdout

    bad = kit.write_drop(tmp_path / "bad", edited(kit, [("set", "headcount", 0, "month", "2020-13")]))
    report = tmp_path / "report.csv"
    done = run_cli(str(bad), "--report", str(report))
    assert done.returncode == 3
    assert "1 rows rejected" in done.stdout
    assert report.read_text().splitlines()[1].startswith("headcount.csv,2,month,BAD_MONTH,error,")

    unusable = {
        "missing file": kit.write_drop(tmp_path / "u1", omit=("contributions",)),
        "missing column": kit.write_drop(tmp_path / "u2", raw={"units.csv": "unit_id,name\nU1,x\n"}),
        "both formats": kit.write_drop(tmp_path / "u3", raw={"units.parquet": b""}),
        "not utf-8": kit.write_drop(
            tmp_path / "u4", raw={"units.csv": kit.csv_text("units", kit.GOOD["units"]).encode("gb18030")}
        ),
    }
    for what, drop in unusable.items():
        done = run_cli(str(drop))
        assert done.returncode == 2, what
        assert len(done.stderr.strip().splitlines()) == 1, (what, done.stderr)
        assert "Traceback" not in done.stderr
    done = run_cli(str(unusable["not utf-8"]), "--encoding", "gb18030")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("units", ["header only", "blank lines only", "parquet without rows"])
def test_a_units_file_without_data_rows_makes_the_drop_unusable(tmp_path: Path, kit: Any, units: str) -> None:
    header = kit.csv_text("units", [])
    raw = {"units.csv": header if units == "header only" else header + "\n,,,,,,,,,,,,\n  \n"}
    drop = kit.write_drop(tmp_path / "drop", omit=("units",), raw={} if units.startswith("parquet") else raw)
    filename = "units.parquet" if units.startswith("parquet") else "units.csv"
    if units.startswith("parquet"):
        kit.typed_frame("units", []).write_parquet(drop / filename)
    reason = f"{filename}: no data rows (a drop needs at least one unit)"
    with pytest.raises(DropUnusable) as refused:
        validate_drop(drop)
    assert str(refused.value) == reason
    done = run_cli(str(drop))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"mianshen validate: {reason}"]


def test_other_tables_may_be_empty(tmp_path: Path, kit: Any) -> None:
    tables = {name: ([] if name != "units" else rows) for name, rows in kit.good_tables().items()}
    result = validate_drop(kit.write_drop(tmp_path / "drop", tables))
    assert result.exit_code == 0 and result.tables["units"].height == 3
    assert all(result.tables[name].is_empty() for name in tables if name != "units")


def test_command_via_call_command(tmp_path: Path, kit: Any) -> None:
    out = io.StringIO()
    call_command("validate", str(kit.write_drop(tmp_path / "good")), stdout=out, stderr=io.StringIO())
    assert "units.csv" in out.getvalue()
    bad = kit.write_drop(tmp_path / "bad", edited(kit, [("set", "units", 2, "dispatch", "9")]))
    with pytest.raises(SystemExit) as exited:
        call_command("validate", str(bad), stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 3
    with pytest.raises(CommandError) as failed:
        call_command("validate", str(tmp_path / "nowhere"), stdout=io.StringIO(), stderr=io.StringIO())
    assert failed.value.returncode == 2


# --- the documentation ------------------------------------------------------------------------------------


def test_the_data_team_documentation_names_every_file_column_and_code() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "data-drop.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        assert f"| `{table.name}` |" in text, table.name
        for column in table.columns:
            required = "yes" if column.required else "no"
            limit = "" if column.max_length is None else str(column.max_length)
            row = f"| {table.name} | `{column.name}` | {column.kind} | {required} | {limit} |"
            assert row in text, row
            for choice in column.choices:
                assert f"`{choice}`" in text, choice
    for code, severity in CODES.items():
        assert f"| `{code}` | {severity} |" in text, code
