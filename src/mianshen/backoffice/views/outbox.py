"""The outbox in the back office (issue 12 item 1: "a dead letter after N tries that shows in the back office"):
messages that failed (dead letters and refusals), are being retried, or were never sent, with their kind,
channel, masked recipient, tries, last error, unit and time; filters by state, kind and channel; counts by state;
a retry of a failed message (``notify.services.message_retry``: the transition, audited, under
``Perm.RETRY_MESSAGE``). District staff see the messages of their district's cases; city-level staff see all
(messages with no case — one-time codes, reminders to officers — are city-level)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from mianshen.notify.kinds import CHANNEL_LABELS, KIND_LABELS
from mianshen.notify.models import Message
from mianshen.notify.selectors import outbox_state_counts, outbox_trouble
from mianshen.notify.services import NotifyError, mask, message_retry
from mianshen.notify.states import STATE_LABELS

from ..roles import Perm, can, staff_of
from ._base import actor, paginate, staff_view

STATE_FILTERS = ("failed", "retrying", "suppressed", "all")


class _InDistrict:
    """A message as ``can_act`` sees it: the district of its case ("" when none: city level)."""

    def __init__(self, district: str) -> None:
        self.district = district


def scoped_messages(user: Any) -> QuerySet[Message]:
    """The messages ``user`` may see: all for city-level staff, their district's cases' for district staff."""
    staff = staff_of(user)
    if staff is None:
        return Message.objects.none()
    if staff.city_level:
        return Message.objects.all()
    return Message.objects.filter(case__district=staff.district)


def may_retry(user: Any) -> bool:
    return can(user, Perm.RETRY_MESSAGE)


@staff_view()
def outbox_page(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "failed")
    state = state if state in STATE_FILTERS else "failed"
    kind, channel = request.GET.get("kind", ""), request.GET.get("channel", "")
    mine = scoped_messages(request.user)
    rows = outbox_trouble(mine, state=state, kind=kind, channel=channel)
    page = paginate(request, rows)
    items = [
        {"m": m, "to": mask(m.to, m.channel), "kind": KIND_LABELS.get(m.kind, m.kind),
         "channel": CHANNEL_LABELS.get(m.channel, m.channel), "state": STATE_LABELS.get(m.state, m.state)}
        for m in page.object_list
    ]  # fmt: skip
    counts = outbox_state_counts(mine)
    context = {
        "page": page, "items": items, "counts": counts, "state": state, "kind": kind, "channel": channel,
        "state_labels": [(s, STATE_LABELS[s]) for s in ("queued", "sent", "delivered", "failed", "suppressed")],
        "kinds": sorted(KIND_LABELS.items()), "channels": sorted(CHANNEL_LABELS.items()),
        "may_retry": may_retry(request.user),
    }  # fmt: skip
    return render(request, "backoffice/outbox.html", context)


@staff_view(methods=("POST",))
def outbox_retry(request: HttpRequest, pk: int) -> HttpResponse:
    msg = get_object_or_404(scoped_messages(request.user), pk=pk)
    if not may_retry(request.user):
        raise PermissionDenied(f"may not {Perm.RETRY_MESSAGE}")
    try:
        message_retry(
            message_id=msg.pk, actor=actor(request), reason=str(request.POST.get("reason", ""))[:200]
        )
    except NotifyError:
        messages.error(request, _("只有发送失败的消息可以重发。"))
    else:
        messages.success(request, _("消息 %(id)s 已重新排队发送。") % {"id": msg.pk})
    back = str(request.POST.get("next", ""))
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("backoffice:outbox")
