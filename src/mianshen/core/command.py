"""The base of every `mianshen` command: domain errors become one line on stderr and an exit status.

Messages are English unless asked: ``--lang zh`` (every command but ``explain``, whose ``--lang`` chooses the
explanation's language and is a contract) or a Chinese locale in the environment (``LC_ALL``, ``LC_MESSAGES``
or ``LANG`` starting ``zh``). A refusal (``core.errors.Refusal``) is printed in that language."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from .errors import Refusal

LANG_CHOICES = ("en", "zh")
LANGUAGES = {"en": "en", "zh": "zh-hans"}  # --lang → the Django language code


def cli_language(lang: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The language of a command's messages: ``--lang`` if given, else Chinese when the environment's locale is
    Chinese (the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set, as POSIX reads them), else
    English. Returns a Django language code (``en`` / ``zh-hans``)."""
    if lang:
        return LANGUAGES[lang]
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return LANGUAGES["zh"] if value.lower().startswith("zh") else LANGUAGES["en"]
    return LANGUAGES["en"]


def _add_lang(parser: argparse.ArgumentParser, top: bool) -> None:
    """``--lang`` on the parser and on each of its sub-command parsers (so it may come before or after the
    sub-command's name), unless the command defines its own."""
    if "--lang" not in parser._option_string_actions:
        parser.add_argument(
            "--lang",
            choices=LANG_CHOICES,
            default=None if top else argparse.SUPPRESS,
            help="language of the messages (default English, or Chinese when LANG/LC_ALL is zh_*)",
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_lang(sub, top=False)


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
    lang_option_is_messages = True  # False: the command's own --lang means something else (explain)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        _add_lang(parser, top=True)
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        lang = options.get("lang") if self.lang_option_is_messages else None
        with translation.override(cli_language(lang)):
            try:
                return super().execute(*args, **options)
            except UserError as exc:
                raise CommandError(str(exc), returncode=exc.returncode) from exc
            except Refusal as exc:
                raise CommandError(exc.text(), returncode=2) from exc
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
