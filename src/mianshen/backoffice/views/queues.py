"""Work queues (manual review, awaiting confirmation, open objections, applications) and case search."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .. import selectors
from ..forms import QueueFilterForm
from ..roles import DISTRICTS
from ._base import paginate, staff, staff_view


@dataclass(frozen=True)
class Queue:
    title: Promise
    rows: Callable[[Any, selectors.QueueFilter], Any]
    template: str
    states: bool = True  # offer the state filter
    stage: bool = False  # offer the review-stage filter


QUEUES: dict[str, Queue] = {
    "review": Queue(
        _("人工审核"), selectors.review_queue, "backoffice/_rows_cases.html", states=False, stage=True
    ),
    "confirmation": Queue(
        _("待用工单位确认"), selectors.confirmation_queue, "backoffice/_rows_cases.html", states=False
    ),
    "objections": Queue(_("待处理异议"), selectors.objection_queue, "backoffice/_rows_objections.html"),
    "applications": Queue(_("主动申请"), selectors.application_queue, "backoffice/_rows_applications.html"),
    "cases": Queue(_("全部案件"), selectors.case_search, "backoffice/_rows_cases.html"),
}


@staff_view()
def queue(request: HttpRequest, name: str) -> HttpResponse:
    spec = QUEUES.get(name)
    if spec is None:
        raise Http404(name)
    me = staff(request)
    districts = sorted(DISTRICTS) if me.city_level else [me.district or ""]
    form = QueueFilterForm(request.GET or None, districts=districts, states=spec.states, stage=spec.stage)
    page = paginate(request, spec.rows(request.user, form.filter()))
    return render(
        request,
        "backoffice/queue.html",
        {"name": name, "title": spec.title, "form": form, "page": page, "rows_template": spec.template},
    )
