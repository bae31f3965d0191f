"""`mianshen import DROP`: validate a data drop and load it into the database as a snapshot."""

from __future__ import annotations

import getpass
import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from mianshen.core.command import MianshenCommand, UserError, iso_date
from mianshen.core.db import require_migrated_database
from mianshen.core.progress import progress_bar, stderr_console
from mianshen.datadrop.drop import DropUnusable
from mianshen.datadrop.schema import EXIT_OK, EXIT_REJECTED


class Command(MianshenCommand):
    help = (
        "Validate a data drop and load it as an immutable, content-hashed snapshot. Rejected rows are kept "
        "with their reasons. Exit 0 (all rows accepted), 3 (rows rejected and kept aside), 2 (unusable)."
    )

    user_errors = (DropUnusable,)  # a data drop that cannot be used: one line, exit 2

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("drop", type=Path, help="the data-drop directory")
        parser.add_argument("--encoding", choices=["utf-8", "gb18030"], default="utf-8")
        parser.add_argument(
            "--extracted-on",
            type=iso_date,
            default=None,
            help="the drop's extraction date (YYYY-MM-DD); default today; rounds use it as their as-of date",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bars")
        parser.add_argument(
            "--actor", default=f"cli:{getpass.getuser()}", help="who imports it (audit trail)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from mianshen.registry.services import snapshot_import, snapshot_validate

        require_migrated_database()
        drop_dir: Path = options["drop"]
        if not drop_dir.is_dir():
            raise UserError(
                f"{drop_dir}: not a directory (a data drop is a directory of CSV or Parquet files)"
            )
        show = not options["quiet"]
        actor = options["actor"]
        drop = snapshot_validate(path=drop_dir, actor=actor, encoding=options["encoding"], progress=show)
        total = sum(df.height for df in drop.tables.values()) + drop.rejected_rows
        with progress_bar("importing rows", total, enabled=show) as bar:
            result = snapshot_import(
                drop=drop,
                extracted_on=options["extracted_on"] or date.today(),
                imported_by=actor,
                advance=bar.advance if bar else None,
            )
        snap = result.snapshot
        if result.created:
            stderr_console.print(
                f"snapshot {snap.pk} ({snap.content_hash[:12]}): "
                f"{sum(snap.rows_accepted.values()):,} rows accepted, "
                f"{sum(snap.rows_rejected.values()):,} rejected and kept aside, {snap.warnings:,} warnings"
            )
        else:
            stderr_console.print(
                f"already imported as snapshot {snap.pk} ({snap.content_hash[:12]}); nothing written"
            )
        self.stdout.write(str(snap.pk))
        sys.exit(EXIT_REJECTED if sum(snap.rows_rejected.values()) else EXIT_OK)
