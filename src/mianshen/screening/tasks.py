"""Background jobs of screening: run a round, then let it decide the cases."""

from __future__ import annotations

from typing import Any

from mianshen.cases.services import case_apply_round
from mianshen.core.jobs import handler, job_progress
from mianshen.core.models import Job

from .models import RoundStatus
from .services import round_fail, round_run


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
    applied = case_apply_round(round=rnd, actor=f"round {rnd.number}")
    return {
        "round": rnd.pk,
        "status": rnd.status,
        "cases_opened": applied.opened,
        "cases_moved": applied.moved,
        "cases_unchanged": applied.unchanged,
        "cases_frozen": applied.frozen,
        "cases_amended": applied.amended,
    }
