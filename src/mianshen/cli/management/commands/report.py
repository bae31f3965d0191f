"""`mianshen report outcomes`: the outcome statistics of contracts §5 as a table, CSV, JSON or XLSX."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from rich.console import Console

from mianshen.core.command import MianshenCommand, UserError
from mianshen.core.db import require_migrated_database
from mianshen.reports.pdf import FontMissing
from mianshen.reports.selectors import ReportRefused

FORMATS = ("table", "csv", "json", "xlsx", "pdf")


def _writable(path: Path) -> None:
    """Refuse an --out that cannot be written before any work is done (one line)."""
    if path.is_dir():
        raise UserError(f"--out {path} is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"--out {path}: no such directory {parent}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"--out {path}: not writable")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {path}: cannot create a file in {parent}")


class Command(MianshenCommand):
    help = "Reports: `outcomes`, what the refund achieved (contracts §5)."

    user_errors = (ReportRefused, FontMissing)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="report", required=True)
        out = sub.add_parser(
            "outcomes",
            help="units, money, SME coverage, days to money, payment success, objections, applications, "
            "untouched and self-service shares: total, by size class and by district",
        )
        out.add_argument("--policy", help="policy id (default: the latest policy with cases)")
        out.add_argument("--format", choices=FORMATS, default="table")
        out.add_argument("--out", type=Path, metavar="FILE", help="write here (default: standard output; "
                         "required for xlsx and pdf)")  # fmt: skip
        out.add_argument(
            "--public",
            action="store_true",
            help="empty every cell counting fewer than 5 units (small-cell rule)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fmt, path, public = options["format"], options["out"], options["public"]
        if fmt in ("xlsx", "pdf") and path is None:
            raise UserError(f"--format {fmt} needs --out FILE")
        if path is not None:
            _writable(path)
        require_migrated_database()
        from mianshen.reports import exports
        from mianshen.reports.selectors import outcomes

        result = outcomes(options["policy"])
        try:
            if fmt == "xlsx":
                exports.write_xlsx(result, path, public=public)
            elif fmt == "pdf":
                from mianshen.reports.pdf import write_pdf

                write_pdf(result, path, public=public)
            elif fmt == "table":
                console = Console(file=io.StringIO() if path else None, width=160 if path else None)
                for table in exports.tables(result, public=public):
                    console.print(table)
                if path:
                    path.write_text(console.file.getvalue(), encoding="utf-8")  # type: ignore[attr-defined]
            else:
                if fmt == "csv":
                    buf = io.StringIO()
                    exports.write_csv(result, buf, public=public)
                    text = buf.getvalue()
                else:
                    text = exports.json_text(result, public=public)
                if path:
                    path.write_text(text, encoding="utf-8")
                else:
                    self.stdout.write(text, ending="")
        except OSError as exc:
            raise UserError(f"--out {path}: {exc.strerror or exc}") from exc
        if path:
            self.stderr.write(f"wrote {path} ({fmt})")
