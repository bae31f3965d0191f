"""A round through the worker path (job queue → handler → round → cases), progress reported on the way.

Regression: progress used to be written on the connection in the middle of the decisions' COPY, which hung
the worker on PostgreSQL for ever.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mianshen.cases.models import Case
from mianshen.core.jobs import job_drain
from mianshen.core.models import Job, JobStatus
from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.registry.services import snapshot_import
from mianshen.screening.models import RoundStatus
from mianshen.screening.services import round_start

pytestmark = pytest.mark.django_db


def test_round_job_runs_reports_progress_and_opens_cases(tmp_path: Path) -> None:
    drop = tmp_path / "d"
    generate(units=80, seed=9, out=drop, fmt="csv")
    snap = snapshot_import(drop=validate_drop(drop), extracted_on=date(2021, 7, 1)).snapshot
    rnd = round_start(policy_id="beijing-2021", snapshot=snap, actor="officer")
    assert job_drain() == 1
    job = Job.objects.get(key=f"round:{rnd.pk}")
    assert job.status == JobStatus.DONE, job.error
    assert job.progress_total == 80 and job.progress_done == 80
    assert job.result["cases_opened"] == 80
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.COMPLETED
    assert Case.objects.filter(last_round=rnd).count() == 80
    # the job is queued once per round: draining again runs nothing
    assert job_drain() == 0


def test_a_crash_mid_round_leaves_no_half_written_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mianshen.screening import services
    from mianshen.screening.models import RoundDecision, ScreeningRound

    drop = tmp_path / "d"
    generate(units=40, seed=3, out=drop, fmt="csv")
    snap = snapshot_import(drop=validate_drop(drop), extracted_on=date(2021, 7, 1)).snapshot
    rnd = round_start(policy_id="beijing-2021", snapshot=snap, actor="officer")
    real = services.frame_insert

    def dies_midway(**kwargs: object) -> int:
        real(**kwargs)  # type: ignore[arg-type]  # the decisions are written ...
        raise MemoryError("worker killed")  # ... and the worker dies before the round completes

    monkeypatch.setattr(services, "frame_insert", dies_midway)
    job_drain()
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.FAILED and "worker killed" in rnd.error
    assert not RoundDecision.objects.filter(round=rnd).exists()
    assert not Case.objects.exists()
    # the policy is free again: a new round starts and completes
    monkeypatch.setattr(services, "frame_insert", real)
    again = round_start(policy_id="beijing-2021", snapshot=snap, actor="officer")
    job_drain()
    again.refresh_from_db()
    assert again.status == RoundStatus.COMPLETED
    assert ScreeningRound.objects.filter(status=RoundStatus.COMPLETED).count() == 1
    assert RoundDecision.objects.filter(round=again).count() == 40


def test_the_round_hand_over_belongs_to_cases(tmp_path: Path) -> None:
    """Screening only announces a completed round (``round_completed``); cases connects the reaction. Without
    the receiver the round still completes and opens no case."""
    from mianshen.cases.receivers import apply_completed_round
    from mianshen.screening.signals import round_completed

    drop = tmp_path / "d"
    generate(units=20, seed=5, out=drop, fmt="csv")
    snap = snapshot_import(drop=validate_drop(drop), extracted_on=date(2021, 7, 1)).snapshot
    rnd = round_start(policy_id="beijing-2021", snapshot=snap, actor="officer")
    assert round_completed.disconnect(dispatch_uid="cases.apply_completed_round")
    try:
        assert job_drain() == 1
    finally:
        round_completed.connect(apply_completed_round, dispatch_uid="cases.apply_completed_round")
    job = Job.objects.get(key=f"round:{rnd.pk}")
    assert job.result == {"round": rnd.pk, "status": RoundStatus.COMPLETED}
    assert not Case.objects.exists()
