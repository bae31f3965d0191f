"""呼我必回 on the portal (contracts §4): ``/callback/`` (question → check your answers → confirmation with the
reference and the promised time) and ``/callback/status/`` (reference → a one-time code to the phone given →
progress and the 1–5 rating, 好差评). The request itself is ``notify.callbacks`` (routing, deadline, reminders).
Kept apart from ``views`` so that the pages of the portal can grow in parallel."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from mianshen.notify.callback_states import CALLBACK_STATE_LABELS, OUTCOMES, CallbackState
from mianshen.notify.callbacks import (
    CallbackDraft,
    CallbackError,
    callback_by_reference,
    callback_check,
    callback_rate,
    callback_request,
    due_text,
)

from . import services
from .codes import normalise_reference
from .districts import district_choices, district_name
from .views import status_code_submit

DRAFT = "portal_callback_draft"
DONE = "portal_callback_done"
VERIFIED = "portal_callback_refs"
FIELDS = ("name", "phone", "topic", "question", "credit_code", "district")


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, f"portal/{template}", context, status=status)


@require_http_methods(["GET", "POST"])
def callback_new(request: HttpRequest) -> HttpResponse:
    values = {k: "" for k in FIELDS} | (request.session.get(DRAFT) or {})
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: str(request.POST.get(k, ""))[:5000] for k in FIELDS}
        try:
            draft = callback_check(**values)
        except CallbackError as exc:
            errors[exc.field or "name"] = str(exc)
        else:
            request.session[DRAFT] = asdict(draft)
            return redirect("portal:callback_check")
    context = {"values": values, "errors": errors, "districts": district_choices()}
    return _render(request, "callback_new.html", context, 400 if errors else 200)


@require_http_methods(["GET", "POST"])
def callback_check_answers(request: HttpRequest) -> HttpResponse:
    draft = request.session.get(DRAFT)
    if not draft:
        return redirect("portal:callback_new")
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not services.address_allowed(services.client_address(request), "callback"):
            errors["name"] = _("请求过于频繁，请一小时后再试")
            context = {"draft": draft, "errors": errors}
            return _render(request, "callback_check.html", context, 429)
        cb = callback_request(CallbackDraft(**draft), language=get_language() or "zh-hans")
        del request.session[DRAFT]
        request.session[DONE] = cb.reference
        return redirect("portal:callback_done")
    context = {
        "draft": draft,
        "phone_masked": services.mask_phone(draft["phone"]),
        "district_name": district_name(draft["district"]) if draft["district"] else "",
        "errors": errors,
    }
    return _render(request, "callback_check.html", context)


def callback_done(request: HttpRequest) -> HttpResponse:
    reference = request.session.get(DONE)
    cb = callback_by_reference(reference) if reference else None
    if cb is None:
        return redirect("portal:callback_new")
    return _render(request, "callback_done.html", {"reference": cb.reference, "due": due_text(cb.due_at)})


def _status(reference: str) -> dict[str, Any]:
    cb = callback_by_reference(reference)
    if cb is None:
        return {"callback": None}
    state = CallbackState(cb.state)
    return {
        "callback": cb,
        "state_label": CALLBACK_STATE_LABELS[state],
        "due": due_text(cb.due_at),
        "called": due_text(cb.called_at) if cb.called_at else "",
        "district_name": district_name(cb.district) if cb.district else _("市级"),
        "may_rate": state in OUTCOMES,
        "ratings": range(5, 0, -1),
    }


@require_http_methods(["GET", "POST"])
def callback_status_page(request: HttpRequest) -> HttpResponse:
    """Reference → a code to the phone given → progress and the rating. The answer to a code request is the
    same whether or not the reference exists (the portal's code machinery, shared with objections)."""
    verified: list[str] = request.session.get(VERIFIED, [])
    errors: dict[str, str] = {}
    context: dict[str, Any] = {"step": "reference", "reference": ""}
    shown = normalise_reference(request.GET.get("ref", ""))
    if request.method == "GET" and shown and shown in verified:
        context.update(step="result", reference=shown, **_status(shown))
        return _render(request, "callback_status.html", context)
    if request.method == "POST":
        typed = str(request.POST.get("reference", ""))[:40]
        reference = normalise_reference(typed)
        context["reference"] = reference or typed
        action = request.POST.get("action")
        if not reference or not reference.startswith("C-"):
            errors["reference"] = _("请输入受理编号，格式如 C-7K3M9Q2XTB")
        elif action == "rate" and reference in verified:
            return _rate(request, reference, context)
        elif action == "code":
            return status_code_submit(request, reference, context, session_key=VERIFIED,
                                      template="callback_status.html")  # fmt: skip
        else:
            if not services.address_allowed(services.client_address(request), "callback_status"):
                context["errors"] = {"reference": _("请求过于频繁，请一小时后再试")}
                return _render(request, "callback_status.html", context, 429)
            services.status_code_request(reference)
            context["step"] = "code"
    context["errors"] = errors
    return _render(request, "callback_status.html", context, 400 if errors else 200)


def _rate(request: HttpRequest, reference: str, context: dict[str, Any]) -> HttpResponse:
    cb = callback_by_reference(reference)
    raw = str(request.POST.get("rating", ""))
    try:
        if cb is None:
            raise CallbackError(_("未找到该受理编号"), "rating")
        callback_rate(pk=cb.pk, rating=int(raw) if raw.isdigit() else 0)
    except CallbackError as exc:
        context.update(step="result", errors={"rating": str(exc)}, **_status(reference))
        return _render(request, "callback_status.html", context, 400)
    return redirect(f"{request.path}?ref={reference}&rated=1")
