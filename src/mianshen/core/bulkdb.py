"""Bulk inserts and updates of plain rows for the hot paths (hundreds of thousands of instructions and status
lines): ``COPY`` on PostgreSQL (updates through a temporary table), ``executemany`` on SQLite. The caller holds
the transaction, so a failure leaves nothing behind.

And ``one_parameter``: a list of ids or keys for ``field__in=`` as ONE statement parameter, so that no query's
parameter list grows with the number of units, cases or payments (SQLite refuses a statement with more variables
than its ``SQLITE_LIMIT_VARIABLE_NUMBER``: 250,000 in Debian's build, 32,766 by default, 999 before 3.32;
PostgreSQL's protocol allows 65,535)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection, models
from django.db.models.expressions import RawSQL

Row = Sequence[Any]
COPY_FROM = 500  # rows: below this, an executemany (pipelined) is quicker than a temporary table
_seq = 0


def _same(value: Any) -> Any:
    return value


def _sqlite_value(value: Any) -> Any:
    """A value as Django stores it in SQLite: datetimes as naive UTC text (so they sort and compare as text with
    the ORM's), dates as ISO text."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def one_parameter(values: Collection[int] | Collection[str]) -> RawSQL | list[Any]:
    """``values`` (all ints or all strings) as a subquery bound to one parameter, for ``field__in=``:
    ``SELECT unnest(%s::bigint[])`` (or ``text[]``) on PostgreSQL, ``SELECT value FROM json_each(%s)`` on SQLite.
    ``Case.objects.filter(pk__in=one_parameter(ids))`` is one statement with one parameter for any number of ids
    (SQLite reads 450,000 ids this way in about a second). No values: an empty list, which Django answers without
    a query (an empty array has no element type to tell ``bigint`` from ``text``: PostgreSQL refused
    ``unit_id IN (SELECT unnest('{}'::bigint[]))``)."""
    items = list(values)
    if not items:
        return []
    numeric = all(isinstance(v, int) for v in items)
    if not numeric and not all(isinstance(v, str) for v in items):
        raise TypeError("one_parameter takes ints or strings, not a mix")
    if connection.vendor == "postgresql":
        return RawSQL(f"SELECT unnest(%s::{'bigint' if numeric else 'text'}[])", (items,))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(items, ensure_ascii=False),))


def bulk_update_batch(fields: int) -> int | None:
    """A ``batch_size`` for ``QuerySet.bulk_update`` of ``fields`` columns that keeps each statement within the
    database's parameter limit. Django sizes the batches as if each object cost ``fields + 2`` parameters, but its
    ``CASE WHEN id = ? THEN ?`` per field and the ``IN (?)`` list cost ``2 * fields + 1``: on an SQLite built with
    a small ``SQLITE_LIMIT_VARIABLE_NUMBER`` its batches overflow. ``None`` where there is no limit."""
    limit = connection.features.max_query_params
    if not limit:
        return None
    return max(1, limit // (2 * fields + 1))


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Row]) -> int:
    """Insert ``rows`` (values in ``columns`` order, column names as in the database) into ``model``'s table."""
    if not rows:
        return 0
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    cols = ", ".join(qn(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                [[_sqlite_value(v) for v in row] for row in rows],
            )
    return len(rows)


def insert_objects(objs: Sequence[models.Model]) -> None:
    """Insert unsaved model instances of one model, as ``bulk_create`` would (each field's ``pre_save`` and
    ``get_db_prep_save``; ids given or assigned by the database and set on the instances), for rows with large
    binary columns (bank files, inbound answers). On PostgreSQL the values are bound by the server (psycopg's
    ``Cursor`` on Django's connection, in its transaction): the bytes go as binary, where Django's client-side
    binding writes them into the statement as hex text for the server to parse (20 MB: 4-5 s against 1.1-1.6 s
    on a loaded machine). Elsewhere ``bulk_create``."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)
        return
    import psycopg

    meta = model._meta
    qn = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None
    connection.ensure_connection()
    raw = connection.connection
    for with_pk in (True, False):
        group = [o for o in objs if (o.pk is not None) == with_pk]
        if not group:
            continue
        fields = [f for f in meta.concrete_fields if with_pk or f is not pk]
        sql = (
            f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {qn(pk.column)}"
        )
        with (
            connection.wrap_database_errors,
            psycopg.Cursor(raw) as cursor,
        ):  # Django's exceptions, as the ORM's
            for obj in group:
                values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
                cursor.execute(sql, values)
                row = cursor.fetchone()
                assert row is not None
                obj.pk = row[0]
                obj._state.adding, obj._state.db = False, connection.alias


ANALYZE_AFTER_ROWS = 10_000  # a bulk load at least this large refreshes the planner's statistics at once


def analyze_after_load(model: type[models.Model], rows: int) -> bool:
    """After a bulk load of ``rows`` rows into ``model``'s table, refresh PostgreSQL's statistics of that table
    (``ANALYZE``, a sample, inside the loading transaction) so that the very next queries are planned for the
    table's real size, not for the empty one autovacuum last saw (a 300,000-entry notice searched by name: 162 ms
    with the stale statistics, 22 ms after). SQLite plans without them. Returns whether it ran."""
    if connection.vendor != "postgresql" or rows < ANALYZE_AFTER_ROWS:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return True


def update_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Row]) -> int:
    """Set ``columns`` of the rows whose primary key is the first value of each row: ``(pk, *values)``."""
    if not rows:
        return 0
    global _seq
    qn = connection.ops.quote_name
    meta = model._meta
    table = qn(meta.db_table)
    pk = qn(meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= COPY_FROM:
            _seq += 1
            temp = qn(f"_upd_{meta.db_table}_{_seq}")
            fields = {f.column: f for f in meta.concrete_fields}
            types = [f"{qn(meta.pk.column)} bigint"] + [
                f"{qn(c)} {fields[c].db_type(connection) or 'text'}" for c in columns
            ]
            cursor.execute(f"CREATE TEMPORARY TABLE {temp} ({', '.join(types)}) ON COMMIT DROP")
            names = ", ".join([pk] + [qn(c) for c in columns])
            with cursor.cursor.copy(f"COPY {temp} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            sets = ", ".join(f"{qn(c)} = u.{qn(c)}" for c in columns)
            cursor.execute(f"UPDATE {table} AS t SET {sets} FROM {temp} AS u WHERE t.{pk} = u.{pk}")
            cursor.execute(f"DROP TABLE {temp}")
        else:
            sets = ", ".join(f"{qn(c)} = %s" for c in columns)
            convert = _sqlite_value if connection.vendor == "sqlite" else _same
            cursor.executemany(
                f"UPDATE {table} SET {sets} WHERE {pk} = %s",
                [[convert(v) for v in row[1:]] + [row[0]] for row in rows],
            )
    return len(rows)


def allocate_ids(model: type[models.Model], n: int) -> list[int]:
    """``n`` fresh primary keys for ``model`` (so rows that point at each other can be inserted in one go):
    from its sequence on PostgreSQL; above the largest id on SQLite (writers hold the database lock there)."""
    if n <= 0:
        return []
    qn = connection.ops.quote_name
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, column, n],
            )
            return [int(row[0]) for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX({qn(column)}), 0) FROM {qn(table)}")
        start = int(cursor.fetchone()[0]) + 1
        return list(range(start, start + n))
