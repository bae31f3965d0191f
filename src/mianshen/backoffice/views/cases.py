"""The case page and what is done to a case: reviews (four eyes), confirmations, the audited data panels, and
for a released case its payment (attempts, corrections, requests; the actions are in ``recovery.py``).

Each action: look the case up in the user's scope (404), check the role (403), parse the form, call one
service; success redirects to the case page, a refusal re-renders it with the error (422).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from mianshen.cases.documents import DocumentRefused
from mianshen.cases.hosts import host_answers_of
from mianshen.cases.models import Application, ApplicationDocument, Case, NoticeEntry, Review
from mianshen.cases.services import (
    CaseError,
    application_document_open,
    confirmation_record,
    mask_credit_code,
    review_decide,
    review_prepare,
)
from mianshen.cases.states import PAYMENT_STATES, State
from mianshen.cases.transitions import TransitionRefused
from mianshen.payments.services.common import PaymentError
from mianshen.payments.services.recovery import application_account_check
from mianshen.reports.letters import letters_available

from .. import payment_selectors, selectors
from ..display import lang_code
from ..forms import (
    ConfirmationForm,
    CorrectionPrepareForm,
    ObjectionDecideForm,
    ObjectionForm,
    PaymentRequestForm,
    ReviewDecideForm,
    ReviewPrepareForm,
)
from ..roles import Perm, allowed_perms, can, can_act
from ..services import case_bank_view, case_contact_view, case_payment_accounts_view
from ._base import actor, case_or_404, is_htmx, refusal_text, require_perm, staff_view

REFUSED = (CaseError, TransitionRefused)


def _is_dispatch_case(case: Case) -> bool:
    """Whether the case's hosts are worth reading: it waits (or waited) for its host employers' confirmation."""
    return (
        case.state == State.AWAITING_CONFIRMATION or case.host_answers.exists() or case.confirmations.exists()
    )


def render_case(
    request: HttpRequest,
    case: Case,
    *,
    status: int = 200,
    bound: dict[str, forms.Form] | None = None,
    error: str = "",
) -> HttpResponse:
    """The case page; ``bound`` replaces the empty form of one action (with its errors), ``error`` a refusal
    from a service."""
    perms = allowed_perms(request.user, case)
    bound = bound or {}
    objections = list(case.objections.select_related("notice").order_by("pk"))
    reviews = list(case.reviews.order_by("pk"))
    open_review = next((r for r in reviews if not r.decided_by), None)
    explain = request.GET.get("explain")
    lang = "en" if explain == "en" else "zh" if explain == "zh" else lang_code()
    forms_: dict[str, Any] = {}
    if Perm.RECORD_OBJECTION in perms and case.state in {State.PUBLICISED, State.OBJECTED}:
        forms_["objection"] = bound.get("objection") or ObjectionForm()
    if Perm.DECIDE_OBJECTION in perms:
        forms_["decide_objection"] = {
            o.pk: bound.get(f"decide_objection_{o.pk}") or ObjectionDecideForm()
            for o in objections
            if not o.outcome
        }
    if Perm.PREPARE_REVIEW in perms and case.state == State.UNDER_REVIEW and open_review is None:
        forms_["prepare_review"] = bound.get("prepare_review") or ReviewPrepareForm()
    if Perm.DECIDE_REVIEW in perms and open_review is not None:
        forms_["decide_review"] = bound.get("decide_review") or ReviewDecideForm()
    if Perm.RECORD_CONFIRMATION in perms and case.state == State.AWAITING_CONFIRMATION:
        forms_["confirmation"] = bound.get("confirmation") or ConfirmationForm()
    pay = payment_selectors.case_payment(case) if case.state in PAYMENT_STATES else None
    if pay is not None:
        _payment_forms(forms_, pay, perms, bound)
    context = {
        "case": case,
        "masked_credit_code": mask_credit_code(case.credit_code),
        "history": case.history.select_related("round").order_by("pk"),
        "explanation": selectors.case_explanation(case, lang),
        "letters": letters_available(case),
        "events": selectors.case_audit_events(case),
        "objections": objections,
        "reviews": reviews,
        "open_review": open_review,
        "applications": case.applications.prefetch_related("documents").order_by("pk"),
        "confirmations": case.confirmations.order_by("pk"),
        "host_answers": host_answers_of(case) if case.unit_id and _is_dispatch_case(case) else [],
        "notice_entries": NoticeEntry.objects.filter(case=case).select_related("notice").order_by("pk"),
        "forms": forms_,
        "may_view_bank": Perm.VIEW_BANK in perms,
        "may_view_contact": Perm.VIEW_CONTACT in perms,
        "may_view_documents": bool({Perm.PREPARE_REVIEW, Perm.DECIDE_REVIEW} & perms),
        "may_check_account": Perm.PREPARE_CORRECTION in perms,
        "pay": pay,
        "may_view_files": can(request.user, Perm.VIEW_PAYMENT_FILES),
        "error": error,
    }
    return render(request, "backoffice/case.html", context, status=status)


def _payment_forms(
    forms_: dict[str, Any],
    pay: payment_selectors.CasePayment,
    perms: frozenset[Perm],
    bound: dict[str, forms.Form],
) -> None:
    """The payment actions the user may take on the case now: enter a correction (maker), decide the open one
    (checker), ask for the payment to be cancelled (decided by another officer on the requests page)."""
    if Perm.PREPARE_CORRECTION in perms and pay.correctable and pay.open_correction is None:
        forms_["prepare_correction"] = bound.get("prepare_correction") or CorrectionPrepareForm()
    if Perm.DECIDE_CORRECTION in perms and pay.open_correction is not None:
        forms_["decide_correction"] = bound.get("decide_correction") or ReviewDecideForm()
    if Perm.REQUEST_CANCEL in perms and pay.cancellable and pay.open_cancel is None:
        forms_["cancel_request"] = bound.get("cancel_request") or PaymentRequestForm()


@staff_view()
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render_case(request, case_or_404(request, pk))


@staff_view()
def case_explanation(request: HttpRequest, pk: int) -> HttpResponse:
    """The explanation alone (htmx swaps it in to change its language); without htmx, the case page."""
    case = case_or_404(request, pk)
    lang = "en" if request.GET.get("lang") == "en" else "zh"
    if not is_htmx(request):
        return redirect(f"{reverse('backoffice:case', args=[case.pk])}?explain={lang}")
    return render(
        request,
        "backoffice/_explanation.html",
        {"case": case, "explanation": selectors.case_explanation(case, lang)},
    )


@staff_view()
def case_bank(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    require_perm(request, case, Perm.VIEW_BANK)
    view = case_bank_view(case=case, user=request.user)
    return render(request, "backoffice/_bank.html", {"case": case, "view": view})


@staff_view()
def case_contact(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    require_perm(request, case, Perm.VIEW_CONTACT)
    view = case_contact_view(case=case, user=request.user)
    return render(request, "backoffice/_contact.html", {"case": case, "view": view})


@staff_view()
def case_payment_accounts(request: HttpRequest, pk: int) -> HttpResponse:
    """The full account numbers of the case's payment attempts and corrections (elsewhere only the last four
    digits are shown): an audited read, like the bank panel."""
    case = case_or_404(request, pk)
    require_perm(request, case, Perm.VIEW_BANK)
    view = case_payment_accounts_view(case=case, user=request.user)
    return render(request, "backoffice/_payment_accounts.html", {"case": case, "view": view})


@staff_view(methods=("POST",))
def review_prepare_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    require_perm(request, case, Perm.PREPARE_REVIEW)
    form = ReviewPrepareForm(request.POST)
    if not form.is_valid():
        return render_case(request, case, status=422, bound={"prepare_review": form})
    try:
        review_prepare(
            case_id=case.pk,
            recommendation=form.cleaned_data["recommendation"],
            notes=form.cleaned_data["notes"],
            actor=actor(request),
        )
    except REFUSED as exc:
        return render_case(request, case, status=422, bound={"prepare_review": form}, error=refusal_text(exc))
    messages.success(request, _("审核意见已提交，等待另一名工作人员复核。"))
    return redirect("backoffice:case", pk=case.pk)


@staff_view(methods=("POST",))
def review_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    review = get_object_or_404(Review, pk=pk)
    case = case_or_404(request, review.case_id)
    require_perm(request, case, Perm.DECIDE_REVIEW)
    form = ReviewDecideForm(request.POST)
    if not form.is_valid():
        return render_case(request, case, status=422, bound={"decide_review": form})
    try:
        review_decide(
            review_id=review.pk,
            approve=form.approve,
            actor=actor(request),
            reason=form.cleaned_data["reason"],
        )
    except REFUSED as exc:
        return render_case(request, case, status=422, bound={"decide_review": form}, error=refusal_text(exc))
    messages.success(request, _("复核结论已记录。"))
    return redirect("backoffice:case", pk=case.pk)


@staff_view(methods=("POST",))
def confirmation_record_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = case_or_404(request, pk)
    require_perm(request, case, Perm.RECORD_CONFIRMATION)
    form = ConfirmationForm(request.POST)
    if not form.is_valid():
        return render_case(request, case, status=422, bound={"confirmation": form})
    try:
        confirmation_record(
            case_id=case.pk,
            confirmed_on=form.cleaned_data["confirmed_on"],
            evidence=form.cleaned_data["evidence"],
            actor=actor(request),
        )
    except REFUSED as exc:
        return render_case(request, case, status=422, bound={"confirmation": form}, error=refusal_text(exc))
    messages.success(request, _("用工单位确认已记录。"))
    return redirect("backoffice:case", pk=case.pk)


@staff_view()
def application_document(request: HttpRequest, pk: int) -> HttpResponse:
    """A document of an application, for an officer who reviews the case (audited); another district's: 404."""
    doc = get_object_or_404(ApplicationDocument.objects.select_related("application"), pk=pk)
    case = case_or_404(request, doc.application.case_id)
    if not can_act(request.user, case, Perm.PREPARE_REVIEW) and not can_act(
        request.user, case, Perm.DECIDE_REVIEW
    ):
        raise PermissionDenied(f"may not read the documents of case {case.pk}")
    try:
        doc, data = application_document_open(document_id=doc.pk, actor=actor(request))
    except DocumentRefused as exc:
        raise Http404(refusal_text(exc)) from None
    response = HttpResponse(data, content_type=doc.content_type)
    response["Content-Disposition"] = f'attachment; filename="document-{doc.pk}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@staff_view(methods=("POST",))
def application_account_check_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Compare a wrong-bank-details application's account with the account on file in the next drop."""
    app = get_object_or_404(Application, pk=pk)
    case = case_or_404(request, app.case_id)
    require_perm(request, case, Perm.PREPARE_CORRECTION)
    try:
        result = application_account_check(application_id=app.pk, actor=actor(request))
    except PaymentError as exc:
        return render_case(request, case, status=422, error=refusal_text(exc))
    if result.matches:
        messages.success(
            request,
            _(
                "单位所填账户与数据快照 %(snapshot)s 中的社保在用账户一致：可按在用账户更正并重新拨付（双人复核）。"
            )
            % {"snapshot": result.snapshot_id},
        )
    else:
        messages.error(request, result.why)
    return redirect("backoffice:case", pk=case.pk)
