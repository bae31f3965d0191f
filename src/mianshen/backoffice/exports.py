"""Downloads of the back office's lists and dashboard tables: the one export helper every list page uses.

A list page offers its whole filtered list (not one page) as CSV or XLSX by ``?export=csv`` / ``?export=xlsx``
on its own address (the same filters, the same district scope): the view calls :func:`export_response` with
its columns, a row function and its queryset. What it does, once for every list:

- **constant memory**: rows come from ``QuerySet.iterator(chunk_size=EXPORT_CHUNK)`` (or any iterator); CSV is
  streamed row by row (``StreamingHttpResponse``, a UTF-8 BOM first so that spreadsheets read the Chinese);
  XLSX is written by openpyxl in write-only mode to a temporary file, then sent from it;
- **a worksheet's limit**: XLSX holds at most ``settings.EXPORT_XLSX_MAX_ROWS`` rows (1,048,575 below the header);
  past it the answer is one clear line (413) pointing to the CSV, which has no limit;
- **formula injection**: every text cell goes through ``reports.exports.escape_cell`` (the one escaping);
  numbers and booleans stay numbers; in XLSX, control characters XML cannot hold are then dropped;
- **audited**: before the first byte, an audit event ``list.exported`` (840): who, which list, the format, the
  filters, and how many rows the list held (one ``COUNT``).
"""

from __future__ import annotations

import csv
import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.reports.exports import escape_cell

FORMATS = ("csv", "xlsx")
EXPORT_PARAM = "export"
EXPORT_CHUNK = 2000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def wanted(request: HttpRequest) -> str | None:
    """The export format asked for (``?export=``), ``None`` for the page itself; an unknown format → 404."""
    fmt = request.GET.get(EXPORT_PARAM)
    if fmt is None:
        return None
    if fmt not in FORMATS:
        raise Http404(fmt)
    return fmt


def text_cells(values: Sequence[Any]) -> list[Any]:
    """Text escaped against formula injection; numbers, booleans and empty cells as they are."""
    return [escape_cell(v) if isinstance(v, str) else v for v in values]


def filters_of(request: HttpRequest) -> dict[str, str]:
    """The list's filters as the request gave them (without the page and the export parameters)."""
    return {
        k: request.GET.get(k, "") for k in sorted(request.GET) if k not in (EXPORT_PARAM, "page", "hpage")
    }


def queryset_rows(queryset: QuerySet[Any], row: Callable[[Any], Sequence[Any]]) -> Iterator[Sequence[Any]]:
    """Rows of ``queryset`` read in chunks (never the whole list in memory)."""
    return (row(obj) for obj in queryset.iterator(chunk_size=EXPORT_CHUNK))


def export_response(
    request: HttpRequest,
    *,
    fmt: str,
    name: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    count: int | Callable[[], int],
    filters: Mapping[str, str] | None = None,
) -> HttpResponse:
    """The list ``name`` as a CSV or XLSX download of ``columns`` and ``rows`` (an iterator: read once, lazily),
    audited first. ``count``: the number of rows (or a function giving it, e.g. ``queryset.count``)."""
    if fmt not in FORMATS:
        raise Http404(fmt)
    n = count() if callable(count) else count
    limit = settings.EXPORT_XLSX_MAX_ROWS
    if fmt == "xlsx" and n > limit:
        message = _("共 %(n)s 行，超过 XLSX 工作表上限 %(limit)s 行：请下载 CSV（无行数上限）。") % {
            "n": f"{n:,}",
            "limit": f"{limit:,}",
        }
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    with transaction.atomic():
        audit_record(
            actor=request.user.get_username(),
            actor_id=request.user.pk,
            action=Action.LIST_EXPORTED,
            obj_type="list",
            obj_id=name,
            after={
                "format": fmt,
                "filters": dict(filters if filters is not None else filters_of(request)),
                "rows": n,
            },
        )
    filename = f"{name}-{timezone.localdate():%Y%m%d}.{fmt}"
    response: Any  # a StreamingHttpResponse or FileResponse: served like an HttpResponse by the views
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(columns, rows), content_type="text/csv; charset=utf-8")
    else:
        response = FileResponse(_xlsx_file(name, columns, rows), content_type=XLSX_MIME)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    # RFC 4180 line ends: the writer then quotes every field holding a CR or LF (with "\n" alone, a field with a
    # lone CR went out unquoted and split its row in two — found by the hypothesis test of the escaping)
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    return itertools.chain(
        ["\ufeff"],  # a BOM: spreadsheet programs then read the UTF-8 Chinese text correctly
        [writer.writerow(text_cells(columns))],
        (writer.writerow(text_cells(r)) for r in rows),
    )


def _xml_safe(values: list[Any]) -> list[Any]:
    """Control characters that XML 1.0 cannot hold (NUL, form feed, …) taken out of text cells: openpyxl refuses
    them, and one such character in a unit's name must not stop the whole download."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values]


def _xlsx_file(name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("".join(c for c in name if c.isalnum() or c in "-_")[:31] or "list")
    ws.append(_xml_safe(text_cells(columns)))
    for r in rows:
        ws.append(_xml_safe(text_cells(r)))
    tmp = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the FileResponse when sent)
    wb.save(tmp)
    tmp.seek(0)
    return tmp
