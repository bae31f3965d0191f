"""`mianshen reconcile`: the money identity of payments.md, to the fen. Exit 0 when it holds, 1 with the
difference when it does not (2: the database is not set up)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandParser

from mianshen.core.command import MianshenCommand
from mianshen.core.db import require_migrated_database
from mianshen.core.money import format_yuan
from mianshen.staff.actors import actor_option


class Command(MianshenCommand):
    help = "Check approved = settled + in flight + awaiting correction + cancelled, and per bank and day."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=20, help="problems shown per kind")
        parser.add_argument(
            "--actor", help="the staff member who ran it (kept with the result; default cli:<OS user>)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        from mianshen.payments.services.reconcile import reconcile_record

        r, _run = reconcile_record(actor=actor_option(options["actor"]))
        limit = options["limit"]
        parts = " + ".join(
            f"{name} {format_yuan(r.buckets_fen[name], unit='symbol')} ({r.buckets_count[name]})"
            for name in r.buckets_fen
        )
        self.stdout.write(
            f"approved {format_yuan(r.approved_fen, unit='symbol')} ({r.cases} cases) = {parts}"
        )
        self.stdout.write(f"difference {format_yuan(r.difference_fen, unit='symbol')}")
        for d in r.day_differences[:limit]:
            settled, debits, returns, difference = (
                format_yuan(fen, unit="symbol")
                for fen in (d.settled_fen, d.debit_fen, d.returned_fen, d.difference_fen)
            )
            self.stdout.write(
                f"bank {d.bank} {d.day or 'no date'}: settled {settled} != debits {debits} - returns {returns} "
                f"(difference {difference})"
            )
        for problem in (r.case_problems + r.ledger_problems)[:limit]:
            self.stdout.write(problem)
        if r.approved_waiting:
            self.stderr.write(f"{r.approved_waiting} approved case(s) not yet handed over (not counted)")
        if not r.ok:
            self.stdout.write("reconciliation FAILED")
            sys.exit(1)
        self.stdout.write(f"reconciliation holds to the fen ({len(r.days)} bank-days checked)")
