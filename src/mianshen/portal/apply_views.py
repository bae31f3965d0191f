"""/apply/: the application channel for a unit signed in through /lookup/ (question → check answers →
confirmation with an ``A-`` reference), its applications and their outcomes, its own documents."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from mianshen.cases.documents import DocumentRefused
from mianshen.cases.models import ApplicationKind
from mianshen.cases.services import application_document_open

from . import applications as apply
from . import dispatch, lookup

DRAFT = "portal_application_draft"
DONE = "portal_application_done"
HOST_DRAFT = "portal_host_answer_draft"
HOST_DONE = "portal_host_answer_done"


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, f"portal/{template}", context, status=status)


def _units(request: HttpRequest) -> tuple[str, ...]:
    return lookup.session_units(request.session)


def _signed_out(request: HttpRequest) -> HttpResponse:
    return _render(request, "apply_signin.html", {}, status=401)


def apply_home(request: HttpRequest) -> HttpResponse:
    """The session's cases: the situations it may apply for now (and why not the others), its applications."""
    units = _units(request)
    if not units:
        return _signed_out(request)
    context = {"cases": apply.session_applications(units), "host_requests": dispatch.requests_for(units)}
    return _render(request, "apply.html", context)


def _files(request: HttpRequest) -> list[tuple[str, bytes]]:
    out = []
    for f in request.FILES.getlist("documents")[: apply.MAX_FILES + 1]:
        limit = apply.document_limit() + 1
        out.append((str(f.name), f.read(limit)))  # at most one byte past the limit: enough to refuse it
    return out


@require_http_methods(["GET", "POST"])
def apply_new(request: HttpRequest, case_id: int, kind: str) -> HttpResponse:
    units = _units(request)
    if not units:
        return _signed_out(request)
    case = apply.own_case(units, case_id)
    if case is None or kind not in ApplicationKind.values:
        raise Http404
    draft = request.session.get(DRAFT) or {}
    same = draft.get("case_id") == case.pk and draft.get("kind") == kind
    values = dict(draft.get("values", {})) if same else {}
    kept = list(draft.get("documents", [])) if same else []
    errors: dict[str, str] = {}
    offer = next(o for o in apply.application_offers(case) if o.kind == kind)
    if request.method == "POST":
        values = {q.name: str(request.POST.get(q.name, ""))[:5000] for q in apply.QUESTIONS[kind]}
        if request.POST.get("remove_documents"):
            kept = []
        try:
            made = apply.draft_make(units, case.pk, kind, values, _files(request), kept)
        except apply.ApplicationInvalid as exc:
            errors = exc.texts()
        else:
            request.session[DRAFT] = asdict(made)
            return redirect("portal:apply_check")
    context = {
        "case": case,
        "kind": kind,
        "kind_label": ApplicationKind(kind).label,
        "offer": offer,
        "questions": apply.QUESTIONS[kind],
        "values": values,
        "errors": errors,
        "documents": apply.DOCUMENTS[kind],
        "document_hint": apply.DOCUMENT_HINTS.get(kind, ""),
        "kept": kept,
        "max_mb": apply.document_limit() // (1024 * 1024),
    }
    return _render(request, "apply_new.html", context, 400 if errors else (200 if offer.available else 409))


@require_http_methods(["GET", "POST"])
def apply_check(request: HttpRequest) -> HttpResponse:
    units = _units(request)
    if not units:
        return _signed_out(request)
    data = request.session.get(DRAFT)
    if not data:
        return redirect("portal:apply")
    draft = apply.Draft(**data)
    case = apply.own_case(units, draft.case_id)
    if case is None:
        del request.session[DRAFT]
        return redirect("portal:apply")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            app = apply.application_file(units, draft)
        except apply.ApplicationInvalid as exc:
            errors = exc.texts()
        else:
            del request.session[DRAFT]
            request.session[DONE] = {"reference": app.reference, "kind": app.kind}
            return redirect("portal:apply_done")
    context = {
        "case": case,
        "draft": draft,
        "kind_label": ApplicationKind(draft.kind).label,
        "answers": apply.answer_rows(draft.kind, draft.values),
        "documents": draft.documents,
        "errors": errors,
    }
    return _render(request, "apply_check.html", context, 400 if errors else 200)


def apply_done(request: HttpRequest) -> HttpResponse:
    done = request.session.get(DONE)
    if not done:
        return redirect("portal:apply")
    kind = done.get("kind", "")
    context = {
        "reference": done.get("reference", ""),
        "next_step": apply.NEXT_STEPS.get(kind, apply.NEXT_STEP),
        "wrong_bank": kind == ApplicationKind.WRONG_BANK_DETAILS,
    }
    return _render(request, "apply_done.html", context)


def apply_document(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the session's own documents (another unit's, or none: 404, the same answer); audited."""
    units = _units(request)
    if not units:
        return _signed_out(request)
    try:
        doc, data = application_document_open(document_id=pk, actor=f"单位 {units[0]} portal", unit_ids=units)
    except DocumentRefused:
        raise Http404(_("文件不存在")) from None
    response = HttpResponse(data, content_type=doc.content_type)
    response["Content-Disposition"] = f"attachment; filename=document-{doc.pk}" + {
        "application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}.get(doc.content_type, "")  # fmt: skip
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


# ---- a host employer confirms dispatched workers ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def host_answer_new(request: HttpRequest, case_id: int) -> HttpResponse:
    """The question page: confirm the declared count, or dispute it with the number seen and a note."""
    units = _units(request)
    if not units:
        return _signed_out(request)
    host = dispatch.request_for(units, case_id)
    if host is None:
        raise Http404
    draft = request.session.get(HOST_DRAFT) or {}
    values = draft if draft.get("case_id") == host.case_id else {}
    errors: dict[str, str] = {}
    if request.method == "POST" and host.answer is None:
        values = {k: str(request.POST.get(k, ""))[:5000] for k in ("answer", "seen_workers", "note")}
        try:
            made = dispatch.draft_make(units, host.case_id, values)
        except apply.ApplicationInvalid as exc:
            errors = exc.texts()
        else:
            request.session[HOST_DRAFT] = asdict(made)
            return redirect("portal:host_answer_check")
    context = {"host": host, "values": values, "errors": errors, "answers": dispatch.ANSWERS,
               "answered_label": dispatch.answer_label(host.answer.answer) if host.answer else ""}  # fmt: skip
    return _render(request, "host_answer_new.html", context, 400 if errors else 200)


@require_http_methods(["GET", "POST"])
def host_answer_check(request: HttpRequest) -> HttpResponse:
    units = _units(request)
    if not units:
        return _signed_out(request)
    data = request.session.get(HOST_DRAFT)
    if not data:
        return redirect("portal:apply")
    draft = dispatch.HostDraft(**data)
    host = dispatch.request_for(units, draft.case_id)
    if host is None:
        del request.session[HOST_DRAFT]
        return redirect("portal:apply")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            done = dispatch.answer_file(units, draft)
        except apply.ApplicationInvalid as exc:
            errors = exc.texts()
        else:
            del request.session[HOST_DRAFT]
            request.session[HOST_DONE] = {"reference": done.answer.reference, "answer": done.answer.answer}
            return redirect("portal:host_answer_done")
    context = {
        "host": host,
        "draft": draft,
        "answer_label": dispatch.answer_label(draft.answer),
        "errors": errors,
    }
    return _render(request, "host_answer_check.html", context, 400 if errors else 200)


def host_answer_done(request: HttpRequest) -> HttpResponse:
    done = request.session.get(HOST_DONE)
    if not done:
        return redirect("portal:apply")
    confirmed = done.get("answer") == "confirm"
    context = {
        "reference": done.get("reference", ""),
        "next_step": dispatch.NEXT_STEP_CONFIRMED if confirmed else dispatch.NEXT_STEP_DISPUTED,
    }
    return _render(request, "host_answer_done.html", context)
