"""`mianshen worker`: run background jobs (screening rounds, bank files, notifications) until stopped; when idle,
the call-back sweep, notification retries and the dashboard's stale figures."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser

from mianshen.core.command import MianshenCommand
from mianshen.core.db import require_migrated_database
from mianshen.core.jobs import job_run_next
from mianshen.notify.callbacks import callbacks_sweep
from mianshen.notify.services import deliver_due
from mianshen.reports.dashboard import dashboard_refresh


class Command(MianshenCommand):
    help = "Run queued background jobs. --burst: stop when the queue is empty."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--burst", action="store_true", help="exit when no job is queued")
        parser.add_argument("--poll", type=float, default=2.0, help="seconds between polls when idle")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        while True:
            job = job_run_next()
            if job is not None:
                self.stderr.write(
                    f"job {job.pk} {job.kind}: {job.status}" + (f" — {job.error}" if job.error else "")
                )
                continue
            swept = callbacks_sweep()  # 呼我必回: reminders and escalations that are due (notify.callbacks)
            if swept.reminded + swept.escalated:
                self.stderr.write(f"callbacks: {swept.reminded} reminded, {swept.escalated} escalated")
            done = deliver_due()  # retries, receipts, the 72-hour close (notify)
            if done.sent + done.delivered + done.failed + done.retried + done.receipts:
                self.stderr.write(f"notify: {done.sent + done.delivered} sent, {done.failed} failed, "
                                  f"{done.retried} to retry, {done.receipts} receipts")  # fmt: skip
                continue
            refreshed = (
                dashboard_refresh()
            )  # the dashboard's kept figures a business event made stale (reports)
            if refreshed:
                self.stderr.write(f"dashboard: figures of {refreshed[0][1] or 'the city'} computed again")
                continue
            if options["burst"]:
                return
            time.sleep(options["poll"])
