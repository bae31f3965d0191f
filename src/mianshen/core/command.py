"""The base of every `mianshen` command: domain errors become one line on stderr and an exit status."""

from __future__ import annotations

import argparse
import getpass
import sys
import unicodedata
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


def system_actor() -> str:
    """Who a command acts as when no ``--actor`` is given: ``cli:<OS user>`` (a machine step, not a person's
    decision)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container)
        return "cli:unknown"


def staff_actor(text: str, *, perm: str | None = None) -> str:
    """The user name an ``--actor`` names, normalised as Django normalises user names (NFKC; surrounding blanks
    removed; case kept, as Django compares names), if it is an active staff member (whose role may do ``perm``,
    a ``backoffice.roles.Perm`` value, when given); else ``UserError``. So ``' alice'`` is alice, and four eyes
    compare people, not spellings."""
    from django.contrib.auth import get_user_model

    from mianshen.backoffice.roles import Perm, can

    name = unicodedata.normalize("NFKC", text).strip()
    if not name:
        raise UserError("--actor: give a staff user name (see `mianshen staff list`)")
    user = get_user_model().objects.filter(username=name, is_active=True, staff__isnull=False).first()
    if user is None:
        raise UserError(f"--actor {name!r}: no active staff user of that name (see `mianshen staff list`)")
    if perm is not None and not can(user, Perm(perm)):
        raise UserError(f"--actor {name}: the role {user.staff.role} may not {perm}")
    return str(user.get_username())


def actor_option(value: str | None, *, perm: str | None = None, required: bool = False) -> str:
    """The actor of a command: an ``--actor`` given is checked (``staff_actor``); without one, a decision
    (``required``) is refused and a machine step acts as ``system_actor()``."""
    if value is not None:
        return staff_actor(value, perm=perm)
    if required:
        raise UserError("--actor is required: the staff member who decides (see `mianshen staff list`)")
    return system_actor()


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
        except (DropUnusable, *self.user_errors) as exc:  # type: ignore[misc]  # mypy: a starred tuple
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
