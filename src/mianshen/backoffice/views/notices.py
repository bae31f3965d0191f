"""Public notices (公示): open one from the rechecked cases, list its entries; objections: record and decide."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from mianshen.cases.models import Notice, NoticeEntry, Objection
from mianshen.cases.services import CaseError, notice_open, objection_decide, objection_record

from ..exports import export_response, queryset_rows, wanted
from ..forms import ObjectionDecideForm, ObjectionForm, OpenNoticeForm
from ..roles import Perm, can, scope
from ._base import actor, case_or_404, paginate, refusal_text, require_perm, staff_view
from .cases import REFUSED, render_case

NOTICE_COLUMNS = ("notice", "policy", "title", "starts_at", "ends_at", "opened_by")
ENTRY_COLUMNS = ("case", "unit_name", "credit_code_masked", "district", "amount_fen", "state")


def _when(at: Any) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""


@staff_view()
def notice_list(request: HttpRequest) -> HttpResponse:
    notices = Notice.objects.order_by("-id")
    fmt = wanted(request)
    if fmt is not None:
        return export_response(
            request, fmt=fmt, name="notices", columns=NOTICE_COLUMNS, count=notices.count,
            rows=queryset_rows(notices, lambda n: [n.pk, n.policy_id, n.title, _when(n.starts_at), _when(n.ends_at),
                                                   n.opened_by]),
        )  # fmt: skip
    page = paginate(request, notices)
    return render(
        request, "backoffice/notices.html", {"page": page, "may_open": can(request.user, Perm.OPEN_NOTICE)}
    )


@staff_view(methods=("GET", "POST"), perm=Perm.OPEN_NOTICE)
def notice_open_view(request: HttpRequest) -> HttpResponse:
    form = OpenNoticeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            notice = notice_open(
                policy_id=data["policy"],
                actor=actor(request),
                start=data["start"],
                days=data["days"],
                title=data["title"],
            )
        except CaseError as exc:
            form.add_error(None, refusal_text(exc))
        else:
            messages.success(request, _("公示已发布。"))
            return redirect("backoffice:notice_detail", pk=notice.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "backoffice/notice_open.html", {"form": form}, status=status)


@staff_view()
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(Notice, pk=pk)
    entries = (
        scope(NoticeEntry.objects.filter(notice=notice), request.user).select_related("case").order_by("pk")
    )
    fmt = wanted(request)
    if fmt is not None:  # the entries the user may see (district staff: their district's)
        return export_response(
            request, fmt=fmt, name=f"notice-{notice.pk}-entries", columns=ENTRY_COLUMNS, count=entries.count,
            rows=queryset_rows(entries, lambda e: [e.case.number, e.unit_name, e.masked_credit_code, e.district,
                                                   e.amount_fen, e.case.state]),
        )  # fmt: skip
    objections = scope(Objection.objects.filter(notice=notice), request.user, district_field="case__district")
    return render(
        request,
        "backoffice/notice_detail.html",
        {
            "notice": notice,
            "page": paginate(request, entries),
            "entries_total": entries.count(),
            "districts": sorted(set(entries.values_list("district", flat=True).distinct())),
            "objections": objections.select_related("case").order_by("pk"),
        },
    )


@staff_view(methods=("POST",))
def objection_record_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    require_perm(request, case, Perm.RECORD_OBJECTION)
    form = ObjectionForm(request.POST)
    if not form.is_valid():
        return render_case(request, case, status=422, bound={"objection": form})
    try:
        objection_record(
            case_id=case.pk,
            raised_by=form.cleaned_data["raised_by"],
            contact=form.cleaned_data["contact"],
            grounds=form.cleaned_data["grounds"],
            actor=actor(request),
        )
    except REFUSED as exc:
        return render_case(request, case, status=422, bound={"objection": form}, error=refusal_text(exc))
    messages.success(request, _("异议已登记。"))
    return redirect("backoffice:case", pk=case.pk)


@staff_view(methods=("POST",))
def objection_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    objection = get_object_or_404(Objection, pk=pk)
    case = case_or_404(request, objection.case_id)
    require_perm(request, case, Perm.DECIDE_OBJECTION)
    form = ObjectionDecideForm(request.POST)
    key = f"decide_objection_{objection.pk}"
    if not form.is_valid():
        return render_case(request, case, status=422, bound={key: form})
    try:
        objection_decide(
            objection_id=objection.pk,
            outcome=form.cleaned_data["outcome"],
            reason=form.cleaned_data["reason"],
            actor=actor(request),
        )
    except REFUSED as exc:
        return render_case(request, case, status=422, bound={key: form}, error=refusal_text(exc))
    messages.success(request, _("异议处理结果已记录。"))
    return redirect("backoffice:case", pk=case.pk)
