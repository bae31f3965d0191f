"""The dashboard: cases per state (and per district for city-level staff), latest rounds, running jobs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mianshen.cases.states import State
from mianshen.core.models import Job, JobStatus

from .. import selectors
from ._base import staff, staff_view


@staff_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = selectors.state_counts(request.user)
    return render(
        request,
        "backoffice/dashboard.html",
        {
            "counts": counts,
            "total_cases": sum(c.cases for c in counts),
            "states": [s.value for s in State],
            "districts": selectors.district_counts(request.user),
            "rounds": selectors.latest_rounds(),
            "jobs_active": Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).count(),
            "me": staff(request),
        },
    )
