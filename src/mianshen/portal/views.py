"""The public portal's pages: server-rendered, no sign-in, Chinese first with English (``?lang=en``)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import selectors, services
from .codes import normalise_reference
from .districts import district_choices, district_name
from .selectors import SearchError
from .services import CodeCheck, ObjectionDraft, PortalError

DRAFT = "portal_objection_draft"
DONE = "portal_objection_done"
VERIFIED = "portal_objection_refs"


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, f"portal/{template}", context, status=status)


def home(request: HttpRequest) -> HttpResponse:
    return _render(request, "home.html", {"figures": selectors.guide_figures()})


def guide(request: HttpRequest) -> HttpResponse:
    return _render(request, "guide.html", {"figures": selectors.guide_figures()})


def faq_page(request: HttpRequest) -> HttpResponse:
    q = " ".join(str(request.GET.get("q", "")).split())[:100]
    answers = selectors.faq(q, get_language() or "zh-hans")
    return _render(request, "faq.html", {"q": q, "answers": answers})


def demo(request: HttpRequest) -> HttpResponse:
    return _render(request, "demo.html", {"figures": selectors.guide_figures()})


def privacy(request: HttpRequest) -> HttpResponse:
    return _render(request, "privacy.html", {})


def publicity(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    page = None
    try:
        page = selectors.publicity_page(
            q=request.GET.get("q", ""),
            district=request.GET.get("district", ""),
            page=request.GET.get("page", 1),
        )
    except SearchError as exc:
        errors[exc.field] = str(exc)
    # the notices the page was read with (one query), else read for the page that shows the error
    opened, closed = (page.open_notices, page.closed_notices) if page else selectors.notices()
    context = {
        "page": page,
        "errors": errors,
        "q": str(request.GET.get("q", ""))[:100],
        "district": str(request.GET.get("district", ""))[:10],
        "districts": district_choices(),
        "open_notices": opened,
        "closed_notices": closed,
        "amount_label": selectors.amount_label(n.policy_id for n in opened),
    }
    return _render(request, "publicity.html", context, status=400 if errors else 200)


class _Echo:
    def write(self, value: str) -> str:
        return value


def publicity_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    try:
        rows = selectors.publicity_rows(q=request.GET.get("q", ""), district=request.GET.get("district", ""))
        first = next(rows, None)
    except SearchError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    writer = csv.writer(_Echo())
    amount = selectors.amount_label(n.policy_id for n in selectors.notices()[0])

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(
            [_("公示批次"), _("单位名称"), _("统一社会信用代码（部分隐藏）"), _("区"), amount]
        )
        row = first
        while row is not None:
            yield writer.writerow(
                [row.notice_id, row.unit_name, row.masked_credit_code, row.district_name, row.amount_yuan]
            )
            row = next(rows, None)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="publicity.csv"'
    return response


# ---- objections: question → check answers → confirmation ---------------------------------------------------


def _entry_context(entry_id: Any) -> dict[str, Any]:
    entry = selectors.open_entry(entry_id)
    if entry is None:
        return {"entry": None}
    return {
        "entry": entry,
        "entry_district": district_name(entry.district),
        "entry_amount": selectors.format_yuan(entry.amount_fen),
        "entry_amount_label": selectors.amount_label([entry.notice.policy_id]),
    }


@require_http_methods(["GET", "POST"])
def objection_new(request: HttpRequest) -> HttpResponse:
    draft = request.session.get(DRAFT) or {}
    source = request.POST if request.method == "POST" else request.GET
    entry_id = source.get("entry") or draft.get("entry_id", "")
    if str(entry_id) != str(draft.get("entry_id", "")):
        draft = {}  # answers given for another unit are not carried over
    context = _entry_context(entry_id)
    values = {
        "grounds": draft.get("grounds", ""),
        "name": draft.get("name", ""),
        "phone": draft.get("phone", ""),
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: str(request.POST.get(k, ""))[:5000] for k in ("grounds", "name", "phone")}
        try:
            checked = services.objection_check(entry_id=entry_id, **values)
        except PortalError as exc:
            errors[exc.field or "entry"] = exc.text()
        else:
            request.session[DRAFT] = {
                "entry_id": checked.entry_id,
                "grounds": checked.grounds,
                "name": checked.name,
                "phone": checked.phone,
            }
            return redirect("portal:objection_check")
    status = 400 if errors else (404 if context["entry"] is None and entry_id else 200)
    return _render(request, "objection_new.html", {**context, "values": values, "errors": errors}, status)


@require_http_methods(["GET", "POST"])
def objection_check_answers(request: HttpRequest) -> HttpResponse:
    draft = request.session.get(DRAFT)
    if not draft:
        return redirect("portal:objection_new")
    context = _entry_context(draft["entry_id"])
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            receipt = services.objection_submit(ObjectionDraft(**draft))
        except PortalError as exc:
            errors["entry"] = exc.text()
        else:
            del request.session[DRAFT]
            request.session[DONE] = receipt.reference
            return redirect("portal:objection_done")
    context.update(draft=draft, phone_masked=services.mask_phone(draft["phone"]), errors=errors)
    return _render(request, "objection_check.html", context, 400 if errors else 200)


def objection_done(request: HttpRequest) -> HttpResponse:
    reference = request.session.get(DONE)
    if not reference:
        return redirect("portal:objection_new")
    return _render(request, "objection_done.html", {"reference": reference})


@require_http_methods(["GET", "POST"])
def objection_status_page(request: HttpRequest) -> HttpResponse:
    """Reference → a code to the phone given → the outcome. The answer to a code request is the same whether
    or not the reference exists."""
    verified: list[str] = request.session.get(VERIFIED, [])
    errors: dict[str, str] = {}
    context: dict[str, Any] = {"step": "reference", "reference": ""}
    shown = normalise_reference(request.GET.get("ref", ""))
    if request.method == "GET" and shown and shown in verified:
        context.update(step="result", status=services.objection_status(shown), reference=shown)
        return _render(request, "objection_status.html", context)
    if request.method == "POST":
        typed = str(request.POST.get("reference", ""))[:40]
        reference = normalise_reference(typed)
        context["reference"] = reference or typed
        if not reference:
            errors["reference"] = _("请输入受理编号，格式如 O-7K3M9Q2XTB")
        elif request.POST.get("action") == "code":
            return status_code_submit(request, reference, context, session_key=VERIFIED,
                                      template="objection_status.html")  # fmt: skip
        else:
            if not services.address_allowed(services.client_address(request), "objection_status"):
                context["errors"] = {"reference": _("请求过于频繁，请一小时后再试")}
                return _render(request, "objection_status.html", context, 429)
            services.status_code_request(reference)
            context["step"] = "code"
    context["errors"] = errors
    return _render(request, "objection_status.html", context, 400 if errors else 200)


def status_code_submit(
    request: HttpRequest, reference: str, context: dict[str, Any], *, session_key: str, template: str
) -> HttpResponse:
    """A status page's code step (objections, call-backs): right → the reference is open in this session (the
    last 10 kept under ``session_key``) and the page shows it; else the code's own message, 400."""
    result = services.status_code_check(reference, str(request.POST.get("code", ""))[:20])
    if result == CodeCheck.OK:
        request.session[session_key] = [*request.session.get(session_key, [])[-9:], reference]
        return redirect(f"{request.path}?ref={reference}")
    context.update(step="code", errors={"code": result.message})
    return render(request, f"portal/{template}", context, status=400)
