"""Background jobs of screening: run a round, then tell the apps that react to it (``round_completed``: cases
decides its cases)."""

from __future__ import annotations

from typing import Any

from mianshen.core.jobs import handler, job_progress
from mianshen.core.models import Job

from .models import RoundStatus, ScreeningRound
from .services import round_fail, round_run
from .signals import round_completed


@handler("screening.round")
def run_round(job: Job) -> dict[str, Any]:
    round_id = int(job.params["round_id"])

    def progress(phase: str, done: int, total: int) -> None:
        job_progress(job, done=done, total=total, phase=phase)

    try:
        rnd = round_run(round_id=round_id, progress=progress)
    except Exception as exc:
        round_fail(round_id=round_id, error=f"{type(exc).__name__}: {exc}")
        raise
    if rnd.status != RoundStatus.COMPLETED:
        return {"round": rnd.pk, "status": rnd.status}
    result: dict[str, Any] = {"round": rnd.pk, "status": rnd.status}
    for _receiver, counts in round_completed.send(sender=ScreeningRound, round=rnd):
        if isinstance(counts, dict):  # a receiver's counts (None: nothing to add)
            result.update(counts)
    return result
