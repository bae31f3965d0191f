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

Every text-valued column has a ``max_length`` in characters: the one source of the registry's column sizes
(``registry.models`` reads it; a test compares them). A value the database could not store is rejected by the
validation (``TOO_LONG``, ``CONTROL_CHARACTER``), so whatever ``validate`` accepts, ``import`` stores.
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
RISK_LEVELS = ("medium", "high")
PSEUDONYM_LENGTH = 64  # HMAC-SHA256 in lower-case hex
PERSON_CATEGORIES = ("graduate", "unemployed_youth")

# The GB 32100-2015 alphabet (no I, O, S, V, Z); a character's value is its index.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


# Kinds whose values are free text (any characters): the only ones checked for TOO_LONG and CONTROL_CHARACTER.
# Every other kind has a fixed shape (digits, a date, a listed value) that already rejects both, and so does the
# USCC shape of ``credit_code`` (BAD_USCC).
FREE_TEXT_KINDS = frozenset({"id", "text", "phone"})
# Columns holding a unified social credit code (GB 32100): upper-cased, BAD_USCC and USCC_CHECKSUM checked alike.
USCC_COLUMNS = frozenset({"credit_code", "host_credit_code"})
SHAPED_IDS = USCC_COLUMNS


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = True
    choices: tuple[str, ...] = ()
    max_length: int | None = None  # characters; set for every text-valued (String) column

    @property
    def dtype(self) -> pl.DataType:
        return KIND_DTYPES[self.kind]

    @property
    def free_text(self) -> bool:
        """Whether any characters may appear in the value (so length and control characters are checked)."""
        return self.kind in FREE_TEXT_KINDS and self.name not in SHAPED_IDS


@dataclass(frozen=True)
class Table:
    name: str  # base name of the file: ``units`` for units.csv / units.parquet
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()  # unique key; a later row repeating it is DUPLICATE_KEY
    required_file: bool = True
    unit_ref: str | None = "unit_id"  # the column checked against accepted units (UNKNOWN_UNIT)
    needs_rows: bool = False  # a file of this table without a data row makes the drop unusable
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

    def max_length(self, name: str) -> int:
        """The length limit of a text-valued column (for the registry's model fields)."""
        limit = self.column(name).max_length
        if limit is None:
            raise KeyError(f"{self.name}.{name} has no length limit")
        return limit

    def schema(self) -> dict[str, pl.DataType]:
        """Polars schema of the accepted frame, ``line`` first."""
        return {"line": pl.Int64(), **{c.name: c.dtype for c in self.columns}}


UNIT_ID_LENGTH = 64
USCC_LENGTH = 18
NAME_LENGTH = 500
MONTH_LENGTH = 7
UNIT_REF = Column("unit_id", "id", max_length=UNIT_ID_LENGTH)  # a fact table's reference to its unit
MONTH = Column("month", "month", max_length=MONTH_LENGTH)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "units",
            (
                Column("unit_id", "id", max_length=UNIT_ID_LENGTH),
                Column("credit_code", "id", max_length=USCC_LENGTH),
                Column("name", "text", max_length=NAME_LENGTH),
                Column("unit_type", "enum", choices=UNIT_TYPES, max_length=40),
                Column("industry", "code", max_length=4),
                Column("district", "code", max_length=6),
                Column("dispatch", "flag01"),
                Column("size_class_declared", "enum", required=False, choices=SIZE_CLASSES, max_length=10),
                Column("employees", "int", required=False),
                Column("revenue_yuan", "int", required=False),
                Column("assets_yuan", "int", required=False),
                Column("deregistered_on", "date", required=False),
                Column("phone", "phone", required=False, max_length=32),
            ),
            key=("unit_id",),
            unit_ref=None,
            needs_rows=True,  # a drop without units has nothing to screen: a broken extract, not a quiet city
            description="an insured unit (参保单位)",
        ),
        Table(
            "headcount",
            (UNIT_REF, MONTH, Column("insured", "int")),
            key=("unit_id", "month"),
            description="the unemployment-insured headcount of a unit at the end of a month",
        ),
        Table(
            "separations",
            (
                UNIT_REF,
                MONTH,
                Column("reason", "enum", choices=SEPARATION_REASONS, max_length=20),
                Column("persons", "int"),
            ),
            description="persons leaving a unit's insurance in a month, by reason (same key rows add up)",
        ),
        Table(
            "contributions",
            (
                UNIT_REF,
                Column("period", "month", max_length=MONTH_LENGTH),
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
                UNIT_REF,
                Column("bank_code", "code", max_length=3),
                Column("branch_code", "code", max_length=12),
                Column("account_no", "id", max_length=64),
                Column("account_name", "text", max_length=NAME_LENGTH),
            ),
            key=("unit_id",),
            description="the unit's social-insurance payment account on file (社保在用账户)",
        ),
        Table(
            "credit_flags",
            (
                Column("credit_code", "id", max_length=USCC_LENGTH),
                Column("flag", "enum", choices=FLAGS, max_length=30),
                Column("listed_on", "date"),
                Column("removed_on", "date", required=False),
                Column("source", "text", max_length=200),
            ),
            unit_ref=None,
            description="a listing of a unit on a partner department's list",
        ),
        Table(
            "dispatch_confirmations",
            (UNIT_REF, Column("confirmed_on", "date")),
            required_file=False,
            description="the host employers' confirmation for a labour-dispatch / HR-service unit",
        ),
        Table(
            "dispatch_hosts",
            (
                UNIT_REF,
                Column("host_credit_code", "id", max_length=USCC_LENGTH),
                Column("workers", "int"),
            ),
            key=("unit_id", "host_credit_code"),
            required_file=False,
            description="a host employer (实际用工单位) of a labour-dispatch / HR-service unit, by its credit code, "
            "and the workers the unit declares it placed there",
        ),
        # The retention-training family's tables (optional: a refund drop has neither; docs/data-drop.md).
        Table(
            "risk_areas",
            (
                Column("district", "code", max_length=6),
                Column("level", "enum", choices=RISK_LEVELS, max_length=10),
                Column("from_on", "date"),
                Column("to_on", "date", required=False),
            ),
            key=("district", "level", "from_on"),
            required_file=False,
            unit_ref=None,
            description="a medium- or high-risk COVID area in a district, from a day to a day (inclusive; "
            "empty: still in force)",
        ),
        Table(
            "person_months",
            (
                Column("person_id", "id", max_length=PSEUDONYM_LENGTH),
                UNIT_REF,
                MONTH,
            ),
            key=("person_id", "unit_id", "month"),
            required_file=False,
            description="a person insured (contributing, not suspended, ended or retired) at a unit in a month; "
            "person_id is a pseudonym (HMAC-SHA256 hex), never an identity number",
        ),
        # The job-expansion family's tables (optional: a refund drop has none of them; docs/data-drop.md).
        Table(
            "hires",
            (
                UNIT_REF,
                Column("person_id", "id", max_length=PSEUDONYM_LENGTH),
                Column("hired_on", "date"),
                Column("contract_start", "date", required=False),
                Column("contribution_months", "int"),
            ),
            key=("unit_id", "person_id", "hired_on"),
            required_file=False,
            description="a person (pseudonym) hired by a unit: the day, the labour contract's start (empty: no "
            "contract) and the unemployment-insurance contribution months paid for the person since",
        ),
        Table(
            "graduate_register",
            (
                Column("person_id", "id", max_length=PSEUDONYM_LENGTH),
                Column("category", "enum", choices=PERSON_CATEGORIES, max_length=16),
                Column("graduation_year", "int", required=False),
                Column("birth_year", "int"),
            ),
            key=("person_id",),
            required_file=False,
            unit_ref=None,
            description="the outside register matched against the hires: college graduates (by graduation year) "
            "and registered-unemployed youth (by birth year), by pseudonym",
        ),
        Table(
            "hiring_subsidy_recipients",
            (
                Column("person_id", "id", max_length=PSEUDONYM_LENGTH),
                Column("granted_on", "date", required=False),
            ),
            key=("person_id",),
            required_file=False,
            unit_ref=None,
            description="persons for whom the one-off hiring subsidy (一次性吸纳就业补贴) was granted: the "
            "job-expansion subsidy is not paid for them",
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
    "TOO_LONG": ERROR,
    "CONTROL_CHARACTER": ERROR,
    "BAD_PSEUDONYM": ERROR,
    "GRADUATION_YEAR_MISSING": ERROR,
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
