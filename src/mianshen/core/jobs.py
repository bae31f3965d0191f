"""A small, durable job queue on the project's own database (PostgreSQL or SQLite).

- ``job_enqueue`` in the caller's transaction (the job exists iff the change that asked for it committed);
- ``job_run_next`` claims one queued job (``SKIP LOCKED`` on PostgreSQL; SQLite's IMMEDIATE transactions
  serialise the claim), runs its handler, and records the result; a handler must be idempotent, because a job
  whose worker died (no heartbeat for ``STALE_AFTER``) is queued again;
- handlers are registered by kind with ``@handler("kind")`` and receive the job (to report progress); they
  live in each app's ``tasks`` module, which ``load_handlers`` finds by autodiscovery (core names no app).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .models import Job, JobStatus

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 3
Handler = Callable[[Job], dict[str, Any]]
_HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return register


# Each installed app's module of job handlers (imported when jobs run: handlers import their apps' models).
TASKS_MODULE = "tasks"


def load_handlers() -> None:
    """Import every installed app's ``tasks`` module, so its ``@handler``s are registered (once; cheap after)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules(TASKS_MODULE)


def job_enqueue(*, kind: str, key: str, params: dict[str, Any], actor: str) -> Job:
    """Queue a job once per business ``key`` (a second call returns the first job)."""
    job, _ = Job.objects.get_or_create(
        key=key, defaults={"kind": kind, "params": params, "created_by": actor}
    )
    return job


def job_progress(job: Job, *, done: int, total: int | None = None, phase: str = "") -> None:
    """Record progress and a heartbeat. Call it outside the job's own write transactions (it commits at
    once, so the back office sees it)."""
    fields: dict[str, Any] = {"progress_done": done, "heartbeat_at": timezone.now()}
    if phase:
        fields["result"] = {"phase": phase}
    if total is not None:
        fields["progress_total"] = total
    Job.objects.filter(pk=job.pk).update(**fields)


def _claim(kinds: Collection[str] | None = None) -> Job | None:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    now = timezone.now()
    with transaction.atomic():
        # Requeue jobs whose worker died.
        Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER).update(
            status=JobStatus.QUEUED, worker=""
        )
        queued = Job.objects.filter(status=JobStatus.QUEUED).order_by("id")
        if kinds is not None:
            queued = queued.filter(kind__in=sorted(kinds))
        if connection.vendor == "postgresql":
            queued = queued.select_for_update(skip_locked=True)
        job = queued.first()
        if job is None:
            return None
        job.status = JobStatus.RUNNING
        job.worker = worker
        job.started_at = job.heartbeat_at = now
        job.attempts += 1
        job.save(update_fields=["status", "worker", "started_at", "heartbeat_at", "attempts"])
    return job


def job_run_next(*, kinds: Collection[str] | None = None) -> Job | None:
    """Run one queued job (of one of ``kinds``, if given); returns it (done or failed), or None when there is
    none."""
    load_handlers()
    job = _claim(kinds)
    if job is None:
        return None
    fn = _HANDLERS.get(job.kind)
    try:
        if fn is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        result = fn(job)
    except Exception as exc:
        log.exception("job %s (%s) failed", job.pk, job.kind)
        final = job.attempts >= MAX_ATTEMPTS or fn is None
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED if final else JobStatus.QUEUED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now() if final else None,
        )
        job.refresh_from_db()
        return job
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE, result=result, finished_at=timezone.now(), error=""
    )
    job.refresh_from_db()
    return job


class JobFailed(Exception):
    """A job run by ``job_drain(stop_on_failure=True)`` failed (it stays queued for its next attempt, or failed
    for good after ``MAX_ATTEMPTS``); the message is one line, the traceback is in the log."""

    def __init__(self, job: Job) -> None:
        self.job = job
        error = (job.error.strip().splitlines() or ["(no message)"])[0]
        then = "failed for good" if job.status == JobStatus.FAILED else "queued again for `mianshen worker`"
        super().__init__(
            f"job {job.pk} ({job.kind}) failed on attempt {job.attempts} of {MAX_ATTEMPTS} ({then}): {error}"
        )


def job_drain(
    limit: int | None = None, *, stop_on_failure: bool = False, kinds: Collection[str] | None = None
) -> int:
    """Run queued jobs until none is left (or ``limit``); returns how many ran. ``stop_on_failure``: raise
    ``JobFailed`` at the first failed attempt instead of going on (and retrying it at once). ``kinds``: only jobs
    of these kinds (the others stay queued for the worker)."""
    ran = 0
    while limit is None or ran < limit:
        job = job_run_next(kinds=kinds)
        if job is None:
            break
        ran += 1
        if stop_on_failure and job.status != JobStatus.DONE:
            raise JobFailed(job)
    return ran
