"""What the two partitioned runs of the refund's screening share: the plan of the drop's files, the buckets of
units, and the work of one bucket. ``spark.py`` runs it on Apache Spark (``--engine spark``), ``local.py`` on this
machine with bounded memory (``--engine polars`` on a large drop); both write the decisions.csv of the run that
reads the drop whole, byte for byte, and find the same problems on the same lines.

A row's bucket is a hash of its partition key normalised as the checks normalise it (``unit_id``; ``credit_code``
for ``credit_flags``), so every row of a unit is in its unit's bucket and every check but one stays inside a
bucket. The one check across units, DUPLICATE_CREDIT_CODE, is done over the (credit_code, line) of every bucket's
accepted units (``unit_codes``), and its repeats are given to each bucket's ``validate_table``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from mianshen.datadrop import reader
from mianshen.datadrop.checks import KnownUnits, prepare
from mianshen.datadrop.drop import DropUnusable, SourceFile
from mianshen.datadrop.schema import TABLES, Table
from mianshen.datadrop.validate import TableResult, validate_table
from mianshen.policy.engine import screen
from mianshen.policy.parameters import ResolvedParams

FLAGS_TABLE = "credit_flags"
_HASH_SEED = 20210701
SLICE_ROWS = 4_000_000  # a single Parquet file of more rows is read in pieces of this many rows
NO_REPEATS = pl.DataFrame(schema={"line": pl.Int64, "first_line": pl.Int64})


# --- the plan: the drop's files before any row is read ----------------------------------------------------


@dataclass(frozen=True)
class ReadTask:
    """One read task: a table's file, or one part of its folder (its rows' lines start at ``first_line``)."""

    table: str
    path: str
    name: str  # the part's name in the drop (``units/part-0.parquet``); empty for a whole file
    first_line: int
    rows: int  # rows in the part's or file's footer (a CSV file: 0, not known before its task)
    offset: int | None = (
        None  # a piece of a single Parquet file: its first row (None: the whole file or part)
    )


@dataclass(frozen=True)
class Plan:
    """What is known before any row is read: the files, each table's description, the buckets."""

    drop: Path
    encoding: str
    partitions: int
    sources: dict[str, SourceFile]  # per table located: name, format, and a folder's parts with their rows
    tasks: tuple[ReadTask, ...]


def plan(drop: Path, tables: Sequence[str] | None, *, encoding: str, partitions: int) -> Plan:
    """Locate the drop's files (as ``validate`` does: a missing required file makes the drop unusable) and
    describe each; a folder's parts are counted from their footers, so each part can be read on its own."""
    import pyarrow.parquet as pq

    located = reader.locate(drop, reader.requested_tables(tables))
    sources: dict[str, SourceFile] = {}
    tasks: list[ReadTask] = []
    for name, path in located.items():
        if not path.is_dir():
            fmt = path.suffix.lstrip(".")
            sources[name] = SourceFile(table=name, filename=path.name, format=fmt, sha256="", rows=0)
            tasks.extend(_file_tasks(name, path))
            continue
        parts: list[SourceFile] = []
        first = 2
        for part, part_name in reader.checked_parts(path):
            try:
                rows = pq.read_metadata(part).num_rows
            except Exception as exc:  # any reader error: the file is not Parquet
                raise DropUnusable(f"{part_name}: not a readable Parquet file") from exc
            parts.append(SourceFile(name, part_name, "parquet", "", rows))
            tasks.extend(_pieces(ReadTask(name, str(part), part_name, first, rows)))
            first += rows
        sources[name] = SourceFile(
            table=name,
            filename=f"{path.name}/",
            format="parquet",
            sha256="",
            rows=first - 2,
            parts=tuple(parts),
        )
    return Plan(drop, encoding, partitions, sources, tuple(tasks))


def _file_tasks(name: str, path: Path) -> list[ReadTask]:
    """A single file's read tasks: a Parquet file of more than ``SLICE_ROWS`` rows in pieces of that many rows
    (each read on its own, lines numbered from the file's start); a CSV file, or a Parquet file whose footer
    cannot be read (the reader then says why, as ``validate`` does), whole."""
    import pyarrow.parquet as pq

    if path.suffix != ".parquet":
        return [ReadTask(name, str(path), "", 2, 0)]
    try:
        rows = pq.read_metadata(path).num_rows
    except Exception:  # any reader error: the whole-file task reports it in the reader's words
        return [ReadTask(name, str(path), "", 2, 0)]
    return _pieces(ReadTask(name, str(path), "", 2, rows))


def _pieces(task: ReadTask) -> list[ReadTask]:
    """A Parquet file's or part's task as tasks of ``SLICE_ROWS`` rows at most (one task when it is smaller)."""
    if task.rows <= SLICE_ROWS:
        return [task]
    return [
        dataclasses.replace(
            task, first_line=task.first_line + start, rows=min(SLICE_ROWS, task.rows - start), offset=start
        )
        for start in range(0, task.rows, SLICE_ROWS)
    ]


# --- buckets ----------------------------------------------------------------------------------------------


def key_column(table: Table) -> str:
    return "credit_code" if table.name == FLAGS_TABLE else "unit_id"


def buckets_of(frame: pl.DataFrame, table: Table, partitions: int, *, ascii_known: bool) -> pl.Series:
    """Each row's bucket: a hash of its partition key normalised as the checks normalise it (so two rows the
    checks would find equal are in one bucket), modulo ``partitions``."""
    key = key_column(table)
    text = prepare(frame[key], table.column(key), ascii_known=ascii_known).text.cast(pl.String)
    return (text.hash(seed=_HASH_SEED) % partitions).cast(pl.Int32).alias("bucket")


@dataclass(frozen=True)
class Piece:
    """Some rows of one table in one bucket, as read (``line`` first), with what the reader knew of them."""

    bucket: int
    table: str
    ascii: bool
    blank: bool
    frame: pl.DataFrame


def read_pieces(task: ReadTask, plan_: Plan) -> Iterator[Piece]:
    """The rows of one task's file or part cut into buckets (rows in file order inside each bucket).
    ``DropUnusable`` when the file cannot be read."""
    table = TABLES[task.table]
    if task.name or task.offset is not None:
        if task.offset is None:
            frame = reader.read_part(Path(task.path), table, task.name)
        else:
            name = task.name or None
            frame = reader.read_parquet_slice(Path(task.path), table, task.offset, task.rows, name=name)
        line = pl.int_range(task.first_line, task.first_line + frame.height, dtype=pl.Int64, eager=True)
        frame = frame.insert_column(0, line.alias("line"))
        ascii_known, blank = False, False
    else:
        raw = reader.read_table(Path(task.path), table, encoding=plan_.encoding)
        frame, ascii_known, blank = raw.frame, raw.ascii, raw.blank_rows
    bucket = buckets_of(frame, table, plan_.partitions, ascii_known=ascii_known)
    for (b,), rows in frame.with_columns(bucket).group_by("bucket", maintain_order=True):
        yield Piece(int(b), task.table, ascii_known, blank, rows.drop("bucket"))


def raw_tables(
    pieces: Iterable[Piece], sources: Mapping[str, SourceFile], names: Sequence[str]
) -> dict[str, reader.RawTable]:
    """One bucket's pieces as one ``RawTable`` per table of ``names``, rows in line order (each piece's rows in
    line order, the pieces of a table of disjoint line ranges, in any order); a table with no row in the bucket
    is an empty frame of text columns."""
    found: dict[str, list[Piece]] = {name: [] for name in names}
    for piece in pieces:
        if piece.table in found:
            found[piece.table].append(piece)
    out: dict[str, reader.RawTable] = {}
    for name in names:
        table, got = TABLES[name], found[name]
        if got:
            # the pieces of a table are of distinct files, parts or slices: their lines are disjoint runs, each in
            # order, so ordering the pieces by their first line orders the rows (no sort of the rows themselves)
            got.sort(key=lambda p: p.frame["line"][0] if p.frame.height else 0)
            frame = pl.concat([p.frame for p in got], how="vertical", rechunk=True)
            frame = frame.with_columns(pl.col("line").set_sorted())
            ascii_known, blank = all(p.ascii for p in got), any(p.blank for p in got)
        else:
            frame = pl.DataFrame(schema={"line": pl.Int64(), **{c.name: pl.String() for c in table.columns}})
            ascii_known, blank = True, False
        out[name] = reader.RawTable(table, sources[name], frame, ascii_known, blank)
    return out


# --- the work of one bucket -------------------------------------------------------------------------------


def unit_codes(raw: reader.RawTable) -> tuple[pl.DataFrame, int]:
    """A bucket's units checked but for DUPLICATE_CREDIT_CODE: their accepted rows' (credit_code, line), and the
    bucket's unit count (blank lines not counted)."""
    result = validate_table(raw, credit_repeats=NO_REPEATS)
    codes = result.accepted.select("credit_code", "line").filter(pl.col("credit_code").is_not_null())
    return codes, result.source.rows


def credit_repeats(codes: pl.DataFrame) -> pl.DataFrame:
    """DUPLICATE_CREDIT_CODE across the buckets: the accepted unit rows (``credit_code``, ``line`` of every
    bucket) whose code's first accepted line is earlier, as ``line`` and ``first_line``."""
    first = pl.col("line").min().over("credit_code")
    return codes.select(pl.col("line"), first.alias("first_line")).filter(
        pl.col("line") != pl.col("first_line")
    )


@dataclass(frozen=True)
class Screening:
    """What a bucket of units needs besides its rows (the same for every bucket)."""

    params: ResolvedParams | None  # None: validate only
    as_of: date | None
    repeats: pl.DataFrame  # DUPLICATE_CREDIT_CODE: line, first_line
    flags: (
        pl.DataFrame | None
    )  # accepted credit_flags rows (None when the drop has none or they are not read)
    fact_tables: tuple[str, ...]


def screen_tables(
    raws: Mapping[str, reader.RawTable], work: Screening
) -> tuple[dict[str, TableResult], pl.DataFrame | None]:
    """One bucket of units: validate the units (with the repeats found across buckets), then each fact table
    against the bucket's accepted units (a fact's unit is in its own bucket), then - with parameters - screen
    the accepted rows with the unchanged policy core. The tables' results, and the bucket's decisions (None
    when validating only, or when no unit of the bucket is accepted)."""
    results = {"units": validate_table(raws["units"], credit_repeats=work.repeats)}
    units = results["units"]
    known = KnownUnits(units.accepted["unit_id"], units.source.filename)
    for name in work.fact_tables:
        results[name] = validate_table(raws[name], units=known)
    if work.params is None or work.as_of is None or units.accepted.is_empty():
        return results, None
    tables: dict[str, pl.DataFrame] = {name: r.accepted for name, r in results.items()}
    if work.flags is not None:
        tables[FLAGS_TABLE] = work.flags
    return results, screen(tables, work.params, work.as_of)
