"""The data-drop format (contracts §1), as data.

One place says which files a drop holds, which columns each has, of which kind, which are required and which
form a unique key. The reader, the validator, the generator, the importer and the docs all read this module;
none of them repeats it.

After validation every accepted table is a Polars frame with exactly the columns below, typed by kind:

=========  ==========================  =================================================
kind       Polars dtype after checks   notes
=========  ==========================  =================================================
``id``     ``String``                  NFKC-normalised, trimmed (``credit_code`` upper-cased)
``text``   ``String``                  kept as given (only trimmed)
``enum``   ``String``                  one of ``Column.choices``
``code``   ``String``                  NFKC, digits of a fixed shape (industry, district, bank, branch)
``int``    ``Int64``                   plain ASCII digits, >= 0
``date``   ``Date``                    a real ``YYYY-MM-DD``
``month``  ``String``                  a real ``YYYY-MM`` (sorts and compares as text)
``flag01`` ``Boolean``                 ``0``/``1``
``phone``  ``String``                  NFKC; a bad phone is a warning, the value is kept
=========  ==========================  =================================================

plus a ``line`` column (Int64): the 1-based line in the source file where the record starts (header = 1;
Parquet: row index + 2). Absent optional columns are present in the frame, all null.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

KIND_DTYPES: dict[str, pl.DataType] = {
    "id": pl.String(),
    "text": pl.String(),
    "enum": pl.String(),
    "code": pl.String(),
    "int": pl.Int64(),
    "date": pl.Date(),
    "month": pl.String(),
    "flag01": pl.Boolean(),
    "phone": pl.String(),
}

UNIT_TYPES = (
    "enterprise",
    "social_organization",
    "foundation",
    "social_service_institution",
    "law_firm",
    "accounting_firm",
    "individual_business",
    "government_agency",
    "public_institution",
    "other",
)
SIZE_CLASSES = ("large", "medium", "small", "micro")
SEPARATION_REASONS = ("retirement", "death", "resignation", "dismissal", "contract_end", "transfer", "other")
FLAGS = ("serious_dishonesty", "abnormal_operation", "commitment_breach")

# The GB 32100-2015 alphabet (no I, O, S, V, Z); a character's value is its index.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = True
    choices: tuple[str, ...] = ()

    @property
    def dtype(self) -> pl.DataType:
        return KIND_DTYPES[self.kind]


@dataclass(frozen=True)
class Table:
    name: str  # base name of the file: ``units`` for units.csv / units.parquet
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()  # unique key; a later row repeating it is DUPLICATE_KEY
    required_file: bool = True
    unit_ref: str | None = "unit_id"  # the column checked against accepted units (UNKNOWN_UNIT)
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def schema(self) -> dict[str, pl.DataType]:
        """Polars schema of the accepted frame, ``line`` first."""
        return {"line": pl.Int64(), **{c.name: c.dtype for c in self.columns}}


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "units",
            (
                Column("unit_id", "id"),
                Column("credit_code", "id"),
                Column("name", "text"),
                Column("unit_type", "enum", choices=UNIT_TYPES),
                Column("industry", "code"),
                Column("district", "code"),
                Column("dispatch", "flag01"),
                Column("size_class_declared", "enum", required=False, choices=SIZE_CLASSES),
                Column("employees", "int", required=False),
                Column("revenue_yuan", "int", required=False),
                Column("assets_yuan", "int", required=False),
                Column("deregistered_on", "date", required=False),
                Column("phone", "phone", required=False),
            ),
            key=("unit_id",),
            unit_ref=None,
            description="an insured unit (参保单位)",
        ),
        Table(
            "headcount",
            (Column("unit_id", "id"), Column("month", "month"), Column("insured", "int")),
            key=("unit_id", "month"),
            description="the unemployment-insured headcount of a unit at the end of a month",
        ),
        Table(
            "separations",
            (
                Column("unit_id", "id"),
                Column("month", "month"),
                Column("reason", "enum", choices=SEPARATION_REASONS),
                Column("persons", "int"),
            ),
            description="persons leaving a unit's insurance in a month, by reason (same key rows add up)",
        ),
        Table(
            "contributions",
            (
                Column("unit_id", "id"),
                Column("period", "month"),
                Column("due_fen", "int"),
                Column("paid_fen", "int"),
                # required when paid_fen > 0 (PAID_WITHOUT_DATE), so not REQUIRED_MISSING on its own
                Column("paid_on", "date", required=False),
            ),
            key=("unit_id", "period"),
            description="unemployment-insurance premiums (employer + employee share) for one period",
        ),
        Table(
            "bank_accounts",
            (
                Column("unit_id", "id"),
                Column("bank_code", "code"),
                Column("branch_code", "code"),
                Column("account_no", "id"),
                Column("account_name", "text"),
            ),
            key=("unit_id",),
            description="the unit's social-insurance payment account on file (社保在用账户)",
        ),
        Table(
            "credit_flags",
            (
                Column("credit_code", "id"),
                Column("flag", "enum", choices=FLAGS),
                Column("listed_on", "date"),
                Column("removed_on", "date", required=False),
                Column("source", "text"),
            ),
            unit_ref=None,
            description="a listing of a unit on a partner department's list",
        ),
        Table(
            "dispatch_confirmations",
            (Column("unit_id", "id"), Column("confirmed_on", "date")),
            required_file=False,
            description="the host employers' confirmation for a labour-dispatch / HR-service unit",
        ),
    )
}

TABLE_ORDER: tuple[str, ...] = tuple(TABLES)

# Problem codes and their severities (contracts §1, "Validation").
ERROR = "error"
WARNING = "warning"
CODES: dict[str, str] = {
    "REQUIRED_MISSING": ERROR,
    "BAD_INT": ERROR,
    "NEGATIVE": ERROR,
    "ID_AS_NUMBER": ERROR,
    "BAD_DATE": ERROR,
    "BAD_MONTH": ERROR,
    "BAD_ENUM": ERROR,
    "BAD_USCC": ERROR,
    "USCC_CHECKSUM": WARNING,
    "BAD_CODE": ERROR,
    "PAID_WITHOUT_DATE": ERROR,
    "DATES_REVERSED": ERROR,
    "DUPLICATE_KEY": ERROR,
    "UNKNOWN_UNIT": ERROR,
    "DUPLICATE_CREDIT_CODE": WARNING,
    "BAD_PHONE": WARNING,
}

REPORT_COLUMNS = ("file", "line", "column", "code", "severity", "message")

# Exit statuses of validate / import (contracts §1 and §3).
EXIT_OK = 0
EXIT_UNUSABLE = 2
EXIT_REJECTED = 3


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a USCC (scalar; the validator is vectorised)."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]
