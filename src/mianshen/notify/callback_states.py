"""Call-back (呼我必回) states and the one table of allowed moves (pure; no Django models), beside
``states`` (messages).

::

    new ──► assigned ──► called ──► answered ───┐
              ▲                 └──► unreachable ┴──► closed     (rated 3–5)
              └──────────── reopened: rated 1–2 (from answered | unreachable)

A request is ``new`` for the instant before it is routed (same transaction), ``assigned`` to a district (or the
city level) with a deadline; the officer calls (``called``) and records the outcome with a note; the requester
rates it 1–5 (好差评): 1–2 reopens it for a second call (``assigned`` with a new deadline), 3–5 closes it.
"""

from __future__ import annotations

from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class CallbackState(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    CALLED = "called"
    ANSWERED = "answered"
    UNREACHABLE = "unreachable"
    CLOSED = "closed"


CALLBACK_STATE_LABELS: dict[str, Promise] = {
    "new": _("新请求"),
    "assigned": _("待回电"),
    "called": _("回电中"),
    "answered": _("已答复"),
    "unreachable": _("未能联系"),
    "closed": _("已办结"),
}

C = CallbackState
CALLBACK_TRANSITIONS: dict[CallbackState, frozenset[CallbackState]] = {
    C.NEW: frozenset({C.ASSIGNED}),
    C.ASSIGNED: frozenset({C.CALLED}),
    C.CALLED: frozenset({C.ANSWERED, C.UNREACHABLE}),
    C.ANSWERED: frozenset({C.CLOSED, C.ASSIGNED}),
    C.UNREACHABLE: frozenset({C.CLOSED, C.ASSIGNED}),
    C.CLOSED: frozenset(),
}
OPEN: frozenset[CallbackState] = frozenset({C.NEW, C.ASSIGNED})  # waiting for the call: the clock runs
OUTCOMES: frozenset[CallbackState] = frozenset({C.ANSWERED, C.UNREACHABLE})


def callback_can_move(current: CallbackState, target: CallbackState) -> bool:
    return target in CALLBACK_TRANSITIONS[current]
