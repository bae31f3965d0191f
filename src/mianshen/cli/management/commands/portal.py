"""`mianshen portal sweep`: delete what the public portal keeps past its retention period (/privacy/)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from mianshen.core.command import MianshenCommand
from mianshen.core.db import require_migrated_database


class Command(MianshenCommand):
    help = (
        "The public portal's housekeeping. 'sweep': delete one-time code rows older than 30 days and ended "
        "per-address counters, blank objectors' phones a year after their objection was decided and call-back "
        "requesters' names and phones a year after the call-back was closed, and delete uploaded files a day old "
        "that no application names."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["sweep"])

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        from mianshen.portal.services import portal_sweep

        swept = portal_sweep()
        self.stdout.write(
            f"deleted {swept.codes} code row(s) and {swept.counters} address counter(s); "
            f"blanked {swept.phones} objector phone(s) and {swept.callbacks} call-back requester(s); "
            f"deleted {swept.documents} uploaded file(s) no application names"
        )
