"""Job handlers for the payment side (run by ``mianshen worker``; each is idempotent, keyed by business id).

Registered when the worker imports this module: ``core.jobs.load_handlers`` finds every app's ``tasks``
module by autodiscovery.
"""

from __future__ import annotations

from typing import Any

from mianshen.core.jobs import handler
from mianshen.core.models import Job

from .services.bankfiles import bank_file_upload
from .services.channel import FolderChannel
from .services.cycle import disbursement_cycle
from .services.reconcile import reconcile_record

ACTOR = "system:payments"


@handler("payments.upload")
def upload(job: Job) -> dict[str, Any]:
    """Hand a frozen file to its bank (queued by ``bank_files_build`` in the freezing transaction)."""
    handover = bank_file_upload(msg_id=job.params["msg_id"], actor=ACTOR, channel=FolderChannel())
    bf = handover.bank_file
    return {
        "msg_id": bf.msg_id,
        "status": bf.status,
        "attempts": bf.upload_attempts,
        "skipped": handover.skipped,
    }


@handler("payments.cycle")
def cycle(job: Job) -> dict[str, Any]:
    """One pass of the disbursement worker (release, build, upload, ingest, silence)."""
    result = disbursement_cycle(actor=ACTOR, channel=FolderChannel(), policy_id=job.params.get("policy_id"))
    return dict(result.__dict__)


@handler("payments.reconcile")
def reconcile(job: Job) -> dict[str, Any]:
    """Check the money identity and record the result (queued from the reconciliation page's "recompute"; the
    record is kept under the name of the staff member who asked)."""
    report, run = reconcile_record(actor=job.created_by or ACTOR)
    return {
        "run": run.pk,
        "ok": report.ok,
        "difference_fen": report.difference_fen,
        "money_mark": run.money_mark,
    }
