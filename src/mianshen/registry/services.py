"""Registry services: import a validated drop as an immutable, content-hashed snapshot."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import polars as pl
from django.db import IntegrityError, transaction

from mianshen.datadrop.drop import ValidatedDrop
from mianshen.datadrop.schema import TABLE_ORDER, TABLES

from . import models
from .bulk import Progress, frame_insert

log = logging.getLogger(__name__)

# Which model holds each table's accepted rows.
TABLE_MODELS: dict[str, type[models._SnapshotRow]] = {
    "units": models.Unit,
    "headcount": models.Headcount,
    "separations": models.Separation,
    "contributions": models.Contribution,
    "bank_accounts": models.BankAccount,
    "credit_flags": models.CreditFlag,
    "dispatch_confirmations": models.DispatchConfirmation,
}


@dataclass(frozen=True)
class ImportResult:
    snapshot: models.Snapshot
    created: bool  # False: the same content was imported before; nothing was written


def snapshot_import(
    *,
    drop: ValidatedDrop,
    extracted_on: date,
    imported_by: str = "",
    advance: Progress | None = None,
) -> ImportResult:
    """Load ``drop`` as one snapshot, in one transaction: every accepted row, every rejected row with its
    reasons, every problem. Importing content already imported is a no-op that returns the earlier snapshot."""
    existing = models.Snapshot.objects.filter(content_hash=drop.content_hash).first()
    if existing is not None:
        return ImportResult(existing, created=False)
    try:
        with transaction.atomic():
            snapshot = models.Snapshot.objects.create(
                content_hash=drop.content_hash,
                source=str(drop.path),
                extracted_on=extracted_on,
                imported_by=imported_by,
                files=[
                    {
                        "table": f.table,
                        "filename": f.filename,
                        "format": f.format,
                        "sha256": f.sha256,
                        "rows": f.rows,
                    }
                    for f in drop.files.values()
                ],
                rows_accepted={t: df.height for t, df in drop.tables.items()},
                rows_rejected={t: df.height for t, df in drop.rejected.items() if df.height},
                errors=drop.error_count,
                warnings=drop.warning_count,
            )
            constants = {"snapshot_id": snapshot.pk}
            for table in TABLE_ORDER:
                if table in drop.tables:
                    frame_insert(
                        table=TABLE_MODELS[table]._meta.db_table,
                        df=drop.tables[table].select(TABLES[table].schema().keys()),
                        constants=constants,
                        advance=advance,
                    )
            for table, rejected in drop.rejected.items():
                frame_insert(
                    table=models.RejectedRow._meta.db_table,
                    df=_rejected_rows(drop, table, rejected),
                    constants=constants,
                    advance=advance,
                )
            frame_insert(
                table=models.Problem._meta.db_table,
                df=drop.problems.select(
                    "file", "line", pl.col("column").fill_null(""), "code", "severity", "message"
                ),
                constants=constants,
            )
    except IntegrityError:
        # Another import of the same content won the race: its snapshot stands, ours was rolled back whole.
        raced = models.Snapshot.objects.filter(content_hash=drop.content_hash).first()
        if raced is None:
            raise
        return ImportResult(raced, created=False)
    log.info("imported snapshot %s from %s", snapshot.pk, drop.path)
    return ImportResult(snapshot, created=True)


def _rejected_rows(drop: ValidatedDrop, table: str, rejected: pl.DataFrame) -> pl.DataFrame:
    filename = next(f.filename for f in drop.files.values() if f.table == table)
    value_cols = [c for c in TABLES[table].column_names if c in rejected.columns]
    return rejected.select(
        pl.lit(filename).alias("file"),
        pl.col("line"),
        pl.col("codes"),
        pl.struct([pl.col(c).cast(pl.String) for c in value_cols]).struct.json_encode().alias("values"),
    )
