"""A job handler of an app core does not know: found by autodiscovery of each app's ``tasks`` module."""

from __future__ import annotations

from typing import Any

from mianshen.core.jobs import handler
from mianshen.core.models import Job


@handler("tests.echo")
def echo(job: Job) -> dict[str, Any]:
    return {"echo": job.params["say"]}
