"""The validation report (contracts §1): the problems CSV, and a short summary for the terminal."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import polars as pl
from rich.console import Console
from rich.table import Table

from .drop import SourceFile
from .schema import ERROR, REPORT_COLUMNS, WARNING


def write_report(problems: pl.DataFrame, path: Path) -> None:
    """One row per problem, columns ``file,line,column,code,severity,message``: UTF-8 without BOM, LF line
    endings, a header row, RFC 4180 quoting only where a value needs it; rows in the order given (the
    validator sorts them by file, line, column)."""
    rows = problems.select(REPORT_COLUMNS).with_columns(
        pl.col("column").replace("", None)
    )  # written unquoted
    rows.write_csv(path, include_header=True, line_terminator="\n", null_value="")


class Validation(Protocol):
    """What the summary reads: a ``ValidatedDrop``, or the Spark engine's validation of a drop."""

    path: Path
    problems: pl.DataFrame

    @property
    def files(self) -> Mapping[str, SourceFile]: ...

    @property
    def error_count(self) -> int: ...

    @property
    def warning_count(self) -> int: ...

    @property
    def rejected_rows(self) -> int: ...

    def accepted_in(self, table: str) -> int: ...

    def rejected_in(self, table: str) -> int: ...


def file_summary(drop: Validation) -> Table:
    """Per file: records read, accepted, rejected, errors and warnings."""
    counts = _problem_counts(drop.problems)
    table = Table(title=f"data drop {drop.path}", title_justify="left")
    for name in ("file", "rows", "accepted", "rejected", "errors", "warnings"):
        table.add_column(name, justify="left" if name == "file" else "right")
    for name, source in drop.files.items():
        names = [source.filename, *(p.filename for p in source.parts)]  # a folder: its parts' problems too
        errors = sum(counts.get((n, ERROR), 0) for n in names)
        warnings = sum(counts.get((n, WARNING), 0) for n in names)
        accepted, rejected = drop.accepted_in(name), drop.rejected_in(name)
        table.add_row(
            source.filename,
            f"{source.rows:,}",
            f"{accepted:,}",
            _marked(rejected, "red"),
            _marked(errors, "red"),
            _marked(warnings, "yellow"),
        )
    return table


def code_summary(problems: pl.DataFrame) -> Table | None:
    """Per file and code: severity and number of problems, or None when there are none."""
    if problems.is_empty():
        return None
    grouped = problems.group_by("file", "code", "severity").agg(pl.len().alias("count")).sort("file", "code")
    table = Table(title="problems by file and code", title_justify="left")
    for name in ("file", "code", "severity", "count"):
        table.add_column(name, justify="right" if name == "count" else "left")
    for file, code, severity, count in grouped.iter_rows():
        colour = "red" if severity == ERROR else "yellow"
        table.add_row(file, code, f"[{colour}]{severity}[/]", f"{count:,}")
    return table


def print_summary(drop: Validation, console: Console) -> None:
    """The summary tables and one closing line: what the exit status will say."""
    console.print(file_summary(drop))
    by_code = code_summary(drop.problems)
    if by_code is not None:
        console.print(by_code)
    console.print(verdict(drop))


def verdict(drop: Validation) -> str:
    """One line: how many rows were rejected, how many problems there are."""
    errors, warnings, rejected = drop.error_count, drop.warning_count, drop.rejected_rows
    if rejected:
        return f"{rejected:,} rows rejected ({errors:,} errors, {warnings:,} warnings)"
    if warnings:
        return f"all rows accepted ({warnings:,} warnings)"
    return "all rows accepted, no problems"


def _problem_counts(problems: pl.DataFrame) -> dict[tuple[str, str], int]:
    grouped = problems.group_by("file", "severity").agg(pl.len().alias("n"))
    return {(file, severity): n for file, severity, n in grouped.iter_rows()}


def _marked(count: int, colour: str) -> str:
    return f"[{colour}]{count:,}[/]" if count else "0"
