"""`mianshen callback list [--overdue]`: call-back requests (呼我必回) with their deadlines (contracts §3, §4)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from mianshen.core.command import MianshenCommand
from mianshen.core.db import require_migrated_database


class Command(MianshenCommand):
    help = "Call-back requests (呼我必回): list them with their deadlines; --overdue: open ones past it."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="list")
        listing = sub.add_parser("list", help="call-back requests with their deadlines, open ones first")
        listing.add_argument("--overdue", action="store_true", help="only open requests past their deadline")
        listing.add_argument("--json", action="store_true", help="one JSON array of objects")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        from mianshen.notify.callbacks import callbacks_all, countdown, due_text, working_calendar
        from mianshen.notify.services import mask

        now = timezone.now()
        calendar = working_calendar()
        pairs = [
            (cb, countdown(cb, now=now, calendar=calendar))
            for cb in callbacks_all(overdue=options["overdue"], now=now)
        ]
        if options["json"]:
            rows = [
                {
                    "reference": cb.reference, "state": cb.state, "district": cb.district or None,
                    "topic": cb.topic, "phone": mask(cb.phone, "sms"), "created_at": cb.created_at.isoformat(),
                    "due_at": cb.due_at.isoformat(),
                    "working_minutes_left": None if left is None else int(left.total_seconds() // 60),
                    "overdue": left is not None and left.total_seconds() < 0,
                    "escalated": cb.escalated_at is not None, "outcome": cb.outcome or None, "rating": cb.rating,
                }
                for cb, left in pairs
            ]  # fmt: skip
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1))
            return
        if not pairs:
            self.stdout.write(
                "no call-back requests" + (" past their deadline" if options["overdue"] else "")
            )
            return
        self.stdout.write(
            f"{'reference':<13}{'state':<12}{'district':<9}{'due (Beijing)':<18}{'left':>8}  topic"
        )
        for cb, left in pairs:
            minutes = None if left is None else int(left.total_seconds() // 60)
            shown = (
                ""
                if minutes is None
                else (f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 0 else "OVERDUE")
            )
            self.stdout.write(f"{cb.reference:<13}{cb.state:<12}{cb.district or 'city':<9}"
                              f"{due_text(cb.due_at):<18}{shown:>8}  {cb.topic[:40]}")  # fmt: skip
