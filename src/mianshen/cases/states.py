"""Case states and the one table of allowed moves (pure; no Django).

A case is one unit in one policy (one payment year). Its state says where the refund stands:

    identified ──► rechecked ──► publicised ──► approved ──► released ──► paid
        ▲  │           │            │  ▲                        │  ▲         │ (returned)
        │  ▼           ▼            ▼  │                        ▼  │ re-issue ▼
    awaiting_confirmation      objected               awaiting_correction ◄──┘
    awaiting_application ─► under_review                        │
                     any of these ──► excluded (with a reason)  └─► payment_cancelled (four eyes)
                                      ──► back in by a later round

From ``released`` on the payment side owns the case: its state mirrors where the approved amount is
(payments.lifecycle.Bucket, the money identity of payments.md): in flight (``released``), settled (``paid``),
failed or without a usable account (``awaiting_correction``), cancelled (``payment_cancelled``). The payment
services move it through ``payments.services.casesync``, in the transaction that moved the money's state.

``TRANSITIONS`` is the whole truth: the transition service refuses anything not listed here. Staying in a state
while the amount or decision changes (an amendment, ``AMENDABLE``) goes through the same service, with the same
history row and audit event.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    IDENTIFIED = "identified"  # 已识别: eligible in the latest round
    AWAITING_CONFIRMATION = (
        "awaiting_confirmation"  # 待用工单位确认: dispatch firm, host employers to confirm
    )
    AWAITING_APPLICATION = "awaiting_application"  # 待申请: key supervision, the unit must apply
    UNDER_REVIEW = "under_review"  # 人工审核中: manual review, four eyes
    RECHECKED = "rechecked"  # 已复核: still eligible at the comparison before publicity
    PUBLICISED = "publicised"  # 公示中: on a public notice
    OBJECTED = "objected"  # 有异议: an objection awaits a decision
    APPROVED = "approved"  # 已核准: passed the comparison right before payment
    EXCLUDED = "excluded"  # 不予返还: with a reason
    RELEASED = "released"  # 拨付中: handed to payments, money in flight
    PAID = "paid"  # 已拨付: the bank booked the debit (camt.054)
    AWAITING_CORRECTION = (
        "awaiting_correction"  # 拨付未成功，待更正: rejected, returned, or no usable account
    )
    PAYMENT_CANCELLED = (
        "payment_cancelled"  # 已撤销拨付: cancelled by two officers; the money stays in the fund
    )


S = State

TRANSITIONS: dict[State, frozenset[State]] = {
    S.IDENTIFIED: frozenset(
        {S.RECHECKED, S.AWAITING_CONFIRMATION, S.AWAITING_APPLICATION, S.UNDER_REVIEW, S.EXCLUDED}
    ),
    S.AWAITING_CONFIRMATION: frozenset(
        {S.IDENTIFIED, S.RECHECKED, S.AWAITING_APPLICATION, S.UNDER_REVIEW, S.EXCLUDED}
    ),
    S.AWAITING_APPLICATION: frozenset({S.UNDER_REVIEW, S.EXCLUDED}),
    S.UNDER_REVIEW: frozenset({S.IDENTIFIED, S.RECHECKED, S.EXCLUDED, S.AWAITING_CONFIRMATION}),
    S.RECHECKED: frozenset(
        {
            S.PUBLICISED,
            S.IDENTIFIED,
            S.AWAITING_CONFIRMATION,
            S.AWAITING_APPLICATION,
            S.UNDER_REVIEW,
            S.EXCLUDED,
        }
    ),
    S.PUBLICISED: frozenset({S.OBJECTED, S.APPROVED, S.EXCLUDED, S.UNDER_REVIEW, S.AWAITING_APPLICATION}),
    S.OBJECTED: frozenset({S.PUBLICISED, S.EXCLUDED}),
    S.APPROVED: frozenset({S.RELEASED, S.EXCLUDED}),
    S.EXCLUDED: frozenset(
        {S.IDENTIFIED, S.RECHECKED, S.AWAITING_CONFIRMATION, S.AWAITING_APPLICATION, S.UNDER_REVIEW}
    ),
    # the payment side owns the case from here (payments.services.casesync)
    S.RELEASED: frozenset({S.PAID, S.AWAITING_CORRECTION, S.PAYMENT_CANCELLED}),
    S.PAID: frozenset({S.AWAITING_CORRECTION}),  # a settled payment returned by the bank
    S.AWAITING_CORRECTION: frozenset({S.RELEASED, S.PAYMENT_CANCELLED}),  # re-issued, or cancelled
    S.PAYMENT_CANCELLED: frozenset(),
}
# The states of a case the payment side holds (its money is in exactly one place: payments.md).
PAYMENT_STATES: frozenset[State] = frozenset({S.RELEASED, S.PAID, S.AWAITING_CORRECTION, S.PAYMENT_CANCELLED})

# Where a round's decision sends a case (see cases.services.case_apply_round).
DECISION_STATE: dict[str, State] = {
    "eligible": S.IDENTIFIED,
    "pending_confirmation": S.AWAITING_CONFIRMATION,
    "manual_review": S.UNDER_REVIEW,
    "ineligible": S.EXCLUDED,
}

# States a round may not touch: the case is in a human's hands or past the last checkpoint.
ROUND_FROZEN: frozenset[State] = frozenset({S.OBJECTED}) | PAYMENT_STATES

# States whose amount and decision may still change without a move (an amendment: a later round decides the same
# state with another amount): those a round may touch; never once the payment side holds the case, whose approved
# amount is the payment's.
AMENDABLE: frozenset[State] = frozenset(State) - ROUND_FROZEN


def can_amend(current: State) -> bool:
    """Whether a case in ``current`` may have its amount and decision amended in place (a later round's
    figures, the state unchanged): only while a round may still touch it."""
    return current in AMENDABLE


def can_move(current: State | None, target: State) -> bool:
    """Whether ``current → target`` is allowed (``None``: a case being opened, which may start anywhere
    a round decision can send it)."""
    if current is None:
        return target in set(DECISION_STATE.values()) | {S.AWAITING_APPLICATION}
    return target in TRANSITIONS[current]
