"""Rich progress for long commands (to stderr, so stdout stays clean for data and summaries)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

stderr_console = Console(stderr=True)


class Bar(Protocol):
    def advance(self, n: int) -> None: ...


@contextmanager
def progress_bar(description: str, total: int | None, *, enabled: bool = True) -> Iterator[Bar | None]:
    """A progress bar with one task; yields an object whose ``advance(n)`` moves it, or None when disabled."""
    if not enabled:
        yield None
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console,
        transient=False,
    )
    with progress:
        task = progress.add_task(description, total=total)

        class _Bar:
            def advance(self, n: int) -> None:
                progress.advance(task, n)

        yield _Bar()
