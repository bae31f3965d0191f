"""The one way a case changes state (design invariant 2).

``case_transition`` (one case) and ``case_transition_many`` (a round moving thousands at once) are the same
function: lock the rows, check every move against ``states.TRANSITIONS``, write the new state, a history row
with actor and reason, and an audit event, all in one transaction; side effects run after commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record_many
from mianshen.screening.models import ScreeningRound

from .models import Case, CaseHistory
from .states import State, can_move


class TransitionRefused(Exception):
    """A move the transition table does not allow, or a case not in the state the caller expected."""


@dataclass(frozen=True)
class Move:
    case_id: int
    to: State
    reason: str
    expect: frozenset[State] | None = (
        None  # refuse unless the case is in one of these (re-checked under lock)
    )
    changes: dict[str, Any] = field(default_factory=dict)  # other Case fields to set with the move


def case_transition(
    *,
    case_id: int,
    to: State,
    actor: str,
    reason: str,
    expect: frozenset[State] | None = None,
    changes: dict[str, Any] | None = None,
    round: ScreeningRound | None = None,
    on_commit: Callable[[], None] | None = None,
) -> Case:
    """Move one case; raises ``TransitionRefused`` (nothing written) when the move is not allowed."""
    moved = case_transition_many(
        moves=[Move(case_id, to, reason, expect, changes or {})],
        actor=actor,
        round=round,
        on_commit=on_commit,
    )
    return moved[0]


def case_transition_many(
    *,
    moves: Sequence[Move],
    actor: str,
    round: ScreeningRound | None = None,
    on_commit: Callable[[], None] | None = None,
    strict: bool = True,
) -> list[Case]:
    """Move many cases in one transaction. ``strict``: any refused move refuses them all; otherwise refused
    moves are skipped (and returned cases are only those moved)."""
    if not moves:
        return []
    by_id = {m.case_id: m for m in moves}
    with transaction.atomic():
        cases = list(Case.objects.select_for_update().filter(pk__in=by_id).order_by("pk"))
        if len(cases) != len(by_id):
            missing = sorted(set(by_id) - {c.pk for c in cases})
            raise TransitionRefused(f"no such case: {missing[:5]}")
        moved: list[Case] = []
        history: list[CaseHistory] = []
        events: list[dict[str, Any]] = []
        for case in cases:
            move = by_id[case.pk]
            current = State(case.state)
            problem = _refusal(case, current, move)
            if problem:
                if strict:
                    raise TransitionRefused(problem)
                continue
            before = _snapshot(case)
            case.state = move.to.value
            for name, value in move.changes.items():
                setattr(case, name, value)
            if round is not None:
                case.last_round = round
            case.version += 1
            moved.append(case)
            history.append(
                CaseHistory(
                    case=case,
                    from_state=current.value,
                    to_state=move.to.value,
                    actor=actor,
                    reason=move.reason[:500],
                    round=round,
                )
            )
            events.append(
                {
                    "action": Action.CASE_TRANSITION,
                    "obj_type": "case",
                    "obj_id": str(case.pk),
                    "before": before,
                    "after": _snapshot(case),
                    "reason": move.reason,
                }
            )
        if moved:
            fields = ["state", "version", "last_round", *sorted({k for m in moves for k in m.changes})]
            Case.objects.bulk_update(moved, fields, batch_size=2000)
            CaseHistory.objects.bulk_create(history, batch_size=2000)
            audit_record_many(actor=actor, events=events)
        if on_commit is not None:
            transaction.on_commit(on_commit)
    return moved


def _refusal(case: Case, current: State, move: Move) -> str:
    if move.expect is not None and current not in move.expect:
        return f"case {case.pk} is {current.value}, expected one of {sorted(s.value for s in move.expect)}"
    if not can_move(current, move.to):
        return f"case {case.pk}: {current.value} → {move.to.value} is not an allowed move"
    return ""


def _snapshot(case: Case) -> dict[str, Any]:
    return {
        "state": case.state,
        "amount_fen": case.amount_fen,
        "decision": case.decision,
        "reason": case.reason,
        "version": case.version,
    }
