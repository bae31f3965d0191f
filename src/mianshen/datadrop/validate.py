"""Validation of a data drop (contracts §1, "Validation"): every row of every file, every check vectorised.

``validate_drop`` reads the drop (``reader.py``) table by table, ``units`` first (the facts are checked against
its accepted rows), and returns a :class:`~mianshen.datadrop.drop.ValidatedDrop`: the accepted rows typed as
``schema.Table.schema()``, the rejected rows as normalised text with their error codes, and one problem per row
and column. Files are read ahead by background threads while earlier ones are checked.

A table is checked column by column (the value checks of ``checks.py``), then across columns and rows (paid
without date, dates reversed, branch of another bank, unique keys, shared credit codes). Every check is a
boolean mask over the rows; a check that finds nothing materialises nothing else. Parquet integer and date
columns are used as they are: only nulls and signs are checked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import polars as pl

from mianshen.core.progress import progress_bar

from . import reader
from .checks import (
    RAW,
    VALUE,
    KnownUnits,
    Prepared,
    displayed,
    later_repeats,
    positions_mask,
    prepare,
    says,
    typed_from_text,
    value_checks,
)
from .drop import DropUnusable, SourceFile, ValidatedDrop, part_places
from .schema import CODES, ERROR, REPORT_COLUMNS, TABLES, Column, Table

__all__ = ["KnownUnits", "TableResult", "empty_problems", "sort_problems", "validate_drop", "validate_table"]

_READ_AHEAD = 1  # files read ahead of the one being checked, in parallel with the checks


# --- public API -------------------------------------------------------------------------------------------


def validate_drop(
    path: Path,
    *,
    encoding: str = "utf-8",
    tables: Iterable[str] | None = None,
    progress: bool = False,
) -> ValidatedDrop:
    """Read and check a data drop.

    ``tables`` limits the tables read (``units`` is always read): of those, a required file must be present
    and an optional one that is absent is left out of the result. Raises ``DropUnusable`` when the drop cannot
    be used at all (contracts §1, exit status 2).
    """
    path = Path(path)
    located = reader.locate(path, reader.requested_tables(tables))
    results: dict[str, TableResult] = {}
    with (
        progress_bar("validating", len(located), enabled=progress) as bar,
        closing(_read_ahead(located, encoding)) as reads,
    ):
        for name, raw in reads:
            units = _known_units(results.get("units"))
            results[name] = validate_table(raw, units=units)
            del raw  # not held while the next file is awaited
            _check_has_rows(results[name])
            if bar is not None:
                cast(Any, bar).advance(1)  # progress_bar yields an object with advance(n)
    problems = [r.problems for r in results.values()]
    return ValidatedDrop(
        path=path,
        tables={name: r.accepted for name, r in results.items()},
        rejected={name: r.rejected for name, r in results.items()},
        problems=sort_problems(pl.concat(problems, how="vertical") if problems else empty_problems()),
        files={name: r.source for name, r in results.items()},
        content_hash=reader.content_hash(r.source for r in results.values()),
    )


def _read_ahead(
    located: dict[str, Path], encoding: str
) -> Generator[tuple[str, reader.RawTable], None, None]:
    """The files' records in order, each read by a background thread while the caller checks the one before
    (Polars and hashlib release the GIL). At most ``_READ_AHEAD`` files are read ahead of the one being
    checked: a file read whole waits in memory until its turn (reading every file ahead held the whole drop's
    raw rows at the validator's peak). A file that cannot be used raises when its turn comes."""
    names = list(located)
    with ThreadPoolExecutor(max_workers=_READ_AHEAD, thread_name_prefix="drop-reader") as pool:
        futures: dict[str, Future[reader.RawTable]] = {}

        def submit_up_to(index: int) -> None:
            for name in names[: index + 1]:
                if name not in futures and name not in done:
                    futures[name] = pool.submit(
                        reader.read_table, located[name], TABLES[name], encoding=encoding
                    )

        done: set[str] = set()
        try:
            for i, name in enumerate(names):
                submit_up_to(i + _READ_AHEAD)
                raw = futures.pop(name).result()  # popped: the frame is not kept longer than needed
                done.add(name)
                yield name, raw
                del raw
        finally:
            for future in futures.values():
                future.cancel()


def _check_has_rows(result: TableResult) -> None:
    """A table that must hold rows (``units``) and holds none - only a header, or only blank lines - makes the
    drop unusable; other tables may be empty."""
    source = result.source
    if TABLES[source.table].needs_rows and source.rows == 0:
        raise DropUnusable(f"{source.filename}: no data rows (a drop needs at least one unit)")


def _known_units(units: TableResult | None) -> KnownUnits | None:
    return None if units is None else KnownUnits(units.accepted["unit_id"], units.source.filename)


@dataclass(frozen=True)
class TableResult:
    source: SourceFile  # ``rows``: records read, blank lines not counted
    accepted: pl.DataFrame  # typed as ``table.schema()``
    rejected: pl.DataFrame  # line, every column as normalised text, codes
    problems: pl.DataFrame  # REPORT_COLUMNS


def validate_table(
    raw: reader.RawTable, *, units: KnownUnits | None = None, credit_repeats: pl.DataFrame | None = None
) -> TableResult:
    """Check one file's records; ``units`` (the accepted units) enables UNKNOWN_UNIT.

    ``credit_repeats`` (units only): when the rows of ``raw`` are one partition of the table (the Spark engine,
    partitioned by unit_id), DUPLICATE_CREDIT_CODE cannot be found inside it; the caller finds it across the
    whole table (partitioned by credit code) and gives here the repeating rows as ``line`` and ``first_line``
    (Int64, the line of the code's first accepted row); rows of other partitions are ignored. An empty frame
    checks no credit code (the accepted rows before that check)."""
    return _TableValidator(raw, units, credit_repeats).run()


def empty_problems() -> pl.DataFrame:
    return pl.DataFrame(schema=_PROBLEM_SCHEMA)


def sort_problems(problems: pl.DataFrame) -> pl.DataFrame:
    """Report order: file, line, column (a whole-row problem's empty column first), code, message."""
    return problems.select(REPORT_COLUMNS).sort(["file", "line", "column", "code", "message"])


_PROBLEM_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "column": pl.String(),
    "code": pl.String(),
    "severity": pl.String(),
    "message": pl.String(),
}


# --- one table --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One check's hits: ``rows`` (Boolean per row) and their report rows (line, column, code, message)."""

    code: str
    column: str
    rows: pl.Series
    problems: pl.DataFrame

    @property
    def is_error(self) -> bool:
        return CODES[self.code] == ERROR


class _TableValidator:
    def __init__(
        self, raw: reader.RawTable, units: KnownUnits | None, credit_repeats: pl.DataFrame | None = None
    ) -> None:
        self.table: Table = raw.table
        self.credit_repeats = credit_repeats
        self.units = units if self.table.unit_ref else None
        self.frame = raw.frame
        self.columns = self._prepare_all(raw.ascii)
        if raw.blank_rows:
            self._drop_blank_rows(raw.ascii)
        self.source = dataclasses.replace(raw.source, rows=self.frame.height)
        # The message context: every column as it is (no copy). Only the rows of a finding are gathered and
        # rechunked (``_hits``): rechunking the whole context copied every column of a file read in many chunks
        # (a shuffled extract, row groups, parts) - a second copy of the table at the validator's peak.
        self.context = pl.DataFrame(
            [
                self.frame["line"],
                *(p.text for p in self.columns.values()),
                *(p.raw.alias(RAW.format(name)) for name, p in self.columns.items()),
            ]
        )
        self.findings: list[Finding] = []
        self.typed: dict[str, pl.Series] = {}

    def _prepare_all(self, ascii_known: bool) -> dict[str, Prepared]:
        return {
            c.name: prepare(self.frame[c.name], c, ascii_known=ascii_known, known=self._known(c))
            for c in self.table.columns
        }

    def _known(self, column: Column) -> pl.Series | None:
        """The accepted unit ids, for the unit reference of a fact table checked as ``units.unit_id`` is: such
        a value passes every check of the column and is already normalised (NFKC and trimming leave a
        normalised value unchanged), so its rows need no check (``checks.prepare``)."""
        if self.units is None or column.name != self.table.unit_ref:
            return None
        return self.units.ids if column == TABLES["units"].column("unit_id") else None

    def _drop_blank_rows(self, ascii_known: bool) -> None:
        blank = (
            pl.DataFrame([p.text for p in self.columns.values()])
            .select(pl.all_horizontal(pl.all().is_null()))
            .to_series()
        )
        if blank.any():
            self.frame = self.frame.filter(~blank)
            self.columns = self._prepare_all(ascii_known)

    # -- running the checks

    def run(self) -> TableResult:
        for prepared in self.columns.values():
            self._check_column(prepared)
        self._check_rows()
        row_errors = self._row_errors()
        if self.table.name == "units":
            self._check_shared_credit_codes(row_errors)
        problems = self._problems()  # lines numbered across a folder's parts, as the frame's
        rejected = self._rejected(row_errors, problems)
        file, line = part_places(self.source, problems["line"])  # as the report names them
        return TableResult(
            source=self.source,
            accepted=self._accepted(row_errors),
            rejected=rejected,
            problems=problems.with_columns(file, line),
        )

    def _add(self, code: str, column: str, rows: pl.Series | None, message: pl.Expr) -> None:
        if rows is None or not rows.any():
            return
        needed = list(dict.fromkeys(["line", *message.meta.root_names()]))
        hits = _hits(self.context.select(needed), rows)
        problems = hits.select(
            pl.col("line"),
            pl.lit(column).alias("column"),
            pl.lit(code).alias("code"),
            message.alias("message"),
        )
        self.findings.append(Finding(code, column, rows, problems))

    def _column_errors(self, name: str) -> pl.Series | None:
        return _any([f.rows for f in self.findings if f.column == name and f.is_error])

    def _check_column(self, prepared: Prepared) -> None:
        column = prepared.column
        if column.required:
            self._add(
                "REQUIRED_MISSING",
                column.name,
                _nulls(prepared.text),
                pl.lit(f"{column.name} is empty but required"),
            )
        if prepared.typed is not None:
            typed = prepared.typed
        elif prepared.native:
            typed = self._check_native(prepared)
        else:
            typed = self._check_text(prepared)
        errors = self._column_errors(column.name)
        if errors is not None:  # a bad value has no typed value (cross-column checks skip it)
            typed = (
                pl.DataFrame([typed.alias("t"), errors.alias("e")])
                .select(pl.when(~pl.col("e")).then(pl.col("t")))
                .to_series()
            )
        self.typed[column.name] = typed.alias(column.name).cast(column.dtype)

    def _check_text(self, prepared: Prepared) -> pl.Series:
        column, distinct, values = prepared.column, prepared.distinct, prepared.values_norm
        assert distinct is not None and values is not None
        units = self.units if column.name == self.table.unit_ref else None
        checks = value_checks(column, units)
        if checks:
            present = pl.col(VALUE).is_not_null()  # an empty value is REQUIRED_MISSING or fine, never bad
            flags = values.to_frame(VALUE).select(
                (present & c.flags).fill_null(False).alias(f"f{i}") for i, c in enumerate(checks)
            )
            for i, check in enumerate(checks):
                self._add(check.code, column.name, distinct.rows(flags[f"f{i}"]), check.message)
        return typed_from_text(prepared.text, column)

    def _check_native(self, prepared: Prepared) -> pl.Series:
        column, raw = prepared.column, prepared.raw
        name = column.name
        if column.kind == "int":
            typed = raw.cast(pl.Int64, strict=False)
            self._add(
                "BAD_INT", name, raw.is_not_null() & typed.is_null(), says(name, "does not fit in 64 bits")
            )
            self._add("NEGATIVE", name, (typed < 0).fill_null(False), says(name, "is negative"))
            return typed
        if column.kind == "flag01" and raw.dtype != pl.Boolean:
            self._add("BAD_ENUM", name, ~raw.is_in([0, 1]).fill_null(True), says(name, "is not one of: 0, 1"))
            return raw == 1
        if column.kind == "date":  # a Parquet DATE holds any year; a real date is in 0001-9999
            outside = ~raw.is_between(date(1, 1, 1), date(9999, 12, 31)).fill_null(True)
            self._add("BAD_DATE", name, outside, says(name, "is not a real date YYYY-MM-DD"))
        return raw  # a Parquet DATE, or a boolean flag

    # -- checks across columns and rows

    def _check_rows(self) -> None:
        names = self.table.column_names
        if "paid_fen" in names and "paid_on" in names:
            paid = (self.typed["paid_fen"] > 0).fill_null(False) & self.columns["paid_on"].text.is_null()
            self._add(
                "PAID_WITHOUT_DATE",
                "paid_on",
                paid,
                pl.format("paid_fen {} > 0 but paid_on is empty", pl.col("paid_fen")),
            )
        if "listed_on" in names and "removed_on" in names:
            reversed_ = (self.typed["removed_on"] < self.typed["listed_on"]).fill_null(False)
            self._add(
                "DATES_REVERSED",
                "removed_on",
                reversed_,
                pl.format(
                    "removed_on {} is earlier than listed_on {}", pl.col("removed_on"), pl.col("listed_on")
                ),
            )
        if "from_on" in names and "to_on" in names:
            reversed_ = (self.typed["to_on"] < self.typed["from_on"]).fill_null(False)
            self._add(
                "DATES_REVERSED",
                "to_on",
                reversed_,
                pl.format("to_on {} is earlier than from_on {}", pl.col("to_on"), pl.col("from_on")),
            )
        if "graduation_year" in names and "category" in names:
            missing = (self.typed["category"] == "graduate").fill_null(False) & self.typed[
                "graduation_year"
            ].is_null()
            self._add(
                "GRADUATION_YEAR_MISSING",
                "graduation_year",
                missing,
                pl.lit("a graduate's graduation_year is empty"),
            )
        if "bank_code" in names and "branch_code" in names:
            bank, branch = self.typed["bank_code"], self.typed["branch_code"]
            other_bank = (
                pl.DataFrame([bank, branch])
                .select(~pl.col("branch_code").str.starts_with(pl.col("bank_code")))
                .to_series()
            )
            self._add(
                "BAD_CODE",
                "branch_code",
                other_bank.fill_null(False),
                pl.format(
                    "branch_code '{}' does not start with bank_code '{}'",
                    pl.col("branch_code"),
                    pl.col("bank_code"),
                ),
            )
        if self.table.key:
            self._check_key()

    def _check_key(self) -> None:
        keys = list(self.table.key)
        texts = pl.DataFrame([self.columns[k].text for k in keys])
        later = later_repeats(texts, self.frame["line"], self.columns[keys[0]].runs)
        if later is not None:
            parts = ", ".join(f"{k} '{{}}'" for k in keys)
            message = f"repeats the key ({parts}) of line {{}}"
            self._add_repeats("DUPLICATE_KEY", "", keys, message, later["pos"], later["first_line"])

    def _check_shared_credit_codes(self, row_errors: pl.Series | None) -> None:
        """DUPLICATE_CREDIT_CODE: among the accepted units only."""
        message = "credit_code '{}' is also the code of the unit on line {}"
        if self.credit_repeats is not None:  # found across the partitions by the caller
            here = (
                self.frame.select("line", pl.int_range(pl.len(), dtype=pl.Int64).alias("pos"))
                .join(self.credit_repeats.select("line", "first_line"), on="line", how="inner")
                .sort("pos")
            )
            if not here.is_empty():
                self._add_repeats(
                    "DUPLICATE_CREDIT_CODE",
                    "credit_code",
                    ["credit_code"],
                    message,
                    here["pos"],
                    here["first_line"].cast(pl.Int64),
                )
            return
        codes = self.columns["credit_code"].text.to_frame()
        lines, positions = self.frame["line"], pl.int_range(self.frame.height, eager=True, dtype=pl.Int64)
        if row_errors is not None:
            keep = ~row_errors
            codes, lines, positions = codes.filter(keep), lines.filter(keep), positions.filter(keep)
        later = later_repeats(codes, lines)
        if later is not None:
            at = positions.gather(later["pos"])
            self._add_repeats(
                "DUPLICATE_CREDIT_CODE", "credit_code", ["credit_code"], message, at, later["first_line"]
            )

    def _add_repeats(
        self, code: str, column: str, keys: list[str], message: str, positions: pl.Series, first: pl.Series
    ) -> None:
        """Report the rows at ``positions`` as repeating the key of line ``first`` (``message``: a format with a
        place for each key value, then the first line)."""
        height = self.frame.height
        rows = positions_mask(height, positions)
        if self.source.parts:  # the first row's place as the report names it: its line within its part
            file, line = part_places(self.source, first)
            first = (line.cast(pl.String) + " of " + file).alias("first")
        first_line = pl.repeat(None, height, dtype=first.dtype, eager=True).alias("first_line")
        context = self.context.with_columns(first_line.scatter(positions, first))
        text = pl.format(message, *[displayed(pl.col(k)) for k in keys], pl.col("first_line"))
        hits = _hits(context, rows).select(
            "line", pl.lit(column).alias("column"), pl.lit(code).alias("code"), text.alias("message")
        )
        self.findings.append(Finding(code, column, rows, hits))

    # -- results

    def _row_errors(self) -> pl.Series | None:
        return _any([f.rows for f in self.findings if f.is_error])

    def _problems(self) -> pl.DataFrame:
        frames = [f.problems for f in self.findings]
        if not frames:
            return empty_problems()
        severity = pl.col("code").replace_strict(CODES, return_dtype=pl.String)
        return pl.concat(frames, how="vertical").select(
            pl.lit(self.source.filename).alias("file"),
            pl.col("line").cast(pl.Int64),
            "column",
            "code",
            severity.alias("severity"),
            "message",
        )

    def _accepted(self, row_errors: pl.Series | None) -> pl.DataFrame:
        frame = pl.DataFrame([self.frame["line"], *(self.typed[c.name] for c in self.table.columns)])
        if row_errors is not None:
            frame = frame.filter(~row_errors)
        return frame.cast(self.table.schema())  # type: ignore[arg-type]

    def _rejected(self, row_errors: pl.Series | None, problems: pl.DataFrame) -> pl.DataFrame:
        names = self.table.column_names
        schema = {"line": pl.Int64(), **{n: pl.String() for n in names}, "codes": pl.String()}
        if row_errors is None:
            return pl.DataFrame(schema=schema)
        rows = _hits(self.context.select("line", *names), row_errors)
        rows = rows.with_columns(_as_text(pl.col(n), rows.schema[n]) for n in names)
        codes = (
            problems.filter(pl.col("severity") == ERROR)
            .group_by("line")
            .agg(pl.col("code").unique().sort().str.join("|").alias("codes"))
        )
        return rows.join(codes, on="line", how="left", maintain_order="left").select(list(schema))


def _hits(context: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """The rows of ``context`` where ``rows`` is true, in one chunk: Polars 2.1 panics in ``pl.format`` over a
    filtered multi-chunk text column (regression test: tests/bench/test_duckdb_baseline.py, the dirty drop)."""
    return context.filter(rows).rechunk()


def _nulls(series: pl.Series) -> pl.Series | None:
    return series.is_null() if series.null_count() else None


def _as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Boolean:
        return pl.when(expr).then(pl.lit("1")).when(expr.not_()).then(pl.lit("0"))
    return expr.cast(pl.String)


def _any(masks: list[pl.Series]) -> pl.Series | None:
    """The rows where any of the masks is true; None for no mask."""
    if not masks:
        return None
    frame = pl.DataFrame([m.alias(f"m{i}") for i, m in enumerate(masks)])
    return frame.select(pl.any_horizontal(pl.all())).to_series()
