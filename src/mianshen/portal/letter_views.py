"""The signed-in unit's own letters (告知书) from /lookup/: a letter of a case of the session's units only; any
other case is not found, the same answer as a case that does not exist. Each download is an audit event (852)."""

from __future__ import annotations

from django import template
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import get_language

from mianshen.cases.models import Case
from mianshen.reports.documents import document_download
from mianshen.reports.fonts import GlyphMissing
from mianshen.reports.letters import LetterKind, LetterUnavailable, letter_document, letters_available

from . import lookup

register = template.Library()


def _own_case(request: HttpRequest, case_id: int) -> Case:
    units = lookup.session_units(request.session)
    case = Case.objects.filter(pk=case_id, unit_id__in=units).first() if units else None
    if case is None:
        raise Http404("not a case of this session's units")
    return case


def letter_download(request: HttpRequest, case_id: int, kind: str) -> HttpResponse:
    case = _own_case(request, case_id)
    lang = request.GET.get("lang") or get_language() or "zh"
    try:
        doc = letter_document(case=case, kind=kind, lang="en" if lang.startswith("en") else "zh",
                              actor=lookup.ACTOR)  # fmt: skip
    except LetterUnavailable:
        raise Http404("no such letter for this case") from None
    except GlyphMissing as exc:
        return HttpResponse(exc.text(), status=422, content_type="text/plain; charset=utf-8")
    data = document_download(doc=doc, actor=lookup.ACTOR, unit_id=case.unit_id, reason="portal: own letter")
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{doc.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@register.simple_tag
def unit_letters(case_id: int) -> list[LetterKind]:
    """The letters the case has a fact for (the links of the lookup page; the page shows only own cases)."""
    case = Case.objects.filter(pk=case_id).first()
    return letters_available(case) if case is not None else []
