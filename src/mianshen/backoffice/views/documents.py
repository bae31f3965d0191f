"""Documents on request: a case's letters to its unit (告知书) and a notice's publicity list per district, each
rendered once and kept (``reports.letters``, ``reports.publicity_list``), every download an audit event."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from mianshen.cases.models import Notice, NoticeEntry
from mianshen.reports.documents import document_download
from mianshen.reports.fonts import GlyphMissing
from mianshen.reports.letters import LetterUnavailable, letter_document
from mianshen.reports.models import Document
from mianshen.reports.publicity_list import ListUnavailable, publicity_list_document

from ..roles import scope
from ._base import actor, case_or_404, staff_view


def _lang(request: HttpRequest) -> str:
    return "en" if request.GET.get("lang") == "en" else "zh"


def _pdf(request: HttpRequest, doc: Document, reason: str) -> HttpResponse:
    data = document_download(doc=doc, actor=actor(request), actor_id=request.user.pk, reason=reason)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{doc.filename}"'
    response["X-Content-SHA256"] = doc.sha256
    return response


@staff_view()
def case_letter(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """The case's letter of ``kind`` (listed, paid, failed); another district's case or a letter the case has
    no fact for is not found."""
    case = case_or_404(request, pk)
    try:
        doc = letter_document(case=case, kind=kind, lang=_lang(request), actor=actor(request),
                              actor_id=request.user.pk)  # fmt: skip
    except LetterUnavailable as exc:
        raise Http404(str(exc)) from None
    except GlyphMissing as exc:
        return HttpResponse(exc.text(), status=422, content_type="text/plain; charset=utf-8")
    return _pdf(request, doc, f"back office: letter {kind} of case {case.number}")


@staff_view()
def notice_list_pdf(request: HttpRequest, pk: int, district: str) -> HttpResponse:
    """The notice's list of ``district`` for posting; a district officer gets their own district only."""
    notice = get_object_or_404(Notice, pk=pk)
    if not scope(NoticeEntry.objects.filter(notice=notice, district=district), request.user).exists():
        raise Http404("no listed unit of that district in this notice")
    try:
        doc = publicity_list_document(notice=notice, district=district, lang=_lang(request),
                                      actor=actor(request), actor_id=request.user.pk)  # fmt: skip
    except ListUnavailable as exc:
        raise Http404(str(exc)) from None
    except GlyphMissing as exc:
        return HttpResponse(exc.text(), status=422, content_type="text/plain; charset=utf-8")
    return _pdf(request, doc, f"back office: publicity list of notice {notice.pk}, district {district}")
