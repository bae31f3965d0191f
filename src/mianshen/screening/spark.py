"""`mianshen screen --engine spark` (contracts §6): the drop validated and screened on Apache Spark, partitioned by
unit, with the same Polars code as the single-node run on each partition (docs/spark.md).

The plan, the buckets and a bucket's work are ``buckets.py``'s, shared with the single-node run of a large drop
(``local.py``). In four Spark jobs over one SparkSession:

1. **Read** (one task per file, or per Parquet part of a folder): the project's reader reads the file as
   ``validate`` does (``reader.read_table`` / ``reader.read_part``; every row keeps its ``line``, numbered across
   a folder's parts), normalises the partition key as the checks do (``checks.prepare``: ``unit_id``, or
   ``credit_code`` for ``credit_flags``), and cuts the rows into ``partitions`` buckets by a hash of that key.
   Each bucket's rows leave the task as one Arrow IPC blob; Spark shuffles blobs, never rows (the rows as read
   are text for CSV and the file's types for Parquet: Spark never parses a value).
2. **Credit codes** (the one check across units that are not of one partition): each unit bucket is validated
   with every check but DUPLICATE_CREDIT_CODE, and its accepted rows' (credit_code, line) go to a Spark
   aggregate partitioned by credit code: a row whose code's first accepted line is earlier repeats it. The
   repeats (line, first line: a handful of rows) come back to the driver.
3. **Flags**: ``credit_flags`` (keyed by credit code, no unit column) is validated per credit-code bucket; its
   accepted rows come back to the driver (a small table: the units on a partner's list).
4. **Units and facts** (``groupBy(bucket).applyInArrow``): in each bucket, ``validate_table`` checks the units
   (with the repeats of step 2), then each fact table against the bucket's accepted units (UNKNOWN_UNIT: a
   fact's unit is in its own bucket, as every key that starts with unit_id), then ``engine.screen`` - the
   unchanged policy core - runs on the accepted rows with the flags of step 3. Out come the bucket's decisions,
   problems and rejected-row count.

What is computed once and broadcast to every bucket: the resolved parameters and the as-of date, each table's
file description (names and row counts of a folder's parts, so a line is named within its part), the credit-code
repeats and the accepted credit flags. The driver then sorts the decisions by unit_id (code-point order) and
writes them with ``output.write_decisions``, as the single-node run does: byte-identical ``decisions.csv``.
Money never leaves integer fen and nothing is summed across buckets but row counts.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from mianshen.datadrop import reader
from mianshen.datadrop.drop import DropUnusable, SourceFile
from mianshen.datadrop.schema import EXIT_OK, EXIT_REJECTED, TABLES
from mianshen.datadrop.validate import TableResult, empty_problems, sort_problems, validate_table
from mianshen.policy.engine import check_as_of, screen
from mianshen.policy.parameters import ResolvedParams

from . import buckets
from .buckets import FLAGS_TABLE, Piece, Plan, ReadTask, Screening, plan, raw_tables, read_pieces

INSTALL_SPARK = "the spark engine needs PySpark: pip install mianshen[spark]"
INSTALL_JAVA = "the spark engine needs Java 17: apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"
DEFAULT_MASTER = "local[*]"

# what a read task emits: one row per (bucket, table) and file or part
_BLOB_SCHEMA = "bucket int, tbl string, ascii boolean, blank boolean, payload binary"
# what a bucket emits: decisions / problems / rejected / rows / accepted rows, each as one IPC blob
_OUT_SCHEMA = "kind string, tbl string, payload binary"
_CODES_SCHEMA = "credit_code string, line long, height long"


class SparkUnavailable(Exception):
    """PySpark or Java is missing, or Spark could not start: one line saying what to install."""


# --- what the buckets share (buckets.py) ----------------------------------------------------------------


def _ipc(frame: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.write_ipc(out, compression="lz4")
    return out.getvalue()


def _frame(payload: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(payload))


def read_task_rows(task: ReadTask, plan_: Plan) -> Iterator[tuple[Any, ...]]:
    """``buckets.read_pieces`` as one blob per bucket; a file that cannot be read as one row of bucket -1 with
    the reader's message (nothing is yielded before the file is read whole)."""
    try:
        for piece in read_pieces(task, plan_):
            yield (piece.bucket, piece.table, piece.ascii, piece.blank, _ipc(piece.frame))
    except DropUnusable as exc:
        yield (-1, task.table, False, False, str(exc).encode("utf-8"))


def group_tables(group: Any, plan_: Plan, names: Sequence[str]) -> dict[str, reader.RawTable]:
    """A bucket's blobs (an Arrow table of ``_BLOB_SCHEMA``) as one ``RawTable`` per table of ``names``."""
    pieces = (
        Piece(0, tbl, bool(ascii_known), bool(blank), _frame(payload))
        for tbl, ascii_known, blank, payload in zip(
            group.column("tbl").to_pylist(),
            group.column("ascii").to_pylist(),
            group.column("blank").to_pylist(),
            group.column("payload").to_pylist(),
            strict=True,
        )
        if tbl in names
    )
    return raw_tables(pieces, plan_.sources, names)


# --- the work of one bucket (runs on an executor) -----------------------------------------------------------


def _row(kind: str, table: str, payload: bytes) -> dict[str, Any]:
    return {"kind": kind, "tbl": table, "payload": payload}


def _table_rows(name: str, result: TableResult) -> list[dict[str, Any]]:
    counts = pl.DataFrame({"rows": [result.source.rows], "rejected": [result.rejected.height]})
    rows = [_row("counts", name, _ipc(counts))]
    if not result.problems.is_empty():
        rows.append(_row("problems", name, _ipc(result.problems)))
    return rows


def _arrow(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist(
        rows, schema=pa.schema([("kind", pa.string()), ("tbl", pa.string()), ("payload", pa.binary())])
    )


def unit_codes(group: Any, plan_: Plan) -> Any:
    """Step 2 in a bucket: the units' accepted rows before the credit-code check, as (credit_code, line), and
    one row with the bucket's unit count (after blank lines)."""
    import pyarrow as pa

    codes, height = buckets.unit_codes(group_tables(group, plan_, ["units"])["units"])
    codes = codes.with_columns(pl.lit(None, pl.Int64).alias("height"))
    total = pl.DataFrame({"credit_code": [None], "line": [None], "height": [height]}).cast(
        {"credit_code": pl.String, "line": pl.Int64, "height": pl.Int64}
    )
    return pa.Table.from_batches(pl.concat([codes, total]).to_arrow().to_batches()).cast(
        pa.schema([("credit_code", pa.string()), ("line", pa.int64()), ("height", pa.int64())])
    )


def _unusable(group: Any) -> Any | None:
    """The group of bucket -1 (files that could not be read): their messages, as rows of kind ``unusable``."""
    if group.num_rows == 0 or group.column("bucket")[0].as_py() != -1:
        return None
    tables, payloads = group.column("tbl").to_pylist(), group.column("payload").to_pylist()
    return _arrow([_row("unusable", t, p) for t, p in zip(tables, payloads, strict=True)])


def _raise_if_unusable(*results: Any) -> None:
    """The first unusable file in table order (as ``validate_drop`` reads them) makes the drop unusable."""
    bad = [
        (t, p)
        for result in results
        for k, t, p in zip(
            result.column("kind").to_pylist(),
            result.column("tbl").to_pylist(),
            result.column("payload").to_pylist(),
            strict=True,
        )
        if k == "unusable"
    ]
    if bad:
        order = list(TABLES)
        raise DropUnusable(bytes(min(bad, key=lambda b: order.index(b[0]))[1]).decode("utf-8"))


def validate_flags(group: Any, plan_: Plan) -> Any:
    """Step 3 in a bucket of credit codes: ``credit_flags`` checked; accepted rows, problems and counts out."""
    if (unusable := _unusable(group)) is not None:
        return unusable
    result = validate_table(group_tables(group, plan_, [FLAGS_TABLE])[FLAGS_TABLE])
    rows = _table_rows(FLAGS_TABLE, result)
    if not result.accepted.is_empty():
        rows.append(_row("accepted", FLAGS_TABLE, _ipc(result.accepted)))
    return _arrow(rows)


def screen_bucket(group: Any, plan_: Plan, work: Screening) -> Any:
    """Step 4 in a unit bucket: ``buckets.screen_tables`` (validate units then facts, screen the accepted rows
    with the unchanged core) on the bucket's blobs."""
    if (unusable := _unusable(group)) is not None:
        return unusable
    raws = group_tables(group, plan_, ["units", *work.fact_tables])
    results, decided = buckets.screen_tables(raws, work)
    rows = [row for name, result in results.items() for row in _table_rows(name, result)]
    if decided is not None:
        rows.append(_row("decisions", "units", _ipc(decided)))
    return _arrow(rows)


# --- the driver -----------------------------------------------------------------------------------------------


@dataclass
class SparkRun:
    """What the driver gathers: decisions (sorted by unit_id), problems (report order), counts per table."""

    path: Path
    decisions: pl.DataFrame | None
    problems: pl.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # records read per table (blank lines not counted)
    files: dict[str, SourceFile] = field(default_factory=dict)  # as ``ValidatedDrop.files`` (no digests)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rejected_rows(self) -> int:
        return sum(self.rejected.values())

    @property
    def error_count(self) -> int:
        return int(self.problems.filter(pl.col("severity") == "error").height)

    @property
    def warning_count(self) -> int:
        return int(self.problems.filter(pl.col("severity") == "warning").height)

    @property
    def exit_code(self) -> int:
        return EXIT_REJECTED if self.rejected_rows else EXIT_OK

    def accepted_in(self, table: str) -> int:
        return self.rows.get(table, 0) - self.rejected.get(table, 0)

    def rejected_in(self, table: str) -> int:
        return self.rejected.get(table, 0)


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> Any:
    """A SparkSession (local mode by default), or ``SparkUnavailable`` in one line naming what to install."""
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(INSTALL_SPARK) from None
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise SparkUnavailable(INSTALL_JAVA)
    master = master or DEFAULT_MASTER
    # the Python workers run this interpreter (local mode), unless the caller chose one for the cluster
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("mianshen screen")
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "8",
        **({"spark.driver.memory": "3g"} if master.startswith("local") else {}),
        **dict(conf or {}),
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start, or the master refused
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SparkUnavailable(f"Spark did not start with master {master}: {first}") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def default_partitions(session: Any) -> int:
    return max(4, 4 * int(session.sparkContext.defaultParallelism))


def _blobs(session: Any, plan_: Plan, tables: Sequence[str]) -> Any:
    """The read step for ``tables``: a DataFrame of bucketed blobs (one Spark task per file or part)."""
    tasks = [t for t in plan_.tasks if t.table in tables]
    if not tasks:
        return None
    rdd = session.sparkContext.parallelize(tasks, len(tasks)).flatMap(lambda t: read_task_rows(t, plan_))
    return session.createDataFrame(rdd, _BLOB_SCHEMA)


def _raise_unusable(blobs: Any) -> None:
    """A file that could not be read (bucket -1): the drop is unusable, with the reader's one-line message."""
    bad = blobs.filter("bucket = -1").select("tbl", "payload").collect()
    if bad:
        order = list(TABLES)
        first = min(bad, key=lambda r: order.index(r["tbl"]))
        raise DropUnusable(bytes(first["payload"]).decode("utf-8"))


def _gather(result: Any, run: SparkRun, problems: list[pl.DataFrame], decided: list[pl.DataFrame]) -> None:
    for kind, tbl, payload in zip(
        result.column("kind").to_pylist(),
        result.column("tbl").to_pylist(),
        result.column("payload").to_pylist(),
        strict=True,
    ):
        if kind == "unusable":  # a message, raised by _raise_if_unusable
            continue
        frame = _frame(payload)
        if kind == "counts":
            run.rows[tbl] = run.rows.get(tbl, 0) + int(frame["rows"].sum())
            run.rejected[tbl] = run.rejected.get(tbl, 0) + int(frame["rejected"].sum())
        elif kind == "problems":
            problems.append(frame)
        elif kind == "decisions":
            decided.append(frame)


def run_on_spark(
    session: Any,
    drop: Path,
    tables: Sequence[str] | None,
    *,
    params: ResolvedParams | None = None,
    as_of: date | None = None,
    encoding: str = "utf-8",
    partitions: int | None = None,
    clock: Callable[[], float] | None = None,
) -> SparkRun:
    """Validate (and, with ``params``, screen) the tables of the drop at ``drop`` (None: every table, as
    ``mianshen validate``) on ``session``. ``DropUnusable`` as ``validate_drop`` raises it."""
    import time

    from pyspark import StorageLevel

    tick = clock or time.monotonic
    started = tick()
    if params is not None and as_of is not None:
        check_as_of(params, as_of)
    plan_ = plan(Path(drop), tables, encoding=encoding, partitions=partitions or default_partitions(session))
    located = [name for name in plan_.sources]
    facts = tuple(n for n in located if n not in ("units", FLAGS_TABLE))
    run = SparkRun(path=Path(drop), decisions=None, problems=empty_problems())
    problems: list[pl.DataFrame] = []
    decided: list[pl.DataFrame] = []

    # Nothing is cached: Spark's cache of multi-megabyte blobs lost blocks at 1M units in local mode
    # ([INTERNAL_ERROR_STORAGE]); the units and flags files are read again instead (a small share of a drop).
    session.conf.set("spark.sql.shuffle.partitions", str(plan_.partitions))  # one task per bucket
    units = _blobs(session, plan_, ["units"])
    _raise_unusable(units)
    # step 2: credit codes repeated across the unit buckets, found in a Spark aggregate by credit code
    codes = units.groupBy("bucket").applyInArrow(lambda g: unit_codes(g, plan_), _CODES_SCHEMA)
    codes = codes.persist(StorageLevel.MEMORY_AND_DISK)  # small: a code and a line per unit
    try:
        height = codes.agg({"height": "sum"}).collect()[0][0] or 0
        if height == 0:
            raise DropUnusable(
                f"{plan_.sources['units'].filename}: no data rows (a drop needs at least one unit)"
            )
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        accepted = codes.filter("line is not null and credit_code is not null")
        first = F.min("line").over(Window.partitionBy("credit_code"))
        repeats_rows = (
            accepted.withColumn("first_line", first).filter("line <> first_line").select("line", "first_line")
        ).collect()
    finally:
        codes.unpersist()
    repeats = pl.DataFrame(
        {"line": [r[0] for r in repeats_rows], "first_line": [r[1] for r in repeats_rows]},
        schema={"line": pl.Int64, "first_line": pl.Int64},
    )
    run.seconds["units"] = tick() - started

    # step 3: the credit flags, validated per credit code; accepted rows gathered for every bucket
    flags: pl.DataFrame | None = None
    flag_result = None
    if FLAGS_TABLE in located:
        flag_blobs = _blobs(session, plan_, [FLAGS_TABLE])
        out = flag_blobs.groupBy("bucket").applyInArrow(lambda g: validate_flags(g, plan_), _OUT_SCHEMA)
        result = flag_result = out.toArrow()
        _gather(result, run, problems, decided)
        pieces = [
            _frame(p)
            for k, p in zip(
                result.column("kind").to_pylist(), result.column("payload").to_pylist(), strict=True
            )
            if k == "accepted"
        ]
        flags = (
            pl.concat(pieces).sort("line") if pieces else pl.DataFrame(schema=TABLES[FLAGS_TABLE].schema())
        )
    run.seconds["flags"] = tick() - started

    # step 4: units and facts by unit bucket: validate, then screen
    fact_blobs = _blobs(session, plan_, facts) if facts else None
    both = units if fact_blobs is None else units.unionByName(fact_blobs)
    work = Screening(params, as_of, repeats, flags, facts)
    out = both.groupBy("bucket").applyInArrow(lambda g: screen_bucket(g, plan_, work), _OUT_SCHEMA)
    result = out.toArrow()
    _raise_if_unusable(result, *([flag_result] if flag_result is not None else []))
    _gather(result, run, problems, decided)
    run.seconds["screen"] = tick() - started
    run.problems = sort_problems(pl.concat(problems, how="vertical")) if problems else empty_problems()
    run.files = {n: dataclasses.replace(src, rows=run.rows.get(n, 0)) for n, src in plan_.sources.items()}
    if params is not None:
        if not decided:  # no accepted unit: the core's own empty answer
            empty = {n: pl.DataFrame(schema=TABLES[n].schema()) for n in located}
            decided.append(screen(empty, params, as_of or params.resolved_on))
        run.decisions = pl.concat(decided, how="vertical").sort("unit_id")
    return run
