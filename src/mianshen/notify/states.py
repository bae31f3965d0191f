"""Message states and the one table of allowed moves (pure; no Django), beside ``cases.states`` and
``payments.states``.

A message is queued in the transaction of the event that causes it, then delivered after commit::

    queued ──► sent ──► delivered          (the provider's receipt, or at once for a file / the inbox)
      │  ▲       └────► failed             (the provider's receipt says it failed)
      │  └ queued (an attempt: attempts + 1, the next attempt's time, the last error)
      ├──► delivered | failed              (a receipt for a message whose "accepted" we never recorded)
      ├──► failed                          (dead letter: N attempts, or the provider refused it for good)
      └──► suppressed                      (never sent: a sending limit, no address, quiet for good)

``sent ──► sent`` is the one move that only closes a message: no receipt came within ``RECEIPT_WAIT`` (72 h),
so the message is final as ``sent`` (``closed_at`` set) and later receipts change nothing.
``queued ──► queued`` records an attempt (or a deferral for quiet hours). ``failed ──► queued`` is a retry a
person asks for in the back office (``RETRY``; never taken by delivery or receipts). Everything else is refused.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class MessageState(StrEnum):
    QUEUED = "queued"  # 待发送: in the outbox, due at ``next_attempt_at``
    SENT = "sent"  # 已发送: the provider accepted it (its id kept); a receipt may follow
    DELIVERED = (
        "delivered"  # 已送达: the provider's receipt says delivered (or written to a file / the inbox)
    )
    FAILED = "failed"  # 发送失败: refused for good, the receipt says failed, or N attempts (dead letter)
    SUPPRESSED = "suppressed"  # 未发送: a sending limit, or no address to send to


STATE_LABELS: dict[str, Promise] = {
    "queued": _("待发送"),
    "sent": _("已发送"),
    "delivered": _("已送达"),
    "failed": _("发送失败"),
    "suppressed": _("未发送"),
}

M = MessageState

TRANSITIONS: dict[MessageState, frozenset[MessageState]] = {
    M.QUEUED: frozenset({M.QUEUED, M.SENT, M.DELIVERED, M.FAILED, M.SUPPRESSED}),
    M.SENT: frozenset({M.SENT, M.DELIVERED, M.FAILED}),
    M.DELIVERED: frozenset(),
    M.FAILED: frozenset(),
    M.SUPPRESSED: frozenset(),
}

FINAL: frozenset[MessageState] = frozenset({M.DELIVERED, M.FAILED, M.SUPPRESSED})
# The one way out of a final state, and only when a person asks for it (``services.message_retry``, the back
# office's outbox page): a failed message back in the queue. Delivery and receipts never take it.
RETRY: frozenset[tuple[MessageState, MessageState]] = frozenset({(M.FAILED, M.QUEUED)})
RECEIPT_WAIT = timedelta(hours=72)  # a ``sent`` message with no receipt after this is final (contracts §4)


def can_move(current: MessageState, target: MessageState, *, closed: bool = False) -> bool:
    """Whether ``current → target`` is allowed; a ``sent`` message that is ``closed`` (final without a
    receipt) moves no more."""
    if closed:
        return False
    return target in TRANSITIONS[current]
