"""The index of short name fragments behind the public list's search (``models.PublicityGram``, PostgreSQL).

When a notice opens, every line's unit name is cut into its characters and its pairs of adjacent characters, one
row each (``(gram, notice, entry)`` is the primary key, ``(gram, notice, district, entry)`` a second index), in ONE
statement in the notice's transaction, sorted in the indexes' order: the list is searchable the moment it is
public. The rows of notices that are no longer open are deleted at the same time, so the table holds the open
notices only (about 22 rows a line: 6.8 million at Beijing's 308,829 listed units). The search (``selectors.publicity_page``) reads a fragment of one or two
characters from here: an index-only range scan that is already in list order (entry id), for a page and for the
capped count alike, whatever the fragment's frequency. SQLite (the demo) does not build it and scans by LIKE."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

# Each name's distinct characters and pairs (UNION inside the lateral: no sort over the whole notice).
GRAMS_SQL = """
INSERT INTO portal_publicitygram (gram, entry_id, notice_id, district)
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
# The rows sorted in the order of both indexes before they are written: each index's pages are then filled one
# after the other instead of millions of inserts at random places of two indexes far larger than the server's
# buffers. The sort gets this much memory for the one statement (a notice's rows: ~270 MB at Beijing's size,
# sorted in runs on disk past it).
SORT_MEMORY = "256MB"

# Rows of notices no longer open (closed, or past their end).
STALE_SQL = """
DELETE FROM portal_publicitygram
WHERE notice_id IN (SELECT id FROM cases_notice WHERE closed_at IS NOT NULL OR ends_at <= %s)
"""


def indexed() -> bool:
    """Whether this database keeps the index (PostgreSQL) — elsewhere the search scans by LIKE."""
    return connection.vendor == "postgresql"


def index_notice(notice_id: int, now: datetime | None = None) -> int:
    """Index a notice's lines (call inside the transaction that opened it) and drop the rows of notices no longer
    open; the number of rows written (0 where the database keeps no index)."""
    if not indexed():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(STALE_SQL, [now or timezone.now()])
        cursor.execute("SELECT current_setting('work_mem'), set_config('work_mem', %s, true)", [SORT_MEMORY])
        (before, _set) = cursor.fetchone()
        cursor.execute(GRAMS_SQL, [notice_id])
        written = int(cursor.rowcount)
        cursor.execute(
            "SELECT set_config('work_mem', %s, true)", [before]
        )  # the rest of the transaction as it was
        return written


def is_short(q: str) -> bool:
    """A fragment the trigram index cannot serve (fewer than three characters), answered from this index."""
    return 1 <= len(q) <= 2 and indexed()
