"""`mianshen validate DROP [--report FILE] [--encoding {utf-8,gb18030}]`: check every row of a data drop."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any, cast

from django.core.management.base import CommandParser
from rich.console import Console

from mianshen.core.command import MianshenCommand, UserError
from mianshen.datadrop.drop import DropUnusable
from mianshen.datadrop.reader import ENCODINGS
from mianshen.datadrop.report import Validation, print_summary, verdict, write_report
from mianshen.datadrop.schema import EXIT_REJECTED
from mianshen.datadrop.validate import validate_drop


class Command(MianshenCommand):
    help = (
        "Check every row of every file of a data drop (contracts §1) and print a summary. Exit 0 when no row "
        "is rejected (warnings allowed), 3 when rows are rejected, 2 when the drop cannot be used at all."
    )

    user_errors = (DropUnusable,)  # a data drop that cannot be used: one line, exit 2

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("drop", type=Path, help="the data-drop directory")
        parser.add_argument(
            "--report", type=Path, metavar="FILE", help="write one CSV row per problem to FILE"
        )
        parser.add_argument(
            "--encoding",
            choices=ENCODINGS,
            default="utf-8",
            help="encoding of CSV files that are not UTF-8 (default utf-8: such a file is unusable)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.add_argument(
            "--engine",
            choices=("polars", "spark"),
            default="polars",
            help="polars (default): this machine; spark: Apache Spark, the drop partitioned by unit (docs/spark.md)",
        )
        parser.add_argument(
            "--spark-master", metavar="URL", help="the Spark master (default local[*]); with --engine spark"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        drop: Validation
        if options["engine"] == "spark":
            drop = self._on_spark(options)
        else:
            if options["spark_master"]:
                raise UserError("--spark-master goes with --engine spark")
            show_progress = not options["quiet"] and sys.stderr.isatty()
            drop = validate_drop(options["drop"], encoding=options["encoding"], progress=show_progress)
        terminal = self.stdout.isatty()
        console = Console(file=cast(IO[str], self.stdout), highlight=False, width=None if terminal else 120)
        print_summary(drop, console)
        report: Path | None = options["report"]
        if report is not None:
            try:
                write_report(drop.problems, report)
            except OSError as exc:
                raise UserError(f"cannot write the report {report}: {exc.strerror or exc}") from exc
        if drop.rejected_rows:
            self.stderr.write(f"mianshen validate: {verdict(drop)}")
            sys.exit(EXIT_REJECTED)

    def _on_spark(self, options: dict[str, Any]) -> Validation:
        """The same checks on Spark (mianshen.screening.spark): the same problems, the same rows rejected."""
        from mianshen.screening import spark

        try:
            session = spark.spark_session(options["spark_master"])
        except spark.SparkUnavailable as exc:
            raise UserError(str(exc)) from None
        return spark.run_on_spark(session, Path(options["drop"]), None, encoding=options["encoding"])
