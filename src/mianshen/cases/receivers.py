"""How cases react to the apps below them (connected in ``CasesConfig.ready()``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.dispatch import receiver

from mianshen.screening.models import ScreeningRound
from mianshen.screening.signals import round_completed

from .models import Case
from .services import applications_settle_reissued, case_apply_round
from .signals import cases_moved
from .states import State


@receiver(round_completed, dispatch_uid="cases.apply_completed_round")
def apply_completed_round(
    sender: type[ScreeningRound], *, round: ScreeningRound, **kwargs: Any
) -> dict[str, int]:
    """A completed round decides its cases (opens, moves, confirms or freezes them); the counts go into the
    round job's result."""
    applied = case_apply_round(round=round, actor=f"round {round.number}")
    return {
        "cases_opened": applied.opened,
        "cases_moved": applied.moved,
        "cases_unchanged": applied.unchanged,
        "cases_frozen": applied.frozen,
        "cases_amended": applied.amended,
    }


@receiver(cases_moved, dispatch_uid="cases.settle_reissued_applications")
def settle_reissued_applications(
    sender: type[Case], *, moved: Sequence[tuple[Case, str]], actor: str, **kwargs: Any
) -> int:
    """A payment re-issued after a failure (``awaiting_correction → released``: the payment side pays only the
    account on file in a drop imported after the failure) grants the unit's wrong-bank-details application."""
    ids = [c.pk for c, frm in moved if frm == State.AWAITING_CORRECTION and c.state == State.RELEASED]
    return applications_settle_reissued(case_ids=ids, actor=actor) if ids else 0
