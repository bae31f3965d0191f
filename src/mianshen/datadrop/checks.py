"""The checks of single values, and the tools that keep them fast on tens of millions of rows.

- **Normalisation** (contracts §1): NFKC for every kind but ``text``, trimmed, ``credit_code`` upper-cased.
- **Distinct values**: a value's checks depend on the value only, so a text column is checked on its distinct
  values: the runs of a column sorted or grouped by unit (``unit_id`` of a fact table) or the unique values of a
  column with few of them (months, dates, enumerations); small or high-cardinality columns are checked as they
  are. Only when a value is bad are its rows looked up (``is_in`` over the few bad values). A column is
  re-normalised only when one of its values changes under normalisation; NFKC is skipped for ASCII columns.
- **Value checks** by kind, as Polars expressions over a value ``pl.col("v")``, each with its message.
- **Unique keys**: a key that increases strictly from row to row (a sorted extract) has no duplicates; in an
  extract sorted by unit only the units whose rows are out of order are looked at; otherwise the key rows are
  hashed and sorted, and only rows sharing a hash are compared exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from .schema import USCC_ALPHABET, USCC_COLUMNS, USCC_WEIGHTS, Column

# Kinds normalised with NFKC (``text`` is kept as given, only trimmed).
NFKC_KINDS = frozenset({"id", "code", "int", "date", "month", "flag01", "phone", "enum"})
# Kinds whose values must not be numbers in scientific notation (ID_AS_NUMBER).
ID_KINDS = frozenset({"id", "code", "phone"})

SCIENTIFIC_RE = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[Ee][+-]?[0-9]+$"
USCC_RE = f"^[{USCC_ALPHABET}]{{2}}[0-9]{{6}}[{USCC_ALPHABET}]{{10}}$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
MONTH_RE = r"^[0-9]{4}-(?:0[1-9]|1[0-2])$"
PHONE_RE = r"^1[0-9]{10}$"
INDUSTRY_RE = r"^[0-9]{2,4}$"
# C0 and C1 control characters, DEL among them (NUL: PostgreSQL text cannot hold it; the others - tab and line
# breaks included - have no place in a name, an ID or an account and would break the files made from them), the
# Unicode line and paragraph separators (U+2028, U+2029: line breaks to many readers) and the bidirectional
# controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which make a name read differently from what
# it holds ("Trojan Source").
_CONTROL_CODES = (
    *range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
)  # fmt: skip
CONTROL_RE = r"[\x00-\x1F\x7F-\x9F\x{061C}\x{200E}\x{200F}\x{2028}-\x{202E}\x{2066}-\x{2069}]"
CONTROL_CHARS = [chr(c) for c in _CONTROL_CODES]
CONTROL_SHOWN = [
    {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(
        c, f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
    )
    for c in CONTROL_CHARS
]


@dataclass(frozen=True)
class CodeRule:
    """The shape of a ``code`` column's values (BAD_CODE)."""

    pattern: str
    description: str
    divisions: tuple[int, int] | None = None  # allowed range of the first two digits (industry)


PSEUDONYM_RE = r"^[0-9a-f]{64}$"

CODE_RULES: dict[str, CodeRule] = {
    "industry": CodeRule(
        INDUSTRY_RE, "a GB/T 4754 industry code of 2-4 digits with a division 01-97", (1, 97)
    ),
    "district": CodeRule(r"^[0-9]{6}$", "a 6-digit administrative-division code"),
    "bank_code": CodeRule(r"^[0-9]{3}$", "a 3-digit bank code"),
    "branch_code": CodeRule(r"^[0-9]{12}$", "a 12-digit CNAPS bank number"),
}

_MESSAGE_VALUE_CHARS = 60
_SMALL_COLUMN = 65_536  # rows; smaller columns are checked as they are
_SAMPLE = 16_384  # rows looked at to choose how to find a column's distinct values
_REPEATS = 4  # a column whose values repeat this often on average is checked on its distinct values
_BLOCK_ROWS = 1 << 22  # rows compared at a time (bounds the memory of a comparison)
RAW = "{}@raw"  # message context: the value as written
VALUE = "v"


@dataclass(frozen=True)
class KnownUnits:
    """The accepted ``unit_id`` values of ``units`` (UNKNOWN_UNIT) and the file they came from."""

    ids: pl.Series
    filename: str

    def __post_init__(self) -> None:
        ids = self.ids.drop_nulls()
        object.__setattr__(self, "ids", ids if ids.is_sorted() else ids.sort())

    def contains(self, value: pl.Expr) -> pl.Expr:
        """Whether each value is a known unit: a binary search in the sorted ids (no hash set to build)."""
        if self.ids.is_empty():
            return pl.lit(False)
        ids = pl.lit(self.ids)
        at = ids.search_sorted(value).clip(0, self.ids.len() - 1)
        return ids.gather(at) == value


# --- normalisation and distinct values --------------------------------------------------------------------


def normalise(expr: pl.Expr, column: Column, *, nfkc: bool = True) -> pl.Expr:
    """The contract's normalisation of a text value: NFKC (not for ``text``), trimmed, ``credit_code`` in upper
    case; empty becomes null."""
    if nfkc and column.kind in NFKC_KINDS:
        expr = expr.str.normalize("NFKC")
    expr = expr.str.strip_chars()
    if column.name in USCC_COLUMNS:
        expr = expr.str.to_uppercase()
    return pl.when(expr.str.len_bytes() > 0).then(expr)


@dataclass(frozen=True)
class Distinct:
    """A text column and the values to check it on: its distinct values, or the column itself (``identity``).

    ``runs``: the column's run-length encoding (struct ``len``, ``value``) when it was grouped in runs."""

    column: pl.Series
    values: pl.Series
    identity: bool
    runs: pl.Series | None = None

    @classmethod
    def of(cls, column: pl.Series, known: pl.Series | None = None) -> Distinct:
        """``known``: values that need no check (a fact table's accepted unit ids, see ``prepare``): in a column
        that is neither grouped nor of few values, only the rows whose value is not one of them are looked at."""
        n = column.len()
        if n <= _SMALL_COLUMN:
            return cls(column, column, True)
        sample = column.head(_SAMPLE)
        if _count(sample.rle_id().max()) + 1 <= _SAMPLE * 3 // 4:  # runs: grouped by this column
            runs = column.rle()
            return cls(column, runs.struct.field("value"), False, runs)
        if sample.n_unique() <= _SAMPLE // 8:  # few distinct values (months, dates, enumerations, codes)
            return cls(column, column.unique(), False)
        if known is not None:
            return cls.excluding(column, known)
        # Not grouped, many distinct values in the sample: a unit reference in an extract that is not sorted by
        # unit repeats each value many times (a shuffled headcount: 22M rows, 1M units), which a head sample
        # cannot see. A HyperLogLog estimate over the whole column (one cheap pass) can.
        if _count(column.approx_n_unique()) <= n // _REPEATS:
            return cls(column, column.unique(), False)
        return cls(column, column, True)

    @classmethod
    def excluding(cls, column: pl.Series, known: pl.Series) -> Distinct:
        """The distinct values of ``column`` but ``known`` ones. For a unit reference in an extract not sorted by
        unit (a shuffled headcount: 22M rows, 1M units) a membership test of every row in the known ids costs
        less than half of hashing the column's distinct values, and leaves only the rows to check (usually
        none)."""
        rest = column.filter(~column.is_in(known.implode()).fill_null(False))
        return cls(column, rest.unique(), False)

    def rows(self, flagged: pl.Series) -> pl.Series | None:
        """The rows whose value is flagged (``flagged``: one boolean per value); None when no value is."""
        if not flagged.any():
            return None
        flagged = flagged.fill_null(False)
        if self.identity:
            return flagged
        bad = self.values.filter(flagged).unique()
        return self.column.is_in(bad.implode()).fill_null(False)


def _count(value: object) -> int:
    return int(value) if isinstance(value, int) else 0


@dataclass(frozen=True)
class Prepared:
    """A column after normalisation: ``text`` one value per row (String; a Parquet-typed column as read);
    ``same``: normalisation changed nothing (``text`` holds the values of ``raw``)."""

    column: Column
    raw: pl.Series
    text: pl.Series
    distinct: Distinct | None  # of ``raw``, with ``values_norm`` (None when there is nothing to check)
    values_norm: pl.Series | None
    same: bool
    typed: pl.Series | None = None  # the typed values, already known good (plain integers of a CSV file)

    @property
    def native(self) -> bool:
        return self.distinct is None

    @property
    def runs(self) -> pl.Series | None:
        """The run-length encoding of ``text``, when known."""
        return self.distinct.runs if self.distinct is not None and self.same else None


def prepare(raw: pl.Series, column: Column, *, ascii_known: bool, known: pl.Series | None = None) -> Prepared:
    """``known``: values of this column that pass every check of ``column`` and that normalisation leaves as
    they are (a fact table's ``unit_id``: the accepted, normalised unit ids of ``units``, whose column has the
    same checks); rows holding exactly such a value are not checked again."""
    if raw.dtype != pl.String:
        return Prepared(column, raw, raw, None, None, True)
    if column.kind == "int" and (parsed := plain_integers(raw)) is not None:
        return Prepared(column, raw, raw, None, None, True, parsed)
    distinct = Distinct.of(raw, known)
    nfkc = column.kind in NFKC_KINDS and not ascii_known and not _all_ascii(distinct.values)
    values_norm = _apply(distinct.values, lambda e: normalise(e, column, nfkc=nfkc))
    changed = bool(values_norm.ne_missing(distinct.values).any())
    if not changed:  # keep the column as read (no copy)
        text, values_norm = raw, distinct.values
    elif distinct.identity:
        text = values_norm
    else:
        text = _apply(raw, lambda e: normalise(e, column, nfkc=nfkc))
    return Prepared(column, raw, text.alias(column.name), distinct, values_norm, not changed)


def plain_integers(raw: pl.Series) -> pl.Series | None:
    """The values as Int64 when every one is plain ASCII digits (the usual integer column of a CSV file: no
    normalisation or check needed), else None. Rust's integer parser takes an optional sign and ASCII digits
    only, and fails on overflow."""
    parsed = _apply(raw, lambda e: e.str.to_integer(strict=False))
    if parsed.null_count() != raw.null_count():
        return None
    signed = raw.to_frame(VALUE).select(
        (pl.col(VALUE).str.starts_with("+") | pl.col(VALUE).str.starts_with("-")).any()
    )
    return None if signed.item() else parsed


def _apply(series: pl.Series, build: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    return series.to_frame(VALUE).select(build(pl.col(VALUE))).to_series()


def _all_ascii(values: pl.Series) -> bool:
    return bool(values.str.len_bytes().sum() == values.str.len_chars().sum())


# --- value checks -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueCheck:
    """A check of one value: ``flags`` over the normalised value ``pl.col("v")``; ``message`` over the message
    context (``pl.col(name)`` normalised, ``pl.col(name + "@raw")`` as written)."""

    code: str
    flags: pl.Expr
    message: pl.Expr


def shown(name: str) -> pl.Expr:
    """The value as written, for a message: one line, at most 60 characters (see ``displayed``)."""
    return displayed(pl.col(RAW.format(name)))


def displayed(expr: pl.Expr) -> pl.Expr:
    """A value for a message: control characters escaped (``\\n``, ``\\t``, ``\\r``, ``\\x00``), so a message is
    one line that any database stores; cut to 60 characters."""
    value = expr.cast(pl.String).str.replace_many(CONTROL_CHARS, CONTROL_SHOWN)
    cut = value.str.slice(0, _MESSAGE_VALUE_CHARS - 3) + "..."
    return pl.when(value.str.len_chars() > _MESSAGE_VALUE_CHARS).then(cut).otherwise(value)


def says(column: str, text: str) -> pl.Expr:
    """``<column> '<value as written>' <text>``."""
    return pl.format(f"{column} '{{}}' {text}", shown(column))


def is_scientific(v: pl.Expr) -> pl.Expr:
    return v.str.contains(SCIENTIFIC_RE)


_USCC_VALUES = pl.Series([USCC_ALPHABET.find(chr(b)) % 31 for b in range(256)], dtype=pl.Int32)
_USCC_CHARS = pl.Series(list(USCC_ALPHABET), dtype=pl.String)


def uscc_check_char(code: pl.Expr) -> pl.Expr:
    """The GB 32100 check character of 18-character (ASCII) codes, null for other lengths: the bytes'
    alphabet values, weighted, summed (vectorised; ``schema.uscc_check_char`` is the scalar reference)."""
    chars = code.cast(pl.Binary).bin.reinterpret(dtype=pl.Array(pl.UInt8, 18))
    weighted = [
        pl.lit(_USCC_VALUES).gather(chars.arr.get(i)) * weight for i, weight in enumerate(USCC_WEIGHTS)
    ]
    check = (31 - pl.sum_horizontal(weighted) % 31) % 31
    return pl.lit(_USCC_CHARS).gather(check)


def value_checks(column: Column, units: KnownUnits | None = None) -> list[ValueCheck]:
    """Every check of a column's single values, by kind (REQUIRED_MISSING and cross-column checks aside).

    ``units``: the accepted units, when ``column`` refers to them (UNKNOWN_UNIT)."""
    v, name = pl.col(VALUE), column.name
    checks: list[ValueCheck] = []
    plain = v.is_not_null()
    if column.kind in ID_KINDS:
        sci = is_scientific(v)
        checks.append(
            ValueCheck(
                "ID_AS_NUMBER", sci, says(name, "is a number in scientific notation; IDs and codes are text")
            )
        )
        plain = ~sci
    if column.free_text:
        checks += _free_text_checks(v, column)
    if name in USCC_COLUMNS:
        checks += _uscc_checks(v, plain, name)
    if name == "person_id":
        checks.append(
            ValueCheck(
                "BAD_PSEUDONYM",
                plain & ~v.str.contains(PSEUDONYM_RE),
                says(
                    name,
                    "is not a pseudonym (64 lower-case hex digits of HMAC-SHA256), never an identity number",
                ),
            )
        )
    if column.kind == "code" and name in CODE_RULES:
        checks.append(_code_check(v, plain, name, CODE_RULES[name]))
    if column.kind == "phone":
        checks.append(
            ValueCheck(
                "BAD_PHONE",
                plain & ~v.str.contains(PHONE_RE),
                says(name, "is not 11 digits starting with 1"),
            )
        )
    if column.kind in ("enum", "flag01"):
        choices = column.choices or ("0", "1")
        checks.append(
            ValueCheck("BAD_ENUM", ~v.is_in(choices), says(name, "is not one of: " + ", ".join(choices)))
        )
    if column.kind == "int":
        checks += _int_checks(v, name)
    if column.kind == "date":
        real = (
            v.str.contains(DATE_RE)
            & ~v.str.starts_with("0000")
            & v.str.to_date("%Y-%m-%d", strict=False).is_not_null()
        )
        checks.append(ValueCheck("BAD_DATE", ~real, says(name, "is not a real date YYYY-MM-DD")))
    if column.kind == "month":
        real = v.str.contains(MONTH_RE) & ~v.str.starts_with("0000")
        checks.append(ValueCheck("BAD_MONTH", ~real, says(name, "is not a real month YYYY-MM")))
    if units is not None:
        known = units.contains(v)
        checks.append(
            ValueCheck("UNKNOWN_UNIT", plain & ~known, says(name, f"is not a unit of {units.filename}"))
        )
    return checks


def _free_text_checks(v: pl.Expr, column: Column) -> list[ValueCheck]:
    """What the database needs of a free-text value: no control character, no more characters than the column
    holds (``schema.Column.max_length``)."""
    name, limit = column.name, column.max_length
    checks = [
        ValueCheck(
            "CONTROL_CHARACTER", v.str.contains(CONTROL_RE), says(name, "contains a control character")
        )
    ]
    if limit is not None:
        checks.append(
            ValueCheck(
                "TOO_LONG",
                v.str.len_chars() > limit,
                pl.format(
                    f"{name} '{{}}' is {{}} characters long; at most {limit} fit",
                    shown(name),
                    pl.col(name).str.len_chars(),
                ),
            )
        )
    return checks


def _uscc_checks(v: pl.Expr, plain: pl.Expr, name: str) -> list[ValueCheck]:
    shaped = v.str.contains(USCC_RE)
    c = pl.col(name)
    return [
        ValueCheck(
            "BAD_USCC",
            plain & ~shaped,
            says(name, "is not 18 characters of 0-9 A-Y (no I O S V Z) with digits in positions 3-8"),
        ),
        ValueCheck(
            "USCC_CHECKSUM",
            shaped & (v.str.slice(17, 1) != uscc_check_char(v)),
            pl.format(
                f"{name} '{{}}' ends in '{{}}' but its check character is '{{}}'",
                shown(name),
                c.str.slice(17, 1),
                uscc_check_char(c),
            ),
        ),
    ]


def _code_check(v: pl.Expr, plain: pl.Expr, name: str, rule: CodeRule) -> ValueCheck:
    good = v.str.contains(rule.pattern)
    if rule.divisions is not None:
        low, high = rule.divisions
        good = good & v.str.slice(0, 2).cast(pl.Int64, strict=False).is_between(low, high)
    return ValueCheck("BAD_CODE", plain & ~good, says(name, f"is not {rule.description}"))


def _int_checks(v: pl.Expr, name: str) -> list[ValueCheck]:
    parsed = v.str.to_integer(strict=False)
    negative = parsed < 0
    signed = v.str.starts_with("+") | v.str.starts_with("-")
    digits = parsed.is_not_null() & ~signed
    return [
        ValueCheck("NEGATIVE", negative, says(name, "is negative")),
        ValueCheck(
            "BAD_INT",
            v.is_not_null() & ~digits & ~negative.fill_null(False),
            says(name, "is not a whole number written in plain digits"),
        ),
    ]


def typed_from_text(text: pl.Series, column: Column) -> pl.Series:
    if column.kind == "int":
        return _apply(text, lambda e: e.str.to_integer(strict=False))
    if column.kind == "date":
        return _apply(text, lambda e: e.str.to_date("%Y-%m-%d", strict=False))
    if column.kind == "flag01":
        return text == "1"
    return text


def positions_mask(height: int, positions: pl.Series) -> pl.Series:
    """``height`` booleans, true at ``positions``."""
    return pl.repeat(False, height, dtype=pl.Boolean, eager=True).alias("rows").scatter(positions, True)


# --- unique keys ------------------------------------------------------------------------------------------


def later_repeats(keys: pl.DataFrame, lines: pl.Series, runs: pl.Series | None = None) -> pl.DataFrame | None:
    """The rows repeating the key of an earlier row: ``pos`` (row position) and ``first_line`` (the line of the
    key's first row). Rows with an empty key part take no part. None when no key repeats.

    ``runs``: the run-length encoding of the first key column, when known. When the first key increases from
    run to run (an extract sorted by unit), a key can only repeat inside a run, and only the runs where the
    rest of the key does not increase are compared; otherwise every row is."""
    nulls = any(s.null_count() for s in keys.iter_columns())
    suspects = None if nulls else rows_out_of_order(keys, runs)
    if suspects is not None and suspects.is_empty():
        return None
    if suspects is not None:
        frame = keys.with_columns(line=lines, pos=pl.int_range(pl.len(), dtype=pl.Int64))[suspects]
        return _repeats_by_hash(frame, keys.columns)
    return _repeats_by_hash(keys.with_columns(line=lines), keys.columns, nulls=nulls)


def _repeats_by_hash(frame: pl.DataFrame, names: list[str], *, nulls: bool = False) -> pl.DataFrame | None:
    """Rows of ``frame`` (key columns, ``line`` and ``pos``; without ``pos``: every row of the table, ``pos``
    is the row's position) repeating an earlier key: hash the keys, sort the hashes, and compare exactly only
    the rows whose hash repeats (gathered alone: nothing of the size of the frame is made but the hashes and
    their sorted copy). ``nulls``: rows with an empty key part have no hash and take no part."""
    # each column hashed on its own (with its own seed) and the hashes combined: hashing a struct of the
    # columns rechunks them into one array first (a copy of the key columns of a table read in many chunks)
    key = pl.col(names[0]).hash(seed=1)
    for i, name in enumerate(names[1:], start=2):
        key = key.xor(pl.col(name).hash(seed=i))
    if nulls:
        key = pl.when(pl.all_horizontal(pl.col(names).is_not_null())).then(key)
    hashes = frame.select(key).to_series()
    ordered = (hashes.drop_nulls() if nulls else hashes).sort()
    m = ordered.len()
    after = ordered.slice(1)
    repeated = after.filter(after == ordered.slice(0, m - 1)) if m > 1 else after
    del ordered, after
    if repeated.is_empty():
        return None
    mask = hashes.is_in(repeated.unique().implode()).fill_null(False)
    candidates = frame.filter(mask)
    if "pos" not in candidates.columns:
        candidates = candidates.with_columns(pos=mask.arg_true().cast(pl.Int64))
    candidates = candidates.with_columns(first_line=pl.col("line").min().over(names))
    later = candidates.filter(pl.col("line") != pl.col("first_line")).select("pos", "first_line")
    return None if later.is_empty() else later


def rows_out_of_order(keys: pl.DataFrame, runs: pl.Series | None = None) -> pl.Series | None:
    """The positions of the rows that may repeat a key (no nulls in ``keys``): None when the first key column
    does not increase from run to run (any row may); else the rows of the runs where the rest of the key does
    not increase from row to row (empty: the key increases strictly, so no key repeats)."""
    n = keys.height
    if runs is None:
        head = keys.to_series(0).head(_SAMPLE)
        if not head.is_sorted():  # not an extract sorted by its first key: no need to encode the whole column
            return None
        runs = keys.to_series(0).rle()
    values, lengths = runs.struct.field("value"), runs.struct.field("len").cast(pl.Int64)
    m = values.len()
    if m > 1 and not (values.slice(1) > values.slice(0, m - 1)).all():
        return None  # the first key goes down somewhere, or a value comes back in a later run
    ends = lengths.cum_sum()
    if keys.width == 1:
        suspect = lengths > 1
    else:
        late = _late_rows(keys, positions_mask(n, ends.head(m - 1)))
        suspect = positions_mask(m, ends.search_sorted(late, side="right"))
    starts = ends - lengths
    return (
        pl.select(pl.int_ranges(starts.filter(suspect), ends.filter(suspect)).explode())
        .to_series()
        .drop_nulls()
    )


def _late_rows(keys: pl.DataFrame, run_starts: pl.Series) -> pl.Series:
    """The positions of the rows that neither start a run of the first key nor have a greater rest of the key
    than the row before; compared on slices of the columns a block at a time (a comparison of text allocates
    ~15 bytes per row, a shifted copy more)."""
    n, rest = keys.height, keys.columns[1:]
    late: list[pl.Series] = []
    for start in range(1, n, _BLOCK_ROWS):
        size = min(_BLOCK_ROWS, n - start)
        greater: pl.Series | None = None
        for name in reversed(rest):
            now, before = keys[name].slice(start, size), keys[name].slice(start - 1, size)
            greater = now > before if greater is None else (now > before) | ((now == before) & greater)
        assert greater is not None
        ok = run_starts.slice(start, size) | greater
        if not ok.all():
            late.append(ok.not_().arg_true().cast(pl.Int64) + start)
    return pl.concat(late) if late else pl.Series(dtype=pl.Int64)
