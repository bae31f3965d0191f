"""The base of every `mianshen` command: domain errors become one line on stderr and an exit status."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError


def iso_date(text: str) -> date:
    """An argparse ``type`` for ``YYYY-MM-DD`` options: a bad date is argparse's one-line usage error."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from exc


class UserError(Exception):
    """Bad input from the user: printed as one line, exit ``returncode`` (default 2)."""

    def __init__(self, message: str, returncode: int = 2) -> None:
        super().__init__(message)
        self.returncode = returncode


class MianshenCommand(BaseCommand):
    """Commands raise ``UserError`` (or a domain error listed in ``user_errors``, e.g. a data drop that cannot
    be used) for bad input. Who acts (``--actor``) is checked by ``mianshen.staff.actors``."""

    requires_system_checks: list[str] = []
    user_errors: tuple[type[Exception], ...] = ()

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except UserError as exc:
            raise CommandError(str(exc), returncode=exc.returncode) from exc
        except self.user_errors as exc:
            raise CommandError(str(exc), returncode=2) from exc

    def run_from_argv(self, argv: list[str]) -> None:
        """As Django's, but an error reads ``mianshen <command>: <what is wrong>`` (one line, no class name)."""
        from django.core.management.base import handle_default_options
        from django.db import connections

        self._called_from_command_line = True
        parser = self.create_parser(argv[0], argv[1])
        options = parser.parse_args(argv[2:])
        cmd_options = vars(options)
        args = cmd_options.pop("args", ())
        handle_default_options(options)
        try:
            self.execute(*args, **cmd_options)
        except CommandError as exc:
            if options.traceback:
                raise
            self.stderr.write(f"mianshen {argv[1]}: {exc}")
            sys.exit(exc.returncode)
        except KeyboardInterrupt:
            self.stderr.write(f"mianshen {argv[1]}: interrupted; the interrupted step committed nothing")
            sys.exit(130)
        finally:
            connections.close_all()
