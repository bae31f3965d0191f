"""The command-line app: the `mianshen` entry point (``main``), every `mianshen` command
(``management/commands/``) and the demo (``demo.py``). The top layer: it may import every app, none imports it."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:  # a configuration refused (production without a secret key, …): one line, exit 2
        settings.INSTALLED_APPS  # noqa: B018  (loads the settings)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"mianshen: {exc}\n")
        sys.exit(2)
    args = list(sys.argv[1:] if argv is None else argv)
    execute_from_command_line(["mianshen", *args])
