"""Job handlers of notify (run by ``mianshen worker``): deliver what is due. Queued in the transaction that queued
messages (so delivery starts right after that commit); the worker also runs ``deliver_due`` when idle, for
retries, receipts and the 72-hour close."""

from __future__ import annotations

from typing import Any

from mianshen.core.jobs import handler, job_progress
from mianshen.core.models import Job

from .services import deliver_due


@handler("notify.deliver")
def deliver(job: Job) -> dict[str, Any]:
    total: dict[str, Any] = {}
    while True:  # drain the backlog that is due now, showing progress
        done = deliver_due(
            progress=lambda i, n: (
                job_progress(job, done=i, total=n, phase="deliver") if i % 100 == 0 else None
            )
        )
        for name, value in done.__dict__.items():
            if isinstance(value, int):
                total[name] = total.get(name, 0) + value
        if done.sent + done.delivered + done.retried + done.failed + done.found == 0:
            return total
