"""Payments, case level: the failures queue (and the hold queue for city-level staff), account corrections and
the four-eyes requests (cancel a payment, re-issue a defective file), and the re-issues made.

Every list is scoped to the user's district (``payment_selectors``); an action looks its case up in the user's
scope first (another district's → 404), then checks the role (→ 403), then calls one payment service. The
services refuse the maker as checker (four eyes): the page is shown again with that refusal (422).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from mianshen.cases.transitions import TransitionRefused
from mianshen.payments.models import Approval, ApprovalKind, Correction, HoldItem
from mianshen.payments.services.approvals import approval_decide, approval_request
from mianshen.payments.services.common import PaymentError
from mianshen.payments.services.holds import hold_resolve
from mianshen.payments.services.recovery import correction_decide, correction_prepare

from .. import payment_selectors as ps
from ..exports import export_response, queryset_rows, wanted
from ..forms import (
    CorrectionPrepareForm,
    FailureFilterForm,
    HoldResolveForm,
    PaymentRequestForm,
    ReviewDecideForm,
)
from ..roles import DISTRICTS, Perm, can, can_act
from ._base import PAGE_SIZE, actor, case_or_404, paginate, refusal_text, require_perm, staff, staff_view
from .cases import render_case

PAY_REFUSED = (PaymentError, TransitionRefused)


# ---- failures and the hold queue -------------------------------------------------------------------------


def render_failures(
    request: HttpRequest,
    *,
    status: int = 200,
    bound: dict[int, forms.Form] | None = None,
    error: str = "",
) -> HttpResponse:
    me = staff(request)
    districts = sorted(DISTRICTS) if me.city_level else [me.district or ""]
    form = FailureFilterForm(request.GET or None, districts=districts)
    bound = bound or {}
    holds = None
    resolve_forms: dict[int, forms.Form] = {}
    if me.city_level:  # a page of the hold queue at a time (its own page parameter: hpage)
        holds = Paginator(ps.holds_open_all(), PAGE_SIZE).get_page(request.GET.get("hpage"))
        if can(request.user, Perm.RESOLVE_HOLD):
            resolve_forms = {h.pk: bound.get(h.pk) or HoldResolveForm() for h in holds}
    context = {
        "form": form,
        "page": paginate(request, ps.failures_paged(request.user, form.filter())),
        "holds": holds,
        "resolve_forms": resolve_forms,
        "may_view_files": can(request.user, Perm.VIEW_PAYMENT_FILES),
        "error": error,
    }
    return render(request, "backoffice/payment_failures.html", context, status=status)


@staff_view()
def payment_failures(request: HttpRequest) -> HttpResponse:
    fmt = wanted(request)
    if fmt is not None:
        return _failures_export(request, fmt)
    return render_failures(request)


FAILURE_COLUMNS = ("case", "unit_id", "unit_name", "district", "amount_fen", "end_to_end_id", "status",
                   "reject_codes", "action", "open_correction", "open_cancel")  # fmt: skip


def _failure_row(p: Any) -> list[Any]:
    i = p.current
    return [p.case.number, p.case.unit_id, p.case.unit_name, p.case.district, p.amount_fen,
            i.end_to_end_id if i else "", i.status if i else "", i.reject_codes if i else "",
            i.action if i else "", p.open_correction, p.open_cancel]  # fmt: skip


def _failures_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The whole filtered failures list (``payment_selectors.failures``, the page's own query) as a download."""
    me = staff(request)
    districts = sorted(DISTRICTS) if me.city_level else [me.district or ""]
    form = FailureFilterForm(request.GET or None, districts=districts)
    rows = ps.failures(request.user, form.filter())
    return export_response(request, fmt=fmt, name="payment-failures", columns=FAILURE_COLUMNS,
                           rows=queryset_rows(rows, _failure_row), count=rows.count)  # fmt: skip


@staff_view(methods=("POST",), perm=Perm.RESOLVE_HOLD)
def hold_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    hold = get_object_or_404(HoldItem, pk=pk)
    form = HoldResolveForm(request.POST)
    if not form.is_valid():
        return render_failures(request, status=422, bound={hold.pk: form})
    try:
        hold_resolve(hold_id=hold.pk, actor=actor(request), resolution=form.cleaned_data["resolution"])
    except PaymentError as exc:
        return render_failures(request, status=422, bound={hold.pk: form}, error=refusal_text(exc))
    messages.success(request, _("待处理事项已办结。"))
    return redirect("backoffice:payment_failures")


# ---- account corrections (maker on the case page, checker on the case page) ------------------------------


@staff_view()
def correction_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, ps.corrections(request.user))
    return render(request, "backoffice/corrections.html", {"page": page})


@staff_view(methods=("POST",))
def correction_prepare_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    require_perm(request, case, Perm.PREPARE_CORRECTION)
    form = CorrectionPrepareForm(request.POST)
    if not form.is_valid():
        return render_case(request, case, status=422, bound={"prepare_correction": form})
    try:
        correction_prepare(
            case_id=case.pk, actor=actor(request), account=form.account(), note=form.cleaned_data["note"]
        )
    except PAY_REFUSED as exc:
        return render_case(
            request, case, status=422, bound={"prepare_correction": form}, error=refusal_text(exc)
        )
    messages.success(request, _("更正已登记，等待另一名工作人员复核。"))
    return redirect("backoffice:case", pk=case.pk)


@staff_view(methods=("POST",))
def correction_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    correction = get_object_or_404(Correction.objects.select_related("payment"), pk=pk)
    case = case_or_404(request, correction.payment.case_id)
    require_perm(request, case, Perm.DECIDE_CORRECTION)
    form = ReviewDecideForm(request.POST)
    if not form.is_valid():
        return render_case(request, case, status=422, bound={"decide_correction": form})
    try:
        correction_decide(
            correction_id=correction.pk,
            actor=actor(request),
            approve=form.approve,
            note=form.cleaned_data["reason"],
        )
    except PAY_REFUSED as exc:
        return render_case(
            request, case, status=422, bound={"decide_correction": form}, error=refusal_text(exc)
        )
    messages.success(request, _("更正复核结论已记录。"))
    return redirect("backoffice:case", pk=case.pk)


# ---- four-eyes requests ----------------------------------------------------------------------------------


@staff_view(methods=("POST",))
def payment_cancel_request_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    require_perm(request, case, Perm.REQUEST_CANCEL)
    form = PaymentRequestForm(request.POST)
    if not form.is_valid():
        return render_case(request, case, status=422, bound={"cancel_request": form})
    try:
        approval_request(
            kind=ApprovalKind.CANCEL_PAYMENT,
            actor=actor(request),
            reason=form.cleaned_data["reason"],
            case_id=case.pk,
        )
    except PAY_REFUSED as exc:
        return render_case(request, case, status=422, bound={"cancel_request": form}, error=refusal_text(exc))
    messages.success(request, _("撤销拨付申请已提交，等待另一名工作人员审批。"))
    return redirect("backoffice:case", pk=case.pk)


def may_decide(request: HttpRequest, approval: Approval) -> bool:
    """A cancellation: the role may decide and the case is in the user's view; a file re-issue: a city-level
    checker (the file holds every district's payments)."""
    if approval.kind == ApprovalKind.CANCEL_PAYMENT:
        return approval.case is not None and can_act(request.user, approval.case, Perm.DECIDE_APPROVAL)
    return can(request.user, Perm.DECIDE_APPROVAL) and can(request.user, Perm.VIEW_PAYMENT_FILES)


def render_approvals(
    request: HttpRequest,
    *,
    status: int = 200,
    bound: dict[int, forms.Form] | None = None,
    error: str = "",
) -> HttpResponse:
    bound = bound or {}
    page = paginate(request, ps.approvals(request.user))
    decide_forms = {
        a.pk: bound.get(a.pk) or ReviewDecideForm()
        for a in page.object_list
        if not a.decided_by and may_decide(request, a)
    }
    context = {
        "page": page,
        "decide_forms": decide_forms,
        "may_view_files": can(request.user, Perm.VIEW_PAYMENT_FILES),
        "error": error,
    }
    return render(request, "backoffice/approvals.html", context, status=status)


@staff_view()
def approval_list(request: HttpRequest) -> HttpResponse:
    return render_approvals(request)


@staff_view(methods=("POST",))
def approval_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    approval = get_object_or_404(
        Approval.objects.select_related("case", "bank_file").defer("bank_file__content"), pk=pk
    )
    if approval.kind == ApprovalKind.CANCEL_PAYMENT:
        assert approval.case is not None
        case_or_404(request, approval.case.pk)  # another district's request is not found
    if not may_decide(request, approval):
        raise PermissionDenied(f"may not decide approval {approval.pk}")
    form = ReviewDecideForm(request.POST)
    if not form.is_valid():
        return render_approvals(request, status=422, bound={approval.pk: form})
    try:
        approval_decide(
            approval_id=approval.pk,
            actor=actor(request),
            approve=form.approve,
            note=form.cleaned_data["reason"],
        )
    except PAY_REFUSED as exc:
        return render_approvals(request, status=422, bound={approval.pk: form}, error=refusal_text(exc))
    messages.success(request, _("审批结论已记录。"))
    return redirect("backoffice:approvals")


# ---- re-issues -------------------------------------------------------------------------------------------


@staff_view()
def reissue_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, ps.reissues(request.user))
    rows = ps.reissue_rows(list(page.object_list))
    return render(
        request,
        "backoffice/reissues.html",
        {"page": page, "rows": rows, "may_view_files": can(request.user, Perm.VIEW_PAYMENT_FILES)},
    )
