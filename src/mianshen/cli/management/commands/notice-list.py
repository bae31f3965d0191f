"""`mianshen notice-list`: a notice's publicity list of one district, for posting, as PDF (docs/documents.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from mianshen.cases.models import Notice
from mianshen.core.command import MianshenCommand, UserError
from mianshen.core.db import require_migrated_database
from mianshen.reports.fonts import FontMissing
from mianshen.staff.actors import system_actor

from .report import _writable


class Command(MianshenCommand):
    help = "A notice's publicity list of one district as PDF (name, masked credit code, amount; for posting)."

    user_errors = (FontMissing,)
    lang_option_is_messages = False  # --lang is the list's language

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--notice", type=int, help="notice id (default: the latest notice)")
        parser.add_argument("--district", required=True, help="district code, e.g. 110108")
        parser.add_argument("--out", required=True, type=Path, metavar="FILE")
        parser.add_argument("--lang", choices=["zh", "en"], default="zh", help="the list's language")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["out"]
        _writable(path)
        require_migrated_database()
        from mianshen.reports.documents import document_download
        from mianshen.reports.publicity_list import publicity_list_document

        notices = Notice.objects.order_by("-pk")
        notice = notices.filter(pk=options["notice"]).first() if options["notice"] else notices.first()
        if notice is None:
            raise UserError(
                f"--notice {options['notice']}: no such notice" if options["notice"] else "no notice yet"
            )
        district = str(options["district"]).strip()
        if not notice.entries.filter(district=district).exists():
            raise UserError(f"--district {district}: no listed unit of that district in notice {notice.pk}")
        actor = system_actor()
        doc = publicity_list_document(notice=notice, district=district, lang=options["lang"], actor=actor)
        data = document_download(doc=doc, actor=actor, reason=f"notice-list --out {path}")
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise UserError(f"--out {path}: {exc.strerror or exc}") from exc
        self.stderr.write(
            f"wrote {path} (notice {notice.pk}, district {district}, sha256 {doc.sha256[:16]}…)"
        )
