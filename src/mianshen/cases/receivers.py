"""How cases react to the apps below them (connected in ``CasesConfig.ready()``)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from mianshen.screening.models import ScreeningRound
from mianshen.screening.signals import round_completed

from .services import case_apply_round


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
