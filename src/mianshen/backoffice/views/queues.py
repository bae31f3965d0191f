"""Work queues (manual review, awaiting confirmation, open objections, applications) and case search."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from mianshen.cases.services import mask_credit_code

from .. import selectors
from ..exports import FORMATS, export_response, queryset_rows, wanted
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
    "supervision": Queue(_("重点监管单位"), selectors.supervision_list, "backoffice/_rows_cases.html"),
    "cases": Queue(_("全部案件"), selectors.case_search, "backoffice/_rows_cases.html"),
}
# every queue can be downloaded whole (backoffice/exports.py: CSV streamed, XLSX written row by row)
CASE_COLUMNS = ("case", "unit_id", "unit_name", "credit_code_masked", "district", "state", "reason",
                "amount_fen", "key_supervision")  # fmt: skip
OBJECTION_COLUMNS = ("objection", "case", "unit_id", "unit_name", "district", "state", "raised_by", "grounds",
                     "recorded_by", "recorded_at")  # fmt: skip
APPLICATION_COLUMNS = ("application", "case", "unit_id", "unit_name", "district", "state", "kind",
                       "submitted_by", "submitted_at")  # fmt: skip


def _case_row(case: Any) -> list[Any]:
    return [case.number, case.unit_id, case.unit_name, mask_credit_code(case.credit_code), case.district,
            case.state, case.reason, case.amount_fen, case.key_supervision]  # fmt: skip


def _objection_row(o: Any) -> list[Any]:
    c = o.case
    return [o.pk, c.number, c.unit_id, c.unit_name, c.district, c.state, o.raised_by, o.grounds, o.recorded_by,
            timezone.localtime(o.recorded_at).strftime("%Y-%m-%d %H:%M")]  # fmt: skip


def _application_row(a: Any) -> list[Any]:
    c = a.case
    return [a.pk, c.number, c.unit_id, c.unit_name, c.district, c.state, a.kind, a.submitted_by,
            timezone.localtime(a.submitted_at).strftime("%Y-%m-%d %H:%M")]  # fmt: skip


def _export_spec(name: str) -> tuple[tuple[str, ...], Callable[[Any], list[Any]]]:
    if name == "objections":
        return OBJECTION_COLUMNS, _objection_row
    if name == "applications":
        return APPLICATION_COLUMNS, _application_row
    return CASE_COLUMNS, _case_row


def _rows(request: HttpRequest, name: str) -> tuple[Queue, QueueFilterForm, Any]:
    spec = QUEUES.get(name)
    if spec is None:
        raise Http404(name)
    me = staff(request)
    districts = sorted(DISTRICTS) if me.city_level else [me.district or ""]
    form = QueueFilterForm(request.GET or None, districts=districts, states=spec.states, stage=spec.stage)
    return spec, form, spec.rows(request.user, form.filter())


@staff_view()
def queue(request: HttpRequest, name: str) -> HttpResponse:
    spec, form, rows = _rows(request, name)
    fmt = wanted(request)
    if fmt is not None:
        return _export(request, name, fmt, rows)
    page = paginate(request, rows)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "backoffice/queue.html",
        {
            "name": name,
            "title": spec.title,
            "form": form,
            "page": page,
            "rows_template": spec.template,
            "query": query.urlencode(),
        },
    )


def _export(request: HttpRequest, name: str, fmt: str, rows: Any) -> HttpResponse:
    """The whole filtered list (not one page) in the district scope of the user; the credit code masked as on
    the pages."""
    columns, row = _export_spec(name)
    return export_response(request, fmt=fmt, name=f"queue-{name}", columns=columns,
                           rows=queryset_rows(rows, row), count=rows.count)  # fmt: skip


@staff_view()
def queue_export(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    """The same as ``?export=<fmt>`` on the queue's page (an address kept for bookmarks and scripts)."""
    if fmt not in FORMATS:
        raise Http404(fmt)
    _spec, _form, rows = _rows(request, name)
    return _export(request, name, fmt, rows)
