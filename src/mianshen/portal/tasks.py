"""Job handlers of the portal (run by ``mianshen worker``): the one-time codes a request asked for, made and
queued in the notify outbox after the request's commit, so that the request itself writes the same rows whether
or not the reference or credit code exists (contracts §4)."""

from __future__ import annotations

from typing import Any

from mianshen.core.jobs import handler
from mianshen.core.models import Job

from .lookup import lookup_codes_send
from .services import status_code_send


@handler("portal.codes")
def codes(job: Job) -> dict[str, Any]:
    params = job.params or {}
    if "status" in params:
        return {"sent": int(status_code_send(int(params["status"])))}
    return {"sent": lookup_codes_send(int(params["lookup"]))}
