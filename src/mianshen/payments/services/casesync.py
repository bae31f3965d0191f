"""The case's state after ``released`` mirrors where its approved amount is (payments.md, the money identity):

    in flight → ``released``   settled → ``paid``   failed / no usable account → ``awaiting_correction``
    cancelled → ``payment_cancelled``

``case_states_sync`` moves the cases whose payment changed bucket, through the cases app's one transition
function (history row + audit event per case), in the caller's transaction — the one that moved the money's
state — so a case never says ``paid`` while its payment is not, nor the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from mianshen.cases.states import PAYMENT_STATES, State
from mianshen.cases.transitions import Move, case_transition_many
from mianshen.core.bulkdb import one_parameter

from ..case_states import CASE_STATE
from ..lifecycle import InstructionStatus, bucket
from ..models import Payment
from .common import is_postgres

REASON: dict[State, str] = {
    State.RELEASED: "payment in flight (re-issued)",
    State.PAID: "the bank booked the payment",
    State.AWAITING_CORRECTION: "payment failed or no usable account: awaiting a correction",
    State.PAYMENT_CANCELLED: "payment cancelled (four eyes)",
}


def case_states_sync(*, case_ids: Iterable[int], actor: str) -> int:
    """Move each of these released cases to the state of its payment's bucket; returns how many moved."""
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    moves = [
        Move(case_id, target, REASON[target], expect=PAYMENT_STATES)
        for case_id, state, target in _targets(ids)
        if state != target.value
    ]
    # not strict: a case whose state does not allow the move stays where it is and shows up in reconcile
    return len(case_transition_many(moves=moves, actor=actor, strict=False))


def _targets(ids: list[int]) -> list[tuple[int, str, State]]:
    if is_postgres():  # one array parameter instead of thousands of placeholders
        sql = (
            "SELECT p.case_id, c.state, i.status, p.cancelled_at IS NOT NULL FROM payments_payment p "
            "JOIN cases_case c ON c.id = p.case_id LEFT JOIN payments_instruction i ON i.id = p.current_id "
            "WHERE p.case_id = ANY(%s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [ids])
            rows = cursor.fetchall()
    else:  # the ids as one parameter (json_each), however many
        rows = list(
            Payment.objects.filter(case_id__in=one_parameter(ids)).values_list(
                "case_id", "case__state", "current__status", "cancelled_at"
            )
        )
    out = []
    for case_id, state, status, cancelled in rows:
        place = bucket(current=InstructionStatus(status) if status else None, cancelled=bool(cancelled))
        out.append((case_id, state, CASE_STATE[place]))
    return out
