"""Bulk writes and reads of Polars frames: COPY on PostgreSQL, executemany on SQLite.

Both sides stream in chunks so memory stays flat; the caller holds the transaction, so a failure leaves
nothing behind.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import polars as pl
from django.db import connection

CHUNK_ROWS = 500_000

Progress = Callable[[int], None]


def _chunks(df: pl.DataFrame, size: int = CHUNK_ROWS) -> Iterator[pl.DataFrame]:
    for start in range(0, df.height, size):
        yield df.slice(start, size)


def frame_insert(
    *, table: str, df: pl.DataFrame, constants: dict[str, int] | None = None, advance: Progress | None = None
) -> int:
    """Insert every row of ``df`` into ``table`` (columns by name), with ``constants`` added to each row."""
    if df.height == 0:
        return 0
    if constants:
        df = df.with_columns(pl.lit(v, dtype=pl.Int64).alias(k) for k, v in constants.items())
    columns = df.columns
    if connection.vendor == "postgresql":
        _copy_in(table, columns, df, advance)
    else:
        _executemany(table, columns, df, advance)
    return df.height


def frame_copy(
    *,
    table: str,
    columns: list[str],
    source_snapshot_id: int,
    snapshot_id: int,
    advance: Progress | None = None,
) -> int:
    """Copy the rows of ``table`` of snapshot ``source_snapshot_id`` as snapshot ``snapshot_id``'s, inside the
    database (``INSERT … SELECT``, in line order): for a table whose accepted rows are exactly an earlier
    snapshot's (``kept.kept_same``), instead of sending every row again. Returns the number of rows copied."""
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    sql = (
        f"INSERT INTO {qn(table)} ({cols}, {qn('snapshot_id')}) SELECT {cols}, %s FROM {qn(table)} "
        f"WHERE {qn('snapshot_id')} = %s ORDER BY {qn('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [snapshot_id, source_snapshot_id])
        copied = cursor.rowcount
    if advance:
        advance(copied)
    return copied


def _copy_in(table: str, columns: list[str], df: pl.DataFrame, advance: Progress | None) -> None:
    qn = connection.ops.quote_name
    sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN (FORMAT csv)"
    # the driver's own cursor: its errors are made Django's (DataError, IntegrityError, ...) as the ORM's are
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for chunk in _chunks(df):
            buf = io.BytesIO()
            # CSV nulls are unquoted empty fields (NULL in COPY csv); empty strings never reach here
            # (required text is non-empty after validation, optional text is null when empty).
            chunk.write_csv(buf, include_header=False, null_value="", date_format="%Y-%m-%d")
            copy.write(buf.getvalue())
            if advance:
                advance(chunk.height)


def _executemany(table: str, columns: list[str], df: pl.DataFrame, advance: Progress | None) -> None:
    qn = connection.ops.quote_name
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES ({placeholders})"
    # SQLite stores dates as ISO text and booleans as 0/1, as Django does.
    df = df.with_columns(
        [pl.col(c).dt.strftime("%Y-%m-%d") for c, t in df.schema.items() if t == pl.Date()]
        + [pl.col(c).cast(pl.Int8) for c, t in df.schema.items() if t == pl.Boolean()]
    )
    with connection.cursor() as cursor:
        for chunk in _chunks(df, 100_000):
            cursor.executemany(sql, chunk.rows())
            if advance:
                advance(chunk.height)


def frame_select(*, table: str, schema: dict[str, pl.DataType], snapshot_id: int) -> pl.DataFrame:
    """Read ``schema``'s columns of one snapshot's rows of ``table``, in insertion order, typed by ``schema``."""
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in schema)
    select = f"SELECT {cols} FROM {qn(table)} WHERE snapshot_id = {int(snapshot_id)} ORDER BY id"
    if connection.vendor == "postgresql":
        buf = io.BytesIO()
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy,
        ):
            for block in copy:
                buf.write(block)
        if buf.tell() == 0:
            return pl.DataFrame(schema=schema)
        raw = pl.read_csv(
            buf.getvalue(),
            has_header=False,
            new_columns=list(schema),
            infer_schema=False,
        )
    else:
        return _sqlite_select(table, schema, snapshot_id)
    return raw.select(_typed_column(name, dtype) for name, dtype in schema.items())


SQLITE_FETCH_ROWS = 200_000


def _sqlite_select(table: str, schema: dict[str, pl.DataType], snapshot_id: int) -> pl.DataFrame:
    """``frame_select`` on SQLite: a block of rows at a time into a frame, dates read as their stored ISO text and
    booleans as 0/1 (an expression has no declared type, so Django's per-value converters stay out of it) and
    typed by Polars column by column: a snapshot of 450,000 units has 25 million rows."""
    qn = connection.ops.quote_name
    stored = {
        name: pl.String() if dtype == pl.Date() else pl.Int64() if dtype == pl.Boolean() else dtype
        for name, dtype in schema.items()
    }
    cast = {pl.Date(): "TEXT", pl.Boolean(): "INTEGER"}
    cols = ", ".join(
        f"CAST({qn(c)} AS {cast[dtype]}) AS {qn(c)}" if dtype in cast else qn(c)
        for c, dtype in schema.items()
    )
    select = f"SELECT {cols} FROM {qn(table)} WHERE snapshot_id = {int(snapshot_id)} ORDER BY id"
    blocks = []
    with connection.cursor() as cursor:
        cursor.execute(select)
        while rows := cursor.fetchmany(SQLITE_FETCH_ROWS):
            blocks.append(pl.DataFrame(rows, schema=stored, orient="row"))
    if not blocks:
        return pl.DataFrame(schema=schema)
    return pl.concat(blocks, rechunk=True).select(
        pl.col(name).str.to_date("%Y-%m-%d") if dtype == pl.Date() else pl.col(name).cast(dtype)
        for name, dtype in schema.items()
    )


_BOOLEAN_TEXT = {
    "t": True,
    "true": True,
    "1": True,
    "True": True,
    "f": False,
    "false": False,
    "0": False,
    "False": False,
}


def _typed_column(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.Date():
        return col.str.to_date("%Y-%m-%d").alias(name)
    if dtype == pl.Boolean():
        return col.replace_strict(_BOOLEAN_TEXT, return_dtype=pl.Boolean).alias(name)
    return col.cast(dtype).alias(name)
