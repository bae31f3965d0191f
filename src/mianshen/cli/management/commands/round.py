"""`mianshen round start|list|diff`: screening rounds over imported snapshots."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from rich.console import Console
from rich.table import Table

from mianshen.core.command import MianshenCommand, UserError, iso_date
from mianshen.core.db import require_migrated_database
from mianshen.core.jobs import JobFailed, job_drain
from mianshen.datadrop.drop import DropUnusable
from mianshen.staff.actors import actor_option


class Command(MianshenCommand):
    help = "Screening rounds: start one (run by the worker, or at once with --wait), list them, compare two."

    user_errors = (DropUnusable,)  # a data drop that cannot be used: one line, exit 2

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        start = sub.add_parser("start", help="start a round over a snapshot")
        start.add_argument("--policy", required=True)
        start.add_argument("--snapshot", type=int, help="snapshot id (default: the latest import)")
        start.add_argument("--as-of", type=iso_date, help="default: the snapshot's extraction date")
        start.add_argument(
            "--checkpoint",
            default="ad_hoc",
            choices=["initial", "before_publicity", "before_payment", "ad_hoc"],
        )
        start.add_argument("--actor", help="the staff member who starts it (default: cli:<OS user>)")
        start.add_argument(
            "--wait", action="store_true", help="run the queued jobs now instead of by the worker"
        )
        sub.add_parser("list", help="the rounds with their counts")
        diff = sub.add_parser("diff", help="units whose decision changed between two rounds")
        diff.add_argument("before", type=int, help="round id")
        diff.add_argument("after", type=int, help="round id")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        getattr(self, f"_{options['action']}")(options)

    def _start(self, options: dict[str, Any]) -> None:
        from mianshen.registry.models import Snapshot
        from mianshen.screening.services import RoundRefused, round_start

        actor = actor_option(options["actor"], perm="start_round")
        snap = (
            Snapshot.objects.filter(pk=options["snapshot"]).first()
            if options["snapshot"]
            else Snapshot.objects.order_by("-id").first()
        )
        if snap is None:
            raise UserError("no such snapshot: import a drop first (`mianshen import DROP`)")
        try:
            rnd = round_start(
                policy_id=options["policy"],
                snapshot=snap,
                actor=actor,
                as_of=options["as_of"],
                checkpoint=options["checkpoint"],
            )
        except RoundRefused as exc:
            raise UserError(exc.text()) from exc
        self.stdout.write(
            f"round {rnd.number} (id {rnd.pk}) of {rnd.policy_id} queued over snapshot {snap.pk}"
        )
        if options["wait"]:
            try:
                job_drain(stop_on_failure=True)
            except JobFailed as exc:  # the round may have completed while deciding its cases failed
                raise UserError(f"round {rnd.number}: {exc}", returncode=1) from exc
            rnd.refresh_from_db()
            self.stdout.write(f"round {rnd.number}: {rnd.status} {rnd.counts.get('decision', {})}")
            if rnd.status != "completed":
                raise UserError(f"round {rnd.number} did not complete: {rnd.error}", returncode=1)

    def _list(self, options: dict[str, Any]) -> None:
        from mianshen.screening.models import ScreeningRound

        table = Table("id", "policy", "no.", "checkpoint", "as-of", "status", "decisions", "snapshot")
        for r in ScreeningRound.objects.order_by("id"):
            table.add_row(
                str(r.pk),
                r.policy_id,
                str(r.number),
                r.checkpoint,
                r.as_of.isoformat(),
                r.status,
                " ".join(f"{k}={v}" for k, v in r.counts.get("decision", {}).items()),
                r.snapshot_hash[:12],
            )
        Console().print(table)

    def _diff(self, options: dict[str, Any]) -> None:
        from mianshen.screening.models import ScreeningRound
        from mianshen.screening.services import round_diff

        rounds = {
            r.pk: r for r in ScreeningRound.objects.filter(pk__in=[options["before"], options["after"]])
        }
        for key in ("before", "after"):
            if options[key] not in rounds:
                raise UserError(f"no round with id {options[key]}")
        diff = round_diff(before=rounds[options["before"]], after=rounds[options["after"]])
        for transition, n in diff.counts.items():
            self.stdout.write(f"{transition}: {n}")
        self.stdout.write(f"{diff.changed.height} units changed")
