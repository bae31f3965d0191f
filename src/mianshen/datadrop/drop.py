"""What reading and validating a data drop produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .schema import EXIT_OK, EXIT_REJECTED


class DropUnusable(Exception):
    """The drop cannot be used at all (contracts §1: exit 2). The message is one line for the user."""


@dataclass(frozen=True)
class SourceFile:
    table: str  # schema table name, e.g. "units"
    filename: str  # name in the drop, e.g. "units.csv"
    format: str  # "csv" or "parquet"
    sha256: str  # of the file's bytes
    rows: int  # data records read (blank lines not counted)


@dataclass
class ValidatedDrop:
    """A drop after every row of every file was checked.

    - ``tables``: per table present, the accepted rows, typed as ``schema.Table.schema()`` (with ``line``).
    - ``rejected``: per table, the rejected rows as read (every schema column as normalised text, plus
      ``line`` and ``codes``: the error codes, sorted, joined by ``|``) — nothing is lost.
    - ``problems``: one row per problem, columns ``schema.REPORT_COLUMNS`` (line Int64), sorted by file, line,
      column.
    - ``files``: what was read, with each file's SHA-256; ``content_hash`` identifies the drop's content.
    """

    path: Path
    tables: dict[str, pl.DataFrame]
    rejected: dict[str, pl.DataFrame]
    problems: pl.DataFrame
    files: dict[str, SourceFile] = field(default_factory=dict)
    content_hash: str = ""

    @property
    def error_count(self) -> int:
        return int(self.problems.filter(pl.col("severity") == "error").height)

    @property
    def warning_count(self) -> int:
        return int(self.problems.filter(pl.col("severity") == "warning").height)

    @property
    def rejected_rows(self) -> int:
        return sum(df.height for df in self.rejected.values())

    @property
    def exit_code(self) -> int:
        return EXIT_REJECTED if self.rejected_rows else EXIT_OK
