"""Registry selectors: read a snapshot back as the typed frames the policy engine takes."""

from __future__ import annotations

import polars as pl

from mianshen.datadrop.schema import TABLES

from . import models
from .bulk import frame_select
from .services import TABLE_MODELS


def snapshot_frames(
    *, snapshot: models.Snapshot, tables: tuple[str, ...] | None = None
) -> dict[str, pl.DataFrame]:
    """The accepted rows of ``snapshot`` per table, typed exactly as validation produced them."""
    wanted = tables or tuple(TABLE_MODELS)
    present = set(snapshot.rows_accepted)
    return {
        table: frame_select(
            table=TABLE_MODELS[table]._meta.db_table, schema=TABLES[table].schema(), snapshot_id=snapshot.pk
        )
        for table in wanted
        if table in present
    }


def snapshot_latest() -> models.Snapshot | None:
    return models.Snapshot.objects.order_by("-id").first()
