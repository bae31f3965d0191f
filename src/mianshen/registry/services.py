"""Registry services: import a validated drop as an immutable, content-hashed snapshot.

Every import leaves one audit event: ``snapshot.imported`` (with its counts and content hash, in the import's
own transaction), ``snapshot.import_repeated`` (the same content again: nothing written), or
``snapshot.rejected`` (refused whole; written in a transaction of its own after the refusal, so it stays).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
from django.db import DataError, IntegrityError, transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.datadrop import reader
from mianshen.datadrop.drop import DropUnusable, SourceFile, ValidatedDrop, part_places
from mianshen.datadrop.schema import TABLE_ORDER, TABLES
from mianshen.datadrop.validate import validate_drop

from . import kept, models
from .bulk import Progress, frame_copy, frame_insert

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
    "dispatch_hosts": models.DispatchHost,
    "risk_areas": models.RiskArea,
    "person_months": models.PersonMonth,
    "hires": models.Hire,
    "graduate_register": models.RegisterEntry,
    "hiring_subsidy_recipients": models.HiringSubsidyRecipient,
}


SYSTEM_ACTOR = "system:import"
SOURCE_LENGTH = models.Snapshot._meta.get_field("source").max_length or 500


@dataclass(frozen=True)
class ImportResult:
    snapshot: models.Snapshot
    created: bool  # False: the same content was imported before; nothing was written


def snapshot_validate(
    *, path: Path, actor: str, encoding: str = "utf-8", progress: bool = False
) -> ValidatedDrop:
    """Validate the drop at ``path`` for an import. A drop that cannot be used at all is refused: the refusal
    is audited (``snapshot.rejected``, with what the drop holds and why) and ``DropUnusable`` raised."""
    try:
        return validate_drop(path, encoding=encoding, progress=progress)
    except DropUnusable as exc:
        _record_refusal(path=Path(path), reason=str(exc), actor=actor, fingerprint=_fingerprint(Path(path)))
        raise


def snapshot_import(
    *,
    drop: ValidatedDrop,
    extracted_on: date,
    imported_by: str = "",
    advance: Progress | None = None,
) -> ImportResult:
    """Load ``drop`` as one snapshot, in one transaction: every accepted row, every rejected row with its
    reasons, every problem, and the ``snapshot.imported`` audit event. Importing content already imported is a
    no-op that returns the earlier snapshot (audited as ``snapshot.import_repeated``). Should the database
    refuse a value all the same, nothing of the drop is kept, the refusal is audited, and ``DropUnusable``
    raised."""
    actor = imported_by or SYSTEM_ACTOR
    existing = models.Snapshot.objects.filter(content_hash=drop.content_hash).first()
    if existing is not None:
        return _repeated(existing, drop, actor)
    try:
        with transaction.atomic():
            snapshot = models.Snapshot.objects.create(
                content_hash=drop.content_hash,
                source=_source_text(drop.path),
                extracted_on=extracted_on,
                imported_by=imported_by,
                files=[_file_entry(f) for f in drop.files.values()],
                rows_accepted={t: df.height for t, df in drop.tables.items()},
                rows_rejected={t: df.height for t, df in drop.rejected.items() if df.height},
                errors=drop.error_count,
                warnings=drop.warning_count,
            )
            constants = {"snapshot_id": snapshot.pk}
            stored = {t: _stored(t, drop.tables[t]) for t in TABLE_ORDER if t in drop.tables}
            for table, frame in stored.items():
                _table_insert(table, frame, snapshot, advance)
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
            # the accepted rows as a round would read them back: kept once the import commits
            transaction.on_commit(partial(kept.keep, snapshot, stored))
            audit_record(
                actor=actor,
                action=Action.SNAPSHOT_IMPORTED,
                obj_type="snapshot",
                obj_id=snapshot.pk,
                after=_import_facts(snapshot),
                reason=_import_summary(snapshot),
            )
    except IntegrityError:
        # Another import of the same content won the race: its snapshot stands, ours was rolled back whole.
        raced = models.Snapshot.objects.filter(content_hash=drop.content_hash).first()
        if raced is None:
            raise
        return _repeated(raced, drop, actor)
    except DataError as exc:
        # The validation lets through only what the database stores (TOO_LONG, CONTROL_CHARACTER); were a value
        # refused anyway, the import is rolled back whole and refused with one line, never a traceback.
        reason = f"the database refused a value of the drop ({_first_line(exc)}); nothing was imported"
        _record_refusal(path=drop.path, reason=reason, actor=actor, fingerprint=_drop_fingerprint(drop))
        raise DropUnusable(reason) from exc
    log.info("imported snapshot %s from %s", snapshot.pk, drop.path)
    return ImportResult(snapshot, created=True)


def _stored(table: str, accepted: pl.DataFrame) -> pl.DataFrame:
    """A table's accepted rows as stored and read back (``frame_select``): its schema's columns and types."""
    return accepted.select(pl.col(c).cast(dtype) for c, dtype in TABLES[table].schema().items())


def _table_insert(
    table: str, frame: pl.DataFrame, snapshot: models.Snapshot, advance: Progress | None
) -> None:
    """Insert ``frame`` as ``snapshot``'s rows of ``table``; rows exactly those of the kept earlier snapshot (a
    drop that changed other tables only) are copied inside the database instead (about half the time on SQLite,
    no rows sent), checked by their count."""
    db_table = TABLE_MODELS[table]._meta.db_table
    earlier = kept.kept_same(table, frame)
    if earlier is None:
        frame_insert(table=db_table, df=frame, constants={"snapshot_id": snapshot.pk}, advance=advance)
        return
    copied = frame_copy(table=db_table, columns=frame.columns, source_snapshot_id=earlier.pk,
                        snapshot_id=snapshot.pk, advance=advance)  # fmt: skip
    if copied != frame.height:  # never: snapshots are not changed after their import
        raise RuntimeError(
            f"{table}: {copied} rows copied from snapshot {earlier.pk}, {frame.height} accepted"
        )


def _repeated(snapshot: models.Snapshot, drop: ValidatedDrop, actor: str) -> ImportResult:
    audit_record(
        actor=actor,
        action=Action.SNAPSHOT_IMPORT_REPEATED,
        obj_type="snapshot",
        obj_id=snapshot.pk,
        after={"content_hash": drop.content_hash, "source": _source_text(drop.path)},
        reason="the same content was imported before; nothing was written",
    )
    return ImportResult(snapshot, created=False)


def _import_facts(snapshot: models.Snapshot) -> dict[str, Any]:
    """What an import event keeps: the content hash, the files and the counts."""
    return {
        "content_hash": snapshot.content_hash,
        "source": snapshot.source,
        "extracted_on": snapshot.extracted_on,
        "files": {f["filename"]: f["sha256"] for f in snapshot.files},
        "rows_accepted": snapshot.rows_accepted,
        "rows_rejected": snapshot.rows_rejected,
        "errors": snapshot.errors,
        "warnings": snapshot.warnings,
    }


def _import_summary(snapshot: models.Snapshot) -> str:
    accepted, rejected = sum(snapshot.rows_accepted.values()), sum(snapshot.rows_rejected.values())
    return f"{accepted} rows accepted, {rejected} rejected and kept aside, {snapshot.warnings} warnings"


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a drop: each file's SHA-256 and the content hash over them."""

    files: Mapping[str, str]
    content_hash: str


def _fingerprint(path: Path) -> Fingerprint:
    """The fingerprint of a drop that could not be read whole: the table files it holds (unreadable ones are
    left out)."""
    files: dict[str, str] = {}
    for file in reader.drop_files(path):
        try:
            files[file.relative_to(path).as_posix()] = reader.file_sha256(file)  # units/part-0.parquet
        except OSError:
            continue
    return Fingerprint(files, reader.content_hash_of(files))


def _file_entry(f: SourceFile) -> dict[str, Any]:
    """A table's file as the snapshot keeps it; a folder of parts lists its parts too."""
    entry: dict[str, Any] = {"table": f.table, "filename": f.filename, "format": f.format, "sha256": f.sha256,
                             "rows": f.rows}  # fmt: skip
    if f.parts:
        entry["parts"] = [{"filename": p.filename, "sha256": p.sha256, "rows": p.rows} for p in f.parts]
    return entry


def _drop_fingerprint(drop: ValidatedDrop) -> Fingerprint:
    return Fingerprint({f.filename: f.sha256 for f in drop.files.values()}, drop.content_hash)


def _record_refusal(*, path: Path, reason: str, actor: str, fingerprint: Fingerprint) -> None:
    """Audit a refused import in a transaction of its own (the refused import's, if any, is rolled back)."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.SNAPSHOT_REJECTED,
            obj_type="data_drop",
            obj_id=fingerprint.content_hash,
            after={
                "content_hash": fingerprint.content_hash,
                "source": _source_text(path),
                "files": dict(fingerprint.files),
            },
            reason=_printable(reason),
        )
    log.info("refused the drop %s: %s", path, reason)


def _source_text(path: Path) -> str:
    """Where a drop was read from, as stored: printable, and its last characters when the path is longer than
    the column."""
    text = _printable(str(path))
    return text if len(text) <= SOURCE_LENGTH else "…" + text[-(SOURCE_LENGTH - 1) :]


def _printable(text: str) -> str:
    """``text`` as any database stores it: undecodable bytes of a file name (surrogates) and NUL escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# PostgreSQL's jsonb cannot hold U+0000 (a row rejected for CONTROL_CHARACTER may have it): the kept copy shows
# it as U+2400 SYMBOL FOR NULL; the drop's file, whose SHA-256 the snapshot keeps, has the bytes as they were.
NUL, NUL_KEPT_AS = "\x00", "\u2400"


def _rejected_rows(drop: ValidatedDrop, table: str, rejected: pl.DataFrame) -> pl.DataFrame:
    source = next(f for f in drop.files.values() if f.table == table)
    file, line = part_places(source, rejected["line"])  # a folder of parts: the part and the line within it
    value_cols = [c for c in TABLES[table].column_names if c in rejected.columns]
    values = [pl.col(c).cast(pl.String).str.replace_all(NUL, NUL_KEPT_AS, literal=True) for c in value_cols]
    return rejected.with_columns(file, line).select(
        pl.col("file"),
        pl.col("line"),
        pl.col("codes"),
        pl.struct(values).struct.json_encode().alias("values"),
    )
