"""`mianshen screen` on one node with bounded memory: a drop too large to read whole is cut into buckets of
units on local disk, then validated and screened bucket by bucket - Spark's plan (``spark.py``) on this machine,
with the same per-bucket code (``buckets.py``). decisions.csv is byte-identical to the run that reads the drop
whole, and the problems are the same, on the same lines.

1. **Units, pass 1**: each file, or each part of a folder, is read on its own (``buckets.read_pieces``: every
   row keeps its line, numbered across a folder's parts) and its rows go into ``partitions`` bucket files
   (Arrow IPC, uncompressed) by a hash of the unit key.
2. **Credit codes**: each unit bucket is checked but for DUPLICATE_CREDIT_CODE and its accepted rows'
   (credit_code, line) are kept - two columns of every unit, the one thing held for the whole drop; the repeats
   across buckets are found in them (``buckets.credit_repeats``).
3. **Facts, pass 1**: every fact table's files or parts into the same buckets; ``credit_flags`` (keyed by
   credit code, small: the units on a partner's list) is read and checked whole, and its accepted rows are
   given to every bucket.
4. **Pass 2**: per bucket, ``buckets.screen_tables`` - the units with the repeats of step 2, the facts against
   the bucket's accepted units, then the unchanged policy core - and the bucket's files are deleted. The
   decisions of every bucket are sorted by unit_id at the end, the problems in report order.

Peak memory is one file or part being cut (pass 1) or one bucket's working set (pass 2), plus the credit codes
and the decisions gathered. ``buckets_for`` picks the number of buckets from the drop's rows (footers of
Parquet, bytes of CSV): a drop of up to ``WHOLE_ROWS`` rows is read whole as before (one bucket).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl

from mianshen.datadrop import reader
from mianshen.datadrop.drop import DropUnusable, SourceFile
from mianshen.datadrop.schema import TABLES
from mianshen.datadrop.validate import TableResult, empty_problems, sort_problems, validate_table
from mianshen.policy.engine import check_as_of, screen
from mianshen.policy.parameters import ResolvedParams

from .buckets import (
    FLAGS_TABLE,
    Piece,
    Plan,
    Screening,
    credit_repeats,
    plan,
    raw_tables,
    read_pieces,
    screen_tables,
    unit_codes,
)

log = logging.getLogger(__name__)

# A drop of up to WHOLE_ROWS rows (all tables) is read whole: about 1.15M units, 6.5 GiB at the whole-drop run's
# peak of about 110 bytes a row (5.8 GiB for the 52M rows of 1M units). Cutting a drop into buckets costs a
# second pass over its rows (bench/RESULTS.md: about twice the time at 1M units, half the memory), worth it only
# where the whole read would not fit. A larger drop is cut into buckets of ROWS_PER_BUCKET rows at most (a
# bucket's working set near 1.5 GiB).
WHOLE_ROWS = 60_000_000
ROWS_PER_BUCKET = 14_000_000
CSV_BYTES_PER_ROW = 40  # a CSV row of the drop's fact tables, for the estimate of rows before reading
MAX_BUCKETS = 4096
# The bucket files are written once and read once, from the page cache as a rule: uncompressed Arrow IPC costs no
# compression in pass 1 and no decompression in pass 2 (bench/RESULTS.md, issue 14: pass 2's reading 6.7 -> 5.1
# CPU-s at 1M in 4 buckets); the price is disk, about the size of the rows in memory (~1 GiB per million units).
COMPRESSION: Literal["lz4", "uncompressed"] = "uncompressed"


def drop_rows(plan_: Plan) -> int:
    """The drop's rows before reading them: a Parquet file's or part's footer, a CSV file's size."""
    total = 0
    for task in plan_.tasks:
        path = Path(task.path)
        if task.rows or path.suffix == ".parquet":  # from the footer (0: empty, or not readable)
            total += task.rows
            continue
        try:
            total += path.stat().st_size // CSV_BYTES_PER_ROW
        except OSError:  # not readable: its read task says so, in the reader's words
            continue
    return total


def buckets_for(rows: int) -> int:
    """How many buckets a drop of ``rows`` rows is cut into (1: read whole, as ``validate_drop`` does)."""
    if rows <= WHOLE_ROWS:
        return 1
    return min(MAX_BUCKETS, -(-rows // ROWS_PER_BUCKET))


def buckets_wanted(drop: Path, tables: Sequence[str] | None, *, encoding: str = "utf-8") -> int:
    """``buckets_for`` the rows of the drop at ``drop`` (its files located and their footers read, no row)."""
    return buckets_for(drop_rows(plan(Path(drop), tables, encoding=encoding, partitions=1)))


@dataclass
class LocalRun:
    """What the partitioned run gathers: decisions (sorted by unit_id), problems (report order), counts."""

    decisions: pl.DataFrame | None
    problems: pl.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # records read per table (blank lines not counted)
    files: dict[str, SourceFile] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per step, wall

    @property
    def rejected_rows(self) -> int:
        return sum(self.rejected.values())


class _BucketFiles:
    """The bucket files under ``root``: ``root/<bucket>/<n>.arrow``, with what the reader knew of each."""

    def __init__(self, root: Path, partitions: int) -> None:
        self.root = root
        self.index: list[list[tuple[str, bool, bool, Path]]] = [[] for _ in range(partitions)]
        self.count = 0

    def add(self, piece: Piece) -> None:
        folder = self.root / f"{piece.bucket:05d}"
        if not self.index[piece.bucket]:
            folder.mkdir(exist_ok=True)
        path = folder / f"{self.count:07d}.arrow"
        self.count += 1
        piece.frame.write_ipc(path, compression=COMPRESSION)
        self.index[piece.bucket].append((piece.table, piece.ascii, piece.blank, path))

    def pieces(self, bucket: int, tables: Sequence[str]) -> list[Piece]:
        return [
            Piece(bucket, table, ascii_known, blank, pl.read_ipc(path))
            for table, ascii_known, blank, path in self.index[bucket]
            if table in tables
        ]

    def remove(self, bucket: int) -> None:
        shutil.rmtree(self.root / f"{bucket:05d}", ignore_errors=True)
        self.index[bucket] = []


def run_partitioned(
    drop: Path,
    tables: Sequence[str] | None,
    *,
    workdir: Path,
    params: ResolvedParams | None = None,
    as_of: date | None = None,
    encoding: str = "utf-8",
    partitions: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LocalRun:
    """Validate (and, with ``params``, screen) the tables of the drop at ``drop`` (None: every table) bucket by
    bucket, with the bucket files in a temporary folder under ``workdir`` (removed at the end). ``partitions``:
    the number of buckets (None: ``buckets_for`` the drop's rows). ``DropUnusable`` as ``validate_drop``
    raises it; ``OSError`` when ``workdir`` cannot hold the bucket files."""
    if params is not None and as_of is not None:
        check_as_of(params, as_of)
    plan_ = plan(Path(drop), tables, encoding=encoding, partitions=partitions or 1)
    if partitions is None:
        plan_ = dataclasses.replace(plan_, partitions=buckets_for(drop_rows(plan_)))
    workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=".mianshen-buckets-", dir=workdir))
    try:
        return _run(plan_, _BucketFiles(root, plan_.partitions), params, as_of, clock)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(
    plan_: Plan,
    files: _BucketFiles,
    params: ResolvedParams | None,
    as_of: date | None,
    clock: Callable[[], float],
) -> LocalRun:
    run = LocalRun(decisions=None, problems=empty_problems())
    located = list(plan_.sources)
    facts = tuple(n for n in located if n not in ("units", FLAGS_TABLE))
    problems: list[pl.DataFrame] = []
    decided: list[pl.DataFrame] = []

    def step(name: str, started: float) -> float:
        now = clock()
        run.seconds[name] = now - started
        log.info("%s: %.2f s (%d buckets)", name, now - started, plan_.partitions)
        return now

    def cut(names: Sequence[str]) -> None:
        for task in plan_.tasks:
            if task.table in names:
                for piece in read_pieces(task, plan_):
                    files.add(piece)

    def add(name: str, result: TableResult) -> None:
        run.rows[name] = run.rows.get(name, 0) + result.source.rows
        run.rejected[name] = run.rejected.get(name, 0) + result.rejected.height
        if not result.problems.is_empty():
            problems.append(result.problems)

    started = clock()
    cut(["units"])
    started = step("units: cut into buckets", started)
    codes: list[pl.DataFrame] = []
    height = 0
    for b in range(plan_.partitions):
        raw = raw_tables(files.pieces(b, ["units"]), plan_.sources, ["units"])["units"]
        bucket_codes, bucket_rows = unit_codes(raw)
        codes.append(bucket_codes)
        height += bucket_rows
    if height == 0:
        raise DropUnusable(
            f"{plan_.sources['units'].filename}: no data rows (a drop needs at least one unit)"
        )
    repeats = credit_repeats(pl.concat(codes, how="vertical"))
    del codes
    started = step("units: credit codes across buckets", started)

    flags: pl.DataFrame | None = None
    for name in (n for n in located if n != "units"):  # in validate_drop's order: its first unusable file
        if name != FLAGS_TABLE:
            cut([name])
            continue
        path = Path(next(t.path for t in plan_.tasks if t.table == FLAGS_TABLE))
        if plan_.sources[FLAGS_TABLE].parts:
            path = path.parent
        result = validate_table(reader.read_table(path, TABLES[FLAGS_TABLE], encoding=plan_.encoding))
        add(FLAGS_TABLE, result)
        flags = result.accepted
    started = step("facts and flags: cut into buckets", started)

    work = Screening(params, as_of, repeats, flags, facts)
    for b in range(plan_.partitions):
        raws = raw_tables(files.pieces(b, ["units", *facts]), plan_.sources, ["units", *facts])
        files.remove(b)
        results, bucket_decisions = screen_tables(raws, work)
        del raws
        for name, result in results.items():
            add(name, result)
        if bucket_decisions is not None:
            decided.append(bucket_decisions)
    started = step("buckets: validate and screen", started)

    run.problems = sort_problems(pl.concat(problems, how="vertical")) if problems else empty_problems()
    run.files = {n: dataclasses.replace(src, rows=run.rows.get(n, 0)) for n, src in plan_.sources.items()}
    if params is not None:
        if not decided:  # no accepted unit: the core's own empty answer
            empty = {n: pl.DataFrame(schema=TABLES[n].schema()) for n in located}
            decided.append(screen(empty, params, as_of or params.resolved_on))
        run.decisions = pl.concat(decided, how="vertical").sort("unit_id")
    step("decisions: gathered and sorted", started)
    return run
