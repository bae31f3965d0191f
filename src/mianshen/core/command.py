"""The base of every `mianshen` command: domain errors become one line on stderr and an exit status."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class UserError(Exception):
    """Bad input from the user: printed as one line, exit ``returncode`` (default 2)."""

    def __init__(self, message: str, returncode: int = 2) -> None:
        super().__init__(message)
        self.returncode = returncode


class MianshenCommand(BaseCommand):
    """Commands raise ``UserError`` (or a domain error listed in ``user_errors``) for bad input."""

    requires_system_checks: list[str] = []
    user_errors: tuple[type[Exception], ...] = ()

    def execute(self, *args: Any, **options: Any) -> Any:
        from mianshen.datadrop.drop import DropUnusable

        try:
            return super().execute(*args, **options)
        except UserError as exc:
            raise CommandError(str(exc), returncode=exc.returncode) from exc
        except (DropUnusable, *self.user_errors) as exc:
            raise CommandError(str(exc), returncode=2) from exc

    def run_from_argv(self, argv: list[str]) -> None:
        try:
            super().run_from_argv(argv)
        except CommandError as exc:  # only reached with --traceback
            raise exc
        except KeyboardInterrupt:
            sys.stderr.write("mianshen: interrupted; nothing was committed by the interrupted step\n")
            sys.exit(130)
