"""The frames of the last snapshot imported or read in this process, kept: a snapshot never changes once its import
committed, so a screening round of it need not read its 25 million rows (Beijing's size) back from the database,
and the next import can copy a table whose accepted rows are the same inside the database instead of sending
every row again.

One snapshot at a time (its frames are what the import held anyway: ≈ 1–2 GB at Beijing's size). It is keyed by
the database, the snapshot's id, content hash and import time, so a snapshot of another database or a test's
rolled-back row that came back with the same id is never taken for the kept one. Frames are kept only after the
import's transaction committed (``transaction.on_commit``) or after a full read from the database.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from django.db import connection

from . import models

_Key = tuple[str, int, str, str]
_kept: tuple[_Key, dict[str, pl.DataFrame]] | None = None


def _key(snapshot: models.Snapshot) -> _Key:
    return (str(connection.settings_dict["NAME"]), snapshot.pk, snapshot.content_hash,
            snapshot.imported_at.isoformat())  # fmt: skip


def keep(snapshot: models.Snapshot, frames: Mapping[str, pl.DataFrame]) -> None:
    """Keep ``frames`` (table → its accepted rows, typed by the schema, in line order) as ``snapshot``'s; frames of
    the same snapshot already kept stay (another table read later is added)."""
    global _kept
    key = _key(snapshot)
    tables = dict(_kept[1]) if _kept is not None and _kept[0] == key else {}
    tables.update(frames)
    _kept = (key, tables)


def kept_frame(snapshot: models.Snapshot, table: str) -> pl.DataFrame | None:
    """``snapshot``'s kept frame of ``table``, or None."""
    if _kept is None or _kept[0] != _key(snapshot):
        return None
    return _kept[1].get(table)


def kept_same(table: str, frame: pl.DataFrame) -> models.Snapshot | None:
    """The kept snapshot whose ``table`` has exactly the rows of ``frame`` (same columns, types, values, order),
    if it still exists in this database; else None."""
    if _kept is None:
        return None
    (name, pk, content_hash, imported_at), tables = _kept
    earlier = tables.get(table)
    if name != str(connection.settings_dict["NAME"]) or earlier is None or not earlier.equals(frame):
        return None
    snapshot = models.Snapshot.objects.filter(pk=pk, content_hash=content_hash).first()
    if snapshot is None or snapshot.imported_at.isoformat() != imported_at:
        return None
    return snapshot


def forget() -> None:
    """Drop what is kept (tests: a rolled-back database)."""
    global _kept
    _kept = None
