"""The staff page (city administrators): every staff account with its role, district and second factor, the
accounts locked after failed sign-ins, and lifting a lock."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from mianshen.staff.signin import locked_accounts, sign_in_unlock

from ..forms import UnlockForm
from ..roles import Perm, Staff
from ._base import actor, staff_view


@staff_view(perm=Perm.MANAGE_STAFF)
def staff_accounts(request: HttpRequest) -> HttpResponse:
    enrolled = set(TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True))
    members = Staff.objects.select_related("user").order_by("user__username")
    return render(
        request,
        "backoffice/staff_accounts.html",
        {
            "locked": list(locked_accounts()),
            "members": [(m, m.user_id in enrolled) for m in members],
        },
    )


@staff_view(methods=("POST",), perm=Perm.MANAGE_STAFF)
def staff_unlock_view(request: HttpRequest) -> HttpResponse:
    form = UnlockForm(request.POST)
    if form.is_valid() and sign_in_unlock(
        name=form.cleaned_data["name"], actor=actor(request), actor_id=request.user.pk
    ):
        messages.success(request, _("已解除锁定：%(name)s") % {"name": form.cleaned_data["name"]})
    else:
        messages.error(request, _("该账户未被锁定。"))
    return redirect("backoffice:staff_accounts")
