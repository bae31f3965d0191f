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
    """A table's file as read. A table that is a folder of Parquet parts (contracts §1) is one ``SourceFile``
    named ``X/`` whose ``parts`` are its part files in reading order (``X/part-00000.parquet`` …); its
    ``sha256`` is the SHA-256 of the lines ``<part name> <part sha256>\n`` in that order, and its ``rows`` add
    up the parts'."""

    table: str  # schema table name, e.g. "units"
    filename: str  # name in the drop, e.g. "units.csv", or "units/" for a folder of parts
    format: str  # "csv" or "parquet"
    sha256: str  # of the file's bytes (a folder: of its parts' names and digests)
    rows: int  # data records read (blank lines not counted)
    parts: tuple[SourceFile, ...] = ()  # a folder's part files, in reading order


def part_places(source: SourceFile, lines: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Where rows are, as the validation report names them: ``(file, line)`` for each of ``lines``. For a folder
    of parts the rows are numbered across the parts in reading order (the first part's rows 2, 3, …, then the
    next part's, as if one file); this gives back the part's name and the row's line within it (its index + 2).
    For a single file, its name and the same lines."""
    if not source.parts:
        return pl.Series("file", [source.filename] * lines.len(), dtype=pl.String), lines.alias("line")
    starts = [0]
    for part in source.parts[:-1]:
        starts.append(starts[-1] + part.rows)
    offsets = pl.Series("start", starts, dtype=pl.Int64)
    index = (offsets.search_sorted(lines - 2, side="right") - 1).cast(pl.Int64)
    names = pl.Series("name", [p.filename for p in source.parts], dtype=pl.String)
    return names.gather(index).alias("file"), (lines.cast(pl.Int64) - offsets.gather(index)).alias("line")


@dataclass
class ValidatedDrop:
    """A drop after every row of every file was checked.

    - ``tables``: per table present, the accepted rows, typed as ``schema.Table.schema()`` (with ``line``).
    - ``rejected``: per table, the rejected rows as read (every schema column as normalised text, plus
      ``line`` and ``codes``: the error codes, sorted, joined by ``|``) — nothing is lost. For a folder of
      parts, ``line`` (here and in ``tables``) numbers the rows across the parts; ``part_places`` names the part
      and the line within it, as ``problems`` does.
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

    def accepted_in(self, table: str) -> int:
        return self.tables[table].height if table in self.tables else 0

    def rejected_in(self, table: str) -> int:
        return self.rejected[table].height if table in self.rejected else 0

    @property
    def exit_code(self) -> int:
        return EXIT_REJECTED if self.rejected_rows else EXIT_OK
