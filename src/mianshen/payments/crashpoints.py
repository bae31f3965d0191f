"""Named crash points in the disbursement worker, for the crash tests (a test hook, off in production).

Services call :func:`maybe_crash` at each named point. Nothing happens unless a test armed the point with
:func:`crash_at` (in process: :class:`Crash` is raised, like a kill — it is a ``BaseException`` so no
``except Exception`` in the worker or the job runner swallows it, and an open transaction rolls back), or the
environment asks for it at call time: ``MIANSHEN_CRASH_AT=after_freeze:2`` crashes on the second time
``after_freeze`` is reached, and ``MIANSHEN_CRASH_MODE=exit`` makes that a real ``os._exit(86)`` of the process.
``MIANSHEN_CRASH_MODE=pause:PATH`` stops there instead, to let a test act while this process stands at the point
(another upload while this one is half-way): it creates ``PATH.paused``, waits until ``PATH`` exists and goes on
(after :data:`PAUSE_LIMIT` seconds without it, it crashes rather than hang).

The points, in the order one payment meets them:

=========================  =====================================================================
``after_instruction_insert``  instructions inserted, case hand-over not yet committed
``after_select``              instructions for a file selected under lock
``after_render``              pain.001 rendered and validated, not yet stored
``after_freeze``              file frozen and committed, not yet handed over
``before_upload``             upload intent committed, nothing sent
``during_upload``             part of the bytes written to the bank's temp file
``after_upload``              bytes in the bank's inbox, hand-over not yet recorded
``during_ingest``             a bank file half applied (inside its transaction)
``after_ingest``              a bank file applied and committed
``after_reissue``             a re-issue written, not yet committed
``after_silence``             "no answer" recorded, retry not yet sent
=========================  =====================================================================
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POINTS: tuple[str, ...] = (
    "after_instruction_insert",
    "after_select",
    "after_render",
    "after_freeze",
    "before_upload",
    "during_upload",
    "after_upload",
    "during_ingest",
    "after_ingest",
    "after_reissue",
    "after_silence",
)
EXIT_STATUS = 86
PAUSE_LIMIT = 120.0
ENV_AT = "MIANSHEN_CRASH_AT"
ENV_MODE = "MIANSHEN_CRASH_MODE"


class Crash(BaseException):
    """A simulated kill of the worker at a named point."""

    def __init__(self, point: str) -> None:
        super().__init__(f"simulated crash at {point}")
        self.point = point


# point -> remaining hits before the crash (1 = the next time it is reached)
_armed: dict[str, int] = {}
_hits: dict[str, int] = {}


def maybe_crash(point: str) -> None:
    """Crash here if a test armed ``point`` (or ``$MIANSHEN_CRASH_AT`` names it); otherwise do nothing."""
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}")
    _hits[point] = _hits.get(point, 0) + 1
    if _armed:
        left = _armed.get(point)
        if left is not None:
            if left <= 1:
                del _armed[point]
                raise Crash(point)
            _armed[point] = left - 1
    configured = os.environ.get(ENV_AT, "")
    if configured:
        name, _, nth = configured.partition(":")
        if name == point and _hits[point] == int(nth or "1"):
            mode = os.environ.get(ENV_MODE, "")
            if mode == "exit":
                os._exit(EXIT_STATUS)
            if mode.startswith("pause:") and _paused(Path(mode.removeprefix("pause:"))):
                return
            raise Crash(point)


def _paused(release: Path) -> bool:
    """Stand still until ``release`` exists (announced by ``<release>.paused``); False after the limit."""
    Path(f"{release}.paused").touch()
    deadline = time.monotonic() + PAUSE_LIMIT
    while not release.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextmanager
def crash_at(point: str, *, hit: int = 1) -> Iterator[None]:
    """Arm ``point`` to crash on its ``hit``-th visit while the block runs (disarmed on exit)."""
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}")
    _armed[point] = hit
    try:
        yield
    finally:
        _armed.pop(point, None)


def reset() -> None:
    """Forget armed points and visit counts (between seeded runs)."""
    _armed.clear()
    _hits.clear()


def hits() -> dict[str, int]:
    """How often each point was reached since the last :func:`reset` (to check a run met its point)."""
    return dict(_hits)
