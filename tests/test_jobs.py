"""Job handlers are found in every installed app's ``tasks`` module: core's job queue names no app."""

from __future__ import annotations

import pytest
from django.test import modify_settings

from mianshen.core import jobs
from mianshen.core.jobs import job_enqueue, job_run_next
from mianshen.core.models import JobStatus


def test_the_product_apps_handlers_are_found() -> None:
    jobs.load_handlers()
    assert {"screening.round"} <= set(jobs._HANDLERS)
    assert any(kind.startswith("payments.") for kind in jobs._HANDLERS)


@pytest.mark.django_db(transaction=True)
def test_a_new_apps_handler_is_found_and_run_without_touching_core() -> None:
    with modify_settings(INSTALLED_APPS={"append": "tests.jobsapp"}):
        job_enqueue(kind="tests.echo", key="echo:1", params={"say": "你好"}, actor="test")
        job = job_run_next()
    assert job is not None
    assert job.status == JobStatus.DONE, job.error
    assert job.result == {"echo": "你好"}


@pytest.mark.django_db(transaction=True)
def test_a_drain_of_some_kinds_leaves_the_others_queued() -> None:
    """The demo drains its own jobs (rounds, bank-file uploads) and leaves the units' messages to the worker."""
    from mianshen.core.jobs import job_drain
    from mianshen.core.models import Job

    with modify_settings(INSTALLED_APPS={"append": "tests.jobsapp"}):
        job_enqueue(kind="tests.echo", key="echo:1", params={"say": "一"}, actor="test")
        job_enqueue(kind="tests.other", key="other:1", params={}, actor="test")
        job_enqueue(kind="tests.echo", key="echo:2", params={"say": "二"}, actor="test")
        assert job_drain(kinds={"tests.echo"}, stop_on_failure=True) == 2
    states = dict(Job.objects.values_list("key", "status"))
    assert states == {"echo:1": JobStatus.DONE, "other:1": JobStatus.QUEUED, "echo:2": JobStatus.DONE}
