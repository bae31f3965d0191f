"""Enquiries by channel (issue 12 item 5) in the back office: staff record a phone consultation (topic, the
unit's credit code if the caller gave it, answered or forwarded) through ``notify.enquiries``; the recent
enquiries of every channel below, district-scoped like the other pages."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from mianshen.notify.enquiries import EnquiryError, enquiries_recent, enquiry_phone_record
from mianshen.notify.models import Enquiry, EnquiryChannel, EnquiryOutcome

from ..roles import Perm, can, scope
from ._base import actor, paginate, staff, staff_view

OUTCOMES = (EnquiryOutcome.ANSWERED, EnquiryOutcome.FORWARDED)


@staff_view(methods=("GET", "POST"))
def enquiries_page(request: HttpRequest) -> HttpResponse:
    may_record = can(request.user, Perm.RECORD_ENQUIRY)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"topic": "", "credit_code": "", "outcome": ""}
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied(f"may not {Perm.RECORD_ENQUIRY}")
        values = {k: str(request.POST.get(k, ""))[:300] for k in values}
        try:
            enquiry = enquiry_phone_record(
                topic=values["topic"], outcome=values["outcome"], credit_code=values["credit_code"],
                actor=actor(request), district=staff(request).district or "",
            )  # fmt: skip
        except EnquiryError as exc:
            errors[exc.field or "topic"] = str(exc)
        else:
            messages.success(request, _("电话咨询已记录（%(id)s）。") % {"id": enquiry.pk})
            return redirect("backoffice:enquiries")
    channel = request.GET.get("channel", "")
    rows = enquiries_recent(scope(Enquiry.objects.all(), request.user), channel=channel)
    page = paginate(request, rows)
    context = {
        "page": page, "may_record": may_record, "errors": errors, "values": values, "channel": channel,
        "channels": EnquiryChannel.choices, "outcomes": [(o.value, o.label) for o in OUTCOMES],
        "outcome_labels": dict(EnquiryOutcome.choices), "channel_labels": dict(EnquiryChannel.choices),
    }  # fmt: skip
    return render(request, "backoffice/enquiries.html", context, status=422 if errors else 200)
