"""Payments, city level: the overview, bank files (list, detail, audited download, re-issue request), the bank
answers received (and processing a quarantined one again), and reconciliation to the fen.

A bank file holds the accounts of every district's units, so everything here but the overview needs the
city-level ``VIEW_PAYMENT_FILES`` (403 for district staff); the overview shows district staff their district's
payment states and the links to its failures, corrections, requests and re-issues. Actions follow the case
page: one form, one service; success redirects, a refusal re-renders the page with the error (422).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.db.models.functions import Length
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from mianshen.payments.lifecycle import Bucket
from mianshen.payments.models import ApprovalKind, BankFile, InboundFile, InboundStatus, ReconcileRun
from mianshen.payments.selectors import payment_counts
from mianshen.payments.services.approvals import approval_request
from mianshen.payments.services.common import PaymentError
from mianshen.payments.services.ingest import inbound_file_reprocess
from mianshen.payments.services.reconcile import (
    ReconcileReport,
    reconcile_latest,
    reconcile_pending,
    reconcile_request,
)

from .. import payment_selectors as ps
from ..exports import export_response, wanted
from ..forms import BankFileFilterForm, PaymentRequestForm
from ..roles import Perm, can
from ..services import bank_file_download
from ._base import actor, paginate, refusal_text, staff, staff_view


def _stored(run: ReconcileRun, bucket: str) -> tuple[int, int]:
    """(cases, fen) of a bucket in a recorded reconciliation."""
    got = run.buckets.get(bucket, {})
    return int(got.get("cases", 0)), int(got.get("fen", 0))


def _buckets(report: ReconcileReport) -> list[tuple[str, int, int]]:
    """(bucket, cases, fen) in the order of the money identity."""
    return [(b.value, report.buckets_count[b.value], report.buckets_fen[b.value]) for b in Bucket]


@staff_view()
def payments_overview(request: HttpRequest) -> HttpResponse:
    city = can(request.user, Perm.VIEW_PAYMENT_FILES)
    fmt = wanted(request)
    if fmt is not None:  # the payment states of the user's districts
        totals = [[t.state, t.cases, t.amount_fen] for t in ps.payment_state_totals(request.user)]
        return export_response(request, fmt=fmt, name="payments", columns=("state", "cases", "amount_fen"),
                               rows=iter(totals), count=len(totals))  # fmt: skip
    context: dict[str, Any] = {
        "me": staff(request),
        "city": city,
        "totals": ps.payment_state_totals(request.user),
        "open": ps.open_counts(request.user),
    }
    if city:
        # the latest recorded check (mianshen reconcile, the disbursement cycle): recomputing the identity over
        # every case is the reconciliation page's job, not the overview's
        checked = reconcile_latest()
        latest = checked.run if checked else None
        context.update(
            counts=payment_counts(),
            latest=latest,
            latest_current=checked is not None and checked.current,
            buckets=[(b.value, *_stored(latest, b.value)) for b in Bucket] if latest else [],
            batches=paginate(request, ps.batches(), per_page=20),
        )
    return render(request, "backoffice/payments.html", context)


# ---- bank files ------------------------------------------------------------------------------------------


@staff_view(perm=Perm.VIEW_PAYMENT_FILES)
def bank_file_list(request: HttpRequest) -> HttpResponse:
    form = BankFileFilterForm(request.GET or None)
    page = paginate(request, ps.bank_files(form.filter()))
    return render(request, "backoffice/bank_files.html", {"form": form, "page": page})


def _bank_file_or_404(msg_id: str) -> BankFile:
    """The file without its bytes (up to tens of megabytes), with their size."""
    files = BankFile.objects.select_related("bank").defer("content").annotate(size=Length("content"))
    return get_object_or_404(files, msg_id=msg_id)


def render_bank_file(
    request: HttpRequest,
    bf: BankFile,
    *,
    status: int = 200,
    bound: forms.Form | None = None,
    error: str = "",
) -> HttpResponse:
    waiting = ps.bank_file_reissue_waiting(bf)
    approvals = list(bf.approvals.order_by("pk"))
    open_reissue = any(not a.decided_by and a.kind == ApprovalKind.REISSUE_FILE for a in approvals)
    reissue_form = None
    if can(request.user, Perm.REQUEST_REISSUE) and waiting and not open_reissue:
        reissue_form = bound or PaymentRequestForm()
    instructions = bf.instructions.select_related("case", "reissue").order_by("pk")
    context = {
        "bf": bf,
        "by_status": dict(bf.instructions.order_by().values_list("status").annotate(n=Count("id"))),
        "page": paginate(request, instructions),
        "inbound": ps.bank_file_inbound(bf),
        "holds": ps.bank_file_holds(bf).select_related("case", "instruction"),
        "approvals": approvals,
        "open_reissue": open_reissue,
        "waiting": waiting,
        "reissue_form": reissue_form,
        "may_download": can(request.user, Perm.DOWNLOAD_BANK_FILE),
        "error": error,
    }
    return render(request, "backoffice/bank_file.html", context, status=status)


@staff_view(perm=Perm.VIEW_PAYMENT_FILES)
def bank_file_detail(request: HttpRequest, msg_id: str) -> HttpResponse:
    return render_bank_file(request, _bank_file_or_404(msg_id))


@staff_view(perm=Perm.DOWNLOAD_BANK_FILE)
def bank_file_download_view(request: HttpRequest, msg_id: str) -> HttpResponse:
    """The frozen bytes exactly as handed to the bank (the same SHA-256), after the audit event."""
    bf = get_object_or_404(BankFile.objects.defer("content"), msg_id=msg_id)
    data = bank_file_download(bank_file=bf, user=request.user)
    response = HttpResponse(data, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{bf.file_name}"'
    return response


@staff_view(methods=("POST",), perm=Perm.REQUEST_REISSUE)
def bank_file_reissue_request_view(request: HttpRequest, msg_id: str) -> HttpResponse:
    bf = _bank_file_or_404(msg_id)
    form = PaymentRequestForm(request.POST)
    if not form.is_valid():
        return render_bank_file(request, bf, status=422, bound=form)
    try:
        approval_request(
            kind=ApprovalKind.REISSUE_FILE,
            actor=actor(request),
            reason=form.cleaned_data["reason"],
            msg_id=bf.msg_id,
        )
    except PaymentError as exc:
        return render_bank_file(request, bf, status=422, bound=form, error=refusal_text(exc))
    messages.success(request, _("重发申请已提交，等待另一名工作人员审批。"))
    return redirect("backoffice:bank_file", msg_id=bf.msg_id)


# ---- reconciliation --------------------------------------------------------------------------------------


@staff_view(perm=Perm.VIEW_PAYMENT_FILES)
def reconciliation(request: HttpRequest) -> HttpResponse:
    """The latest recorded check of the money identity (``mianshen reconcile``, the disbursement cycle, or the
    "recompute" job queued here), with its age and whether money has moved since: checking reads every payment
    (seconds at Beijing's size), so the page never recomputes it."""
    latest = reconcile_latest()
    fmt = wanted(request)
    if fmt is not None:  # the identity's table: the bucket, its cases and fen (and the approved total first)
        if latest is None:
            return _no_check(request)
        report = latest.report
        rows: list[list[Any]] = [["approved", report.cases, report.approved_fen], *(list(b) for b in _buckets(report)),
                ["difference", None, report.difference_fen]]  # fmt: skip
        return export_response(request, fmt=fmt, name="reconciliation", columns=("bucket", "cases", "fen"),
                               rows=iter(rows), count=len(rows))  # fmt: skip
    # auditors read only: no "recompute" for them (a POST by a read-only role is refused)
    may_recompute = not staff(request).read_only
    context: dict[str, Any] = {
        "latest": latest,
        "pending": reconcile_pending(),
        "may_recompute": may_recompute,
    }
    if latest is not None:
        context.update(report=latest.report, buckets=_buckets(latest.report), days=latest.report.days)
    return render(request, "backoffice/reconciliation.html", context)


def _no_check(request: HttpRequest) -> HttpResponse:
    messages.error(request, _("尚无对账记录：请先重新对账。"))
    return redirect("backoffice:reconciliation")


@staff_view(methods=("POST",), perm=Perm.VIEW_PAYMENT_FILES)
def reconciliation_recompute(request: HttpRequest) -> HttpResponse:
    """Queue a check (the worker runs it and records the result); once per money mark."""
    job = reconcile_request(actor=actor(request))
    messages.success(request, _("已排队重新对账（任务 %(job)s），完成后本页显示新结果。") % {"job": job.pk})
    return redirect("backoffice:reconciliation")


# ---- inbound bank answers --------------------------------------------------------------------------------


def render_inbound(request: HttpRequest, *, status: int = 200, error: str = "") -> HttpResponse:
    page = paginate(request, ps.inbound_files())
    referred = {f.original_msg_id for f in page.object_list if f.original_msg_id}
    ours = set(BankFile.objects.filter(msg_id__in=referred).values_list("msg_id", flat=True))
    context = {
        "page": page,
        "ours": ours,
        "quarantined": InboundFile.objects.filter(status=InboundStatus.QUARANTINED).count(),
        "may_reprocess": can(request.user, Perm.REPROCESS_INBOUND),
        "error": error,
    }
    return render(request, "backoffice/inbound_files.html", context, status=status)


@staff_view(perm=Perm.VIEW_PAYMENT_FILES)
def inbound_file_list(request: HttpRequest) -> HttpResponse:
    return render_inbound(request)


@staff_view(methods=("POST",), perm=Perm.REPROCESS_INBOUND)
def inbound_reprocess_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Process a quarantined answer again: applied (302), or still quarantined with its new reason (422)."""
    inbound = get_object_or_404(InboundFile.objects.defer("content"), pk=pk)
    try:
        result = inbound_file_reprocess(inbound_id=inbound.pk, actor=actor(request))
    except PaymentError as exc:
        return render_inbound(request, status=422, error=refusal_text(exc))
    if result.quarantined:
        error = _("文件 %(name)s 仍被隔离：%(reason)s") % {"name": inbound.name, "reason": result.reason}
        return render_inbound(request, status=422, error=error)
    messages.success(request, _("文件 %(name)s 已重新处理并应用。") % {"name": inbound.name})
    return redirect("backoffice:inbound_files")
