"""呼我必回 in the back office: the queue of call-backs with their countdowns (district officers see their
district's; city-level staff see all), one call-back with the officer's outcome (answered / unreachable + note),
and per district the response rate, resolution rate, satisfaction and on-time share."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from mianshen.notify.callback_states import CALLBACK_STATE_LABELS, OPEN, CallbackState
from mianshen.notify.callbacks import (
    CallbackError,
    callback_record_outcome,
    callback_stats,
    countdown,
    working_calendar,
)
from mianshen.notify.models import CallbackRequest
from mianshen.notify.services import mask

from ..exports import export_response, queryset_rows, wanted
from ..roles import Perm, can_act, scope
from ..services import callback_phone_view
from ._base import actor, is_htmx, paginate, staff_view


def _left(minutes: float | None) -> str:
    if minutes is None:
        return ""
    if minutes < 0:
        return _("已超时 %(h)d 小时 %(m)02d 分") % {"h": -minutes // 60, "m": -minutes % 60}
    return _("剩 %(h)d 小时 %(m)02d 分") % {"h": minutes // 60, "m": minutes % 60}


CALLBACK_COLUMNS = (
    "reference",
    "district",
    "topic",
    "state",
    "escalated",
    "reopened",
    "created_at",
    "due_at",
)


def _callback_row(cb: CallbackRequest) -> list[Any]:
    def when(at: Any) -> str:
        return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""

    return [cb.reference, cb.district, cb.topic, cb.state, cb.escalated_at is not None, cb.reopened,
            when(cb.created_at), when(cb.due_at)]  # fmt: skip


@staff_view()
def callback_queue(request: HttpRequest) -> HttpResponse:
    mine = scope(CallbackRequest.objects.all(), request.user)
    show = request.GET.get("show", "open")
    rows = mine.filter(state__in=[s.value for s in OPEN]) if show == "open" else mine
    rows = rows.order_by("due_at", "id") if show == "open" else rows.order_by("-id")
    fmt = wanted(request)
    if fmt is not None:  # the user's call-backs (district officers: their district's), as on the page
        return export_response(request, fmt=fmt, name=f"callbacks-{show}", columns=CALLBACK_COLUMNS,
                               rows=queryset_rows(rows, _callback_row), count=rows.count)  # fmt: skip
    page = paginate(request, rows)
    now, calendar = timezone.now(), working_calendar()
    items = []
    for cb in page.object_list:
        left = countdown(cb, now=now, calendar=calendar)
        minutes = None if left is None else int(left.total_seconds() // 60)
        items.append({"cb": cb, "left": _left(minutes), "overdue": minutes is not None and minutes < 0,
                      "state": CALLBACK_STATE_LABELS[cb.state]})  # fmt: skip
    stats = callback_stats(mine)
    return render(request, "backoffice/callbacks.html",
                  {"page": page, "items": items, "stats": stats, "show": show})  # fmt: skip


@staff_view(methods=("GET", "POST"))
def callback_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cb = get_object_or_404(scope(CallbackRequest.objects.all(), request.user), pk=pk)
    may_record = can_act(request.user, cb, Perm.RECORD_CALLBACK) and CallbackState(cb.state) in OPEN
    errors: dict[str, str] = {}
    values = {"outcome": "", "note": ""}
    if request.method == "POST":
        if not can_act(request.user, cb, Perm.RECORD_CALLBACK):
            raise PermissionDenied(
                f"may not {Perm.RECORD_CALLBACK}"
            )  # seen (scope), but not the role's to do
        values = {k: str(request.POST.get(k, ""))[:2000] for k in values}
        try:
            callback_record_outcome(
                pk=cb.pk, outcome=values["outcome"], note=values["note"], actor=actor(request)
            )
        except CallbackError as exc:
            errors[exc.field or "outcome"] = str(exc)
        else:
            messages.success(request, _("回电结果已记录。"))
            return redirect("backoffice:callback", pk=cb.pk)
    return _detail(request, cb, may_record=may_record, errors=errors, values=values)


def _detail(
    request: HttpRequest, cb: CallbackRequest, *, may_record: bool, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, phone: str = "",
) -> HttpResponse:  # fmt: skip
    left = countdown(cb)
    context = {
        "cb": cb, "state": CALLBACK_STATE_LABELS[cb.state], "may_record": may_record, "errors": errors or {},
        "values": values or {"outcome": "", "note": ""},
        "left": _left(None if left is None else int(left.total_seconds() // 60)),
        "masked_phone": mask(cb.phone, "sms"), "phone": phone,
        "may_view_phone": can_act(request.user, cb, Perm.VIEW_CONTACT),
    }  # fmt: skip
    return render(request, "backoffice/callback.html", context, status=422 if errors else 200)


@staff_view(methods=("POST",), own_account=True)
def callback_phone(request: HttpRequest, pk: int) -> HttpResponse:
    """The requester's full phone number, an explicit and audited action (``callback.phone_viewed``): a POST,
    so no prefetch or crawler reveals it. Auditors may too (a read); other districts' call-backs are not found."""
    cb = get_object_or_404(scope(CallbackRequest.objects.all(), request.user), pk=pk)
    if not can_act(request.user, cb, Perm.VIEW_CONTACT):
        raise PermissionDenied(f"may not {Perm.VIEW_CONTACT}")
    phone = callback_phone_view(callback=cb, user=request.user)
    if is_htmx(request):
        return render(request, "backoffice/_callback_phone.html", {"cb": cb, "phone": phone})
    may_record = can_act(request.user, cb, Perm.RECORD_CALLBACK) and CallbackState(cb.state) in OPEN
    return _detail(request, cb, may_record=may_record, phone=phone)
