"""`mianshen demo`: the whole cycle on the embedded database, from generated data to approved refunds."""

from __future__ import annotations

import logging
import resource
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
        parser.add_argument(
            "--policy",
            choices=("beijing-2021", "retention-training-2022", "job-expansion-2022"),
            default="beijing-2021",
            help="the refund (default), the one-off retention training subsidy (一次性留工培训补助) or the one-off "
            "job-expansion subsidy (一次性扩岗补助)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from mianshen.cli.demo import FAMILY_DEMOS, DemoRun, DemoStopped, run_family_demo

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
        _fast_commits()
        log_path = root / "demo.log"
        clock = _PhaseClock()

        def say(step: str, text: str) -> None:
            took, cpu, peak = clock.lap(step)
            console.print(
                f"[bold cyan]{step:>12}[/]  {text} [dim]({took:.1f} s, CPU {cpu:.1f} s; peak memory {peak:.2f} GB)[/]"
            )

        with _log_to(log_path):
            try:
                run: DemoRun | None = None
                if options["policy"] in FAMILY_DEMOS:
                    run_family_demo(
                        policy_id=options["policy"],
                        root=root,
                        units=options["units"],
                        seed=options["seed"],
                        say=say,
                    )
                else:
                    run = DemoRun(root=root, units=options["units"], seed=options["seed"], say=say)
                    for _name, step in run.steps():
                        step()
                logins = _demo_staff(root)
            except DemoStopped as exc:
                logging.getLogger(__name__).error("the demo stopped: %s", exc)
                raise UserError(f"the demo stopped: {exc} (log: {log_path})", returncode=1) from exc
            except Exception as exc:
                logging.getLogger(__name__).exception("the demo stopped after step %r", clock.step)
                first = (str(exc).strip().splitlines() or [""])[0]
                raise UserError(
                    f"the demo stopped after step {clock.step!r}: {type(exc).__name__}: {first} "
                    f"(traceback in {log_path})",
                    returncode=1,
                ) from exc
        from mianshen.reports.exports import comparison_table, tables

        if (
            run is not None
        ):  # the refund: the outcome statistics of contracts §5, and the case study beside them
            result = run.outcomes
            assert result is not None  # the last step computed them
            for table in (*tables(result, public=False), comparison_table(result)):
                console.print(table)
        say(
            "back office",
            f"users admin, officer, reviewer, auditor; password and second factors in {logins[0]} (owner only)",
        )
        console.print(
            f"[bold]{'total':>12}[/]  {clock.total():.1f} s, CPU {clock.cpu_now():.1f} s; "
            f"peak memory {clock.peak():.2f} GB"
        )
        console.rule()
        console.print(
            f"Explore: [bold].venv/bin/mianshen round list[/], [bold].venv/bin/mianshen audit verify[/], "
            f"the files in {root}; the back office: [bold].venv/bin/mianshen runserver --insecure[/] and "
            "http://127.0.0.1:8000/office/"
        )
        console.print(
            "The public portal (guide, Q&A, publicity list, objections; Chinese, English with ?lang=en): "
            "[bold]http://127.0.0.1:8000/[/], its JSON API: [bold]http://127.0.0.1:8000/api/docs[/]"
        )
        from mianshen.portal.lookup import lookup_example

        example = lookup_example()
        if example is not None:
            console.print(
                f"Progress lookup: [bold]http://127.0.0.1:8000/lookup/[/] with the credit code [bold]{example[0]}[/] "
                f"({example[1]}, {example[2]}); start [bold].venv/bin/mianshen worker[/] to make the code, then read "
                "it with [bold].venv/bin/mianshen notify outbox --kind otp --unmask[/]"
            )


def _fast_commits() -> None:
    """The demo's throwaway database: write-ahead log, and commits not flushed to disk one by one
    (``synchronous=NORMAL``: a power cut may lose the last commits, never corrupt the file). SQLite's default
    journal costs an fsync of 10-20 ms a commit on a busy disk, and paying Beijing takes tens of thousands of
    small transactions (every correction is two). The project's own database keeps SQLite's defaults."""
    from django.db.backends.signals import connection_created

    def tune(sender: object, connection: Any, **kwargs: object) -> None:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=NORMAL")

    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file
    tune(None, connection)
    connection_created.connect(tune, weak=False)


class _PhaseClock:
    """Wall time and CPU time of each step (since the previous one; on a shared machine the CPU time is the
    steadier measure) and the peak memory of the process so far."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.cpu = self.cpu_now()
        self.step = "start"

    def lap(self, step: str) -> tuple[float, float, float]:
        now, cpu = time.monotonic(), self.cpu_now()
        took, used = now - self.last, cpu - self.cpu
        self.last, self.cpu, self.step = now, cpu, step
        return took, used, self.peak()

    @staticmethod
    def cpu_now() -> float:
        """User + system CPU seconds of this process and its finished children (the bank-file renderers)."""
        return sum(
            u.ru_utime + u.ru_stime
            for u in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
        )

    def total(self) -> float:
        return time.monotonic() - self.started

    @staticmethod
    def peak() -> float:
        """Peak resident memory in GB: this process, or a child (a bank-file renderer) if one peaked higher."""
        kib = max(
            resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        )
        return kib / 1024**2


@contextmanager
def _log_to(path: Path) -> Iterator[None]:
    """Send the log (a failed job's traceback) to ``path`` instead of the console while the demo runs."""
    root = logging.getLogger()
    saved = root.handlers[:]
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    try:
        yield
    finally:
        root.handlers[:] = saved
        handler.close()


def _demo_staff(root: Path) -> tuple[Path, str]:
    """One back-office user per role for exploring the demo city (a fresh password each run), each enrolled for
    the second factor: the password and each user's TOTP secret and recovery codes are written to a file created
    readable by its owner only; the district officer works in the district with the most cases."""
    import os
    import secrets

    from django.db.models import Count

    from mianshen.cases.models import Case
    from mianshen.staff.second_factor import second_factor_enrol
    from mianshen.staff.services import staff_add

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
