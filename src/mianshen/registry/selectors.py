"""Registry selectors: read a snapshot back as the typed frames the policy engine takes."""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from mianshen.core.bulkdb import one_parameter
from mianshen.datadrop.schema import TABLES

from . import kept, models
from .bulk import frame_select
from .services import TABLE_MODELS


def snapshot_frames(
    *, snapshot: models.Snapshot, tables: tuple[str, ...] | None = None
) -> dict[str, pl.DataFrame]:
    """The accepted rows of ``snapshot`` per table, typed exactly as validation produced them."""
    wanted = tables or tuple(TABLE_MODELS)
    present = set(snapshot.rows_accepted)
    return {table: _frame(snapshot, table) for table in wanted if table in present}


def _frame(snapshot: models.Snapshot, table: str) -> pl.DataFrame:
    """One table of the snapshot: the frame kept since its import in this process, else read from the database."""
    frame = kept.kept_frame(snapshot, table)
    if frame is not None:
        return frame
    return frame_select(table=TABLE_MODELS[table]._meta.db_table, schema=TABLES[table].schema(),
                        snapshot_id=snapshot.pk)  # fmt: skip


def snapshot_latest() -> models.Snapshot | None:
    return models.Snapshot.objects.order_by("-id").first()


def unit_account_on_file(*, unit_id: str) -> tuple[models.Snapshot, models.BankAccount | None] | None:
    """The unit's account in use (社保在用账户): its ``bank_accounts`` row in the newest snapshot that lists the unit
    (in ``units`` or ``bank_accounts``), with that snapshot. ``(snapshot, None)`` when the newest snapshot lists the
    unit without an account (a drop is a full extract: the account is no longer on file); ``None`` when no
    snapshot lists the unit. Snapshots are few; each is looked up through its (snapshot, unit) index."""
    for snapshot in models.Snapshot.objects.order_by("-pk").only("pk", "imported_at", "extracted_on"):
        account = models.BankAccount.objects.filter(snapshot=snapshot, unit_id=unit_id).first()
        if account is not None:
            return snapshot, account
        if models.Unit.objects.filter(snapshot=snapshot, unit_id=unit_id).exists():
            return snapshot, None
    return None


def units_accounts_on_file(
    *, unit_ids: Collection[str]
) -> dict[str, tuple[models.Snapshot, models.BankAccount | None]]:
    """:func:`unit_account_on_file` for many units at once (a batch of corrections): per snapshot, newest first,
    one query for the accounts and one for the units listed without one, among the units not found yet (their
    ids as one parameter, however many). A unit no snapshot lists is absent from the result."""
    remaining = set(unit_ids)
    found: dict[str, tuple[models.Snapshot, models.BankAccount | None]] = {}
    if not remaining:
        return found
    for snapshot in models.Snapshot.objects.order_by("-pk").only("pk", "imported_at", "extracted_on"):
        if not remaining:
            break
        accounts = models.BankAccount.objects.filter(
            snapshot=snapshot, unit_id__in=one_parameter(sorted(remaining))
        )
        for account in accounts.order_by("pk"):  # as ``.first()``: the lowest id when a unit has two rows
            if account.unit_id in remaining:
                found[account.unit_id] = (snapshot, account)
                remaining.discard(account.unit_id)
        if not remaining:
            break
        listed = models.Unit.objects.filter(snapshot=snapshot, unit_id__in=one_parameter(sorted(remaining)))
        for unit_id in listed.values_list("unit_id", flat=True).distinct():
            found[unit_id] = (snapshot, None)
            remaining.discard(unit_id)
    return found
