"""Work queues (manual review, awaiting confirmation, open objections, applications) and case search."""

from __future__ import annotations

import csv
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from mianshen.cases.services import mask_credit_code
from mianshen.reports.exports import escape_cell

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
    "supervision": Queue(_("重点监管单位"), selectors.supervision_list, "backoffice/_rows_cases.html"),
    "cases": Queue(_("全部案件"), selectors.case_search, "backoffice/_rows_cases.html"),
}
# the queues of cases that can be downloaded whole (CSV streamed, XLSX written row by row: constant memory)
EXPORTABLE = frozenset({"supervision", "review", "confirmation", "cases"})
EXPORT_COLUMNS = ("case", "unit_id", "unit_name", "credit_code_masked", "district", "state", "reason",
                  "amount_fen", "key_supervision")  # fmt: skip
XLSX_MAX_ROWS = 1_048_575  # a worksheet's rows, less the header: past that, CSV only


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
    page = paginate(request, rows)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "backoffice/queue.html",
        {"name": name, "title": spec.title, "form": form, "page": page, "rows_template": spec.template,
         "exportable": name in EXPORTABLE, "query": query.urlencode()},
    )  # fmt: skip


def _export_row(case: Any) -> list[Any]:
    return [case.number, case.unit_id, case.unit_name, mask_credit_code(case.credit_code), case.district,
            case.state, case.reason, case.amount_fen, case.key_supervision]  # fmt: skip


def _text_cells(values: list[Any]) -> list[Any]:
    """Text escaped against formula injection; numbers and booleans as they are."""
    return [escape_cell(v) if isinstance(v, str) else v for v in values]


@staff_view()
def queue_export(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    """The whole filtered list (not one page) as CSV or XLSX, in the district scope of the user; the credit code
    masked as on the pages. CSV is streamed row by row; XLSX is written in write-only mode to a temporary file."""
    if name not in EXPORTABLE or fmt not in ("csv", "xlsx"):
        raise Http404(name)
    _spec, _form, rows = _rows(request, name)
    filename = f"{name}-{timezone.localdate():%Y%m%d}.{fmt}"
    cases = rows.iterator(chunk_size=2000)
    if fmt == "csv":

        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv.writer(Echo(), lineterminator="\n")
        lines = itertools.chain(
            ["\ufeff"],  # a BOM: spreadsheet programs then read the UTF-8 Chinese text correctly
            [writer.writerow(EXPORT_COLUMNS)],
            (writer.writerow(_text_cells(_export_row(c))) for c in cases),
        )
        response: Any = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    else:
        if rows.count() > XLSX_MAX_ROWS:
            return HttpResponse(
                _("超过 XLSX 行数上限，请下载 CSV"), status=413, content_type="text/plain; charset=utf-8"
            )
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(name)
        ws.append(list(EXPORT_COLUMNS))
        for c in cases:
            ws.append(_text_cells(_export_row(c)))
        tmp = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the FileResponse when sent)
        wb.save(tmp)
        tmp.seek(0)
        response = FileResponse(
            tmp, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
