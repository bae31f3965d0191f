"""One pass of the disbursement worker: hand over approved cases, freeze files, hand them to the banks, read
the answers, notice silence. Every step is idempotent and resumes where a crashed pass stopped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .bankfiles import bank_files_build, bank_files_check_silence, bank_files_upload_pending
from .channel import Channel
from .common import today_local
from .ingest import inbound_files_collect
from .instructions import payments_release
from .reconcile import reconcile_record


@dataclass(frozen=True)
class CycleResult:
    released: int
    files_built: int
    files_uploaded: int
    answers_ingested: int
    answers_quarantined: int
    files_retried: int


def disbursement_cycle(
    *,
    actor: str,
    channel: Channel,
    today: date | None = None,
    policy_id: str | None = None,
    later_batch: bool = False,
    release: bool = True,
    reconcile: bool = True,
) -> CycleResult:
    """One pass; ``reconcile``: end it with the money check (kept for the overview). A caller running many passes
    in a row (the demo) may check once after the last: at 450,000 payments a check reads them all."""
    day = today or today_local()
    released = payments_release(actor=actor, policy_id=policy_id).released if release else 0
    built = bank_files_build(actor=actor, today=day, later_batch=later_batch)
    uploaded = bank_files_upload_pending(actor=actor, channel=channel, today=day)
    fresh = [r for r in inbound_files_collect(channel=channel, actor=actor).results if not r.duplicate]
    retried = bank_files_check_silence(actor=actor, channel=channel, today=day)
    if reconcile:
        reconcile_record(actor=actor)  # every pass ends with the money check, kept for the overview
    return CycleResult(
        released=released,
        files_built=len(built),
        files_uploaded=sum(1 for h in uploaded if h.sent),
        answers_ingested=sum(1 for r in fresh if not r.quarantined),
        answers_quarantined=sum(1 for r in fresh if r.quarantined),
        files_retried=len(retried),
    )
