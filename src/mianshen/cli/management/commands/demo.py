"""`mianshen demo`: the whole cycle on the embedded database, from generated data to approved refunds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandParser
from django.db import connection
from rich.console import Console

from mianshen.core.command import MianshenCommand, UserError
from mianshen.datadrop.drop import DropUnusable


class Command(MianshenCommand):
    help = (
        "Run the whole cycle on a fresh embedded SQLite database under var/demo/: generate a city, validate, "
        "screen, import, three comparison rounds, publicity and objections, four-eyes review, approvals, "
        "payment through the bank simulator, reconciliation and the audit check."
    )

    user_errors = (DropUnusable,)  # a data drop that cannot be used: one line, exit 2

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--units", type=int, default=2000, help="size of the generated city (default 2000)"
        )
        parser.add_argument("--seed", type=int, default=2021)

    def handle(self, *args: Any, **options: Any) -> None:
        from mianshen.cli.demo import run_demo

        if options["units"] < 10:
            raise UserError("--units must be at least 10")
        if connection.vendor != "sqlite":
            raise UserError(
                "the demo runs on the embedded SQLite database: unset MIANSHEN_DATABASE_URL "
                "(it would otherwise write demo data into your database)"
            )
        root = Path(settings.VAR_DIR) / "demo"
        db_file = Path(str(connection.settings_dict["NAME"]))
        if db_file.parent.resolve() != Path(settings.VAR_DIR).resolve():
            raise UserError(
                f"the demo only resets the embedded database under {settings.VAR_DIR}, not {db_file}"
            )
        from mianshen.audit.checkpoints import checkpoint_file

        connection.close()
        db_file.unlink(missing_ok=True)
        checkpoint_file().unlink(missing_ok=True)  # the checkpoints of the database just reset
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        console = Console()
        console.rule("[bold]mianshen 免申即享 demo")
        call_command("migrate", verbosity=0)

        def say(step: str, text: str) -> None:
            console.print(f"[bold cyan]{step:>12}[/]  {text}")

        run_demo(root=root, units=options["units"], seed=options["seed"], say=say)
        logins = _demo_staff(root)
        say(
            "back office",
            f"users admin, officer, reviewer, auditor; password and second factors in {logins[0]} (owner only)",
        )
        console.rule()
        console.print(
            f"Explore: [bold].venv/bin/mianshen round list[/], [bold].venv/bin/mianshen audit verify[/], "
            f"the files in {root}; the back office: [bold].venv/bin/mianshen runserver --insecure[/] and "
            "http://127.0.0.1:8000/office/"
        )


def _demo_staff(root: Path) -> tuple[Path, str]:
    """One back-office user per role for exploring the demo city (a fresh password each run), each enrolled for
    the second factor: the password and each user's TOTP secret and recovery codes are written to a file created
    readable by its owner only; the district officer works in the district with the most cases."""
    import os
    import secrets

    from django.db.models import Count

    from mianshen.backoffice.second_factor import second_factor_enrol
    from mianshen.backoffice.services import staff_add
    from mianshen.cases.models import Case

    password = secrets.token_urlsafe(12)
    busiest = Case.objects.values("district").annotate(n=Count("id")).order_by("-n", "district").first()
    lines = [
        "users: admin, officer, reviewer, auditor",
        f"password: {password}",
        "second factor: add a user's TOTP secret to an authenticator app (or: oathtool --totp -b SECRET), "
        "or type one of its recovery codes (each works once)",
    ]
    for username, role, district in (
        ("admin", "city_admin", None),
        ("officer", "district_officer", busiest["district"] if busiest else "110105"),
        ("reviewer", "reviewer", None),
        ("auditor", "auditor", None),
    ):
        staff = staff_add(
            username=username, role=role, district=district, password=password, granted_by="system:demo"
        )
        e = second_factor_enrol(user=staff.user, actor="system:demo")
        lines.append(
            f"{username}: TOTP secret {e.secret}  {e.uri}  recovery codes {' '.join(e.recovery_codes)}"
        )
    path = root / "staff-logins.txt"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # owner-only from the start
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path, password
