"""`mianshen notice-letter`: the letter to a unit (告知书) as PDF — on the list, paid, or payment failed — the
kept one if it was made before (docs/documents.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from mianshen.cases.models import Case
from mianshen.core.command import MianshenCommand, UserError
from mianshen.core.db import require_migrated_database
from mianshen.reports.fonts import FontMissing
from mianshen.staff.actors import system_actor

from .report import _writable


class Command(MianshenCommand):
    help = "The letter to a unit (告知书) as PDF: listed, paid or failed, with its amount and explanation."

    user_errors = (FontMissing,)
    lang_option_is_messages = False  # --lang is the letter's language

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--unit", required=True, help="the unit's credit code (or its unit id)")
        parser.add_argument("--kind", required=True, choices=["listed", "paid", "failed"])
        parser.add_argument("--out", required=True, type=Path, metavar="FILE")
        parser.add_argument("--policy", help="policy id (default: the unit's latest case)")
        parser.add_argument("--lang", choices=["zh", "en"], default="zh", help="the letter's language")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["out"]
        _writable(path)
        require_migrated_database()
        from mianshen.reports.documents import document_download
        from mianshen.reports.letters import letter_document

        unit = "".join(str(options["unit"]).split()).upper()
        cases = Case.objects.filter(credit_code=unit) | Case.objects.filter(unit_id=options["unit"].strip())
        if options["policy"]:
            cases = cases.filter(policy_id=options["policy"])
        found = list(cases.order_by("-pk")[:20])
        if not found:
            raise UserError(f"--unit {options['unit']}: no case for that credit code or unit id")
        units = sorted({c.unit_id for c in found})
        if len(units) > 1:
            raise UserError(f"--unit {options['unit']} names {len(units)} units ({', '.join(units[:5])}): "
                            "pass one of their unit ids")  # fmt: skip
        case = found[0]
        actor = system_actor()
        doc = letter_document(case=case, kind=options["kind"], lang=options["lang"], actor=actor)
        data = document_download(doc=doc, actor=actor, reason=f"notice-letter --out {path}")
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise UserError(f"--out {path}: {exc.strerror or exc}") from exc
        self.stderr.write(f"wrote {path} (case {case.number}, {options['kind']}, sha256 {doc.sha256[:16]}…)")
