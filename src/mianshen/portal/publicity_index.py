"""The index of short name fragments behind the public list's search (``models.PublicityGram``, PostgreSQL).

When a notice opens, every line's unit name is cut into its characters and its pairs of adjacent characters, one
row each (``(gram, notice, entry)`` is the primary key, ``(gram, notice, district, entry)`` a second index), in the
notice's transaction: the list is searchable the moment it is public. The rows of notices that are no longer open
are deleted at the same time, so the table holds the open notices' rows only (about 22 rows a line: 6.8 million at
Beijing's 308,829 listed units). The search (``selectors.publicity_page``) reads a fragment of one or two
characters from here: an index-only range scan that is already in list order (entry id), for a page and for the
capped count alike, whatever the fragment's frequency. SQLite (the demo) does not build it and scans by LIKE.

On PostgreSQL the table is partitioned by notice (``PARTITION BY LIST (notice_id)``, migration
``0005_premove_gram_partitions``): a new notice's rows are written into a table of their own, sorted, with no
index, and the table is then attached as the notice's partition, which builds its two indexes in one sorted pass
each. Written row by row into the indexes of one table, 6.8 million rows took 305 s at Beijing's size (each insert
at a random place of two indexes far larger than the server's buffers). Attaching takes a lock on the partitioned
table that lets searches of the other notices go on. A stale notice's partition is emptied (``DELETE``), not
dropped: dropping or detaching would lock out every search until the new notice's transaction commits.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

TABLE = "portal_publicitygram"

# Each name's distinct characters and pairs (UNION inside the lateral: no sort over the whole notice), in the
# order of the indexes (the heap then follows them: a search reads neighbouring rows).
GRAMS_SQL = """
INSERT INTO {table} (gram, entry_id, notice_id, district)
SELECT g.gram, e.id, e.notice_id, e.district
FROM cases_noticeentry AS e
CROSS JOIN LATERAL (
    SELECT substr(e.unit_name, i, 1) AS gram FROM generate_series(1, char_length(e.unit_name)) AS i
    UNION
    SELECT substr(e.unit_name, i, 2) FROM generate_series(1, char_length(e.unit_name) - 1) AS i
) AS g
WHERE e.notice_id = %s
ORDER BY g.gram, e.district, e.id
"""

# Notices no longer open (closed, or past their end).
STALE_SQL = "SELECT id FROM cases_notice WHERE closed_at IS NOT NULL OR ends_at <= %s"

# Memory for the one statement's sort and the partition's index builds (a notice's rows: ~270 MB at Beijing's
# size, sorted in runs on disk past it); the transaction's own settings are put back after.
SORT_MEMORY = "256MB"


def partition_name(notice_id: int) -> str:
    return f"{TABLE}_n{int(notice_id)}"


def indexed() -> bool:
    """Whether this database keeps the index (PostgreSQL) — elsewhere the search scans by LIKE."""
    return connection.vendor == "postgresql"


def index_notice(notice_id: int, now: datetime | None = None) -> int:
    """Index a notice's lines (call inside the transaction that opened it) and empty the partitions of notices no
    longer open; the number of rows written (0 where the database keeps no index)."""
    if not indexed():
        return 0
    notice_id = int(notice_id)
    qn = connection.ops.quote_name
    part = partition_name(notice_id)
    with connection.cursor() as cursor:
        cursor.execute(STALE_SQL, [now or timezone.now()])
        stale = [i for (i,) in cursor.fetchall() if i != notice_id]
        if stale:  # the partitions named in the statement: no scan of the open notices' rows
            cursor.execute(f"DELETE FROM {qn(TABLE)} WHERE notice_id = ANY(%s)", [stale])
        cursor.execute(
            "SELECT current_setting('work_mem'), current_setting('maintenance_work_mem'), "
            "set_config('work_mem', %s, true), set_config('maintenance_work_mem', %s, true), "
            "to_regclass(%s) IS NOT NULL",
            [SORT_MEMORY, SORT_MEMORY, part],
        )
        work_mem, maintenance_work_mem, _w, _m, exists = cursor.fetchone()
        if exists:  # indexed before (not in the application's flow): the rows go through the indexes
            cursor.execute(GRAMS_SQL.format(table=qn(TABLE)), [notice_id])
            written = int(cursor.rowcount)
        else:
            cursor.execute(f"CREATE TABLE {qn(part)} (LIKE {qn(TABLE)} INCLUDING DEFAULTS)")
            cursor.execute(GRAMS_SQL.format(table=qn(part)), [notice_id])
            written = int(cursor.rowcount)
            cursor.execute(f"ALTER TABLE {qn(TABLE)} ATTACH PARTITION {qn(part)} FOR VALUES IN ({notice_id})")
        cursor.execute(
            "SELECT set_config('work_mem', %s, true), set_config('maintenance_work_mem', %s, true)",
            [work_mem, maintenance_work_mem],
        )
        return written


def is_short(q: str) -> bool:
    """A fragment the trigram index cannot serve (fewer than three characters), answered from this index."""
    return 1 <= len(q) <= 2 and indexed()
