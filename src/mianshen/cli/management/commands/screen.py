"""`mianshen screen --policy P --data DROP --as-of D --out OUTDIR`: decisions for every unit (contracts §2)."""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from mianshen.core.command import MianshenCommand, UserError
from mianshen.datadrop.drop import DropUnusable
from mianshen.policy.engine import INPUT_TABLES
from mianshen.policy.families import REFUND, family_of
from mianshen.policy.output import write_decisions
from mianshen.policy.parameters import ParameterError, ResolvedParams

from ._policy import add_policy_arguments, read_drop, resolve_params


class Command(MianshenCommand):
    help = (
        "Screen every unit of a data drop under a policy, with no database: writes OUTDIR/decisions.csv and "
        "OUTDIR/decisions.parquet (contracts §2.2), one row per accepted unit, sorted by unit_id. The drop is "
        "validated as it is read; rejected rows are left out and counted on stderr. Exit 0, or 2 for an unusable "
        "drop, an unknown policy or an as-of date outside the policy's payment year."
    )
    user_errors = (DropUnusable, ParameterError)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_policy_arguments(parser)
        parser.add_argument("--out", required=True, type=Path, metavar="OUTDIR", help="output directory")
        parser.add_argument(
            "--engine",
            choices=("polars", "spark"),
            default="polars",
            help="polars (default): this machine; spark: Apache Spark, the drop partitioned by unit (docs/spark.md)",
        )
        parser.add_argument(
            "--spark-master",
            metavar="URL",
            help="the Spark master (default local[*]: every core of this machine); with --engine spark",
        )
        parser.add_argument(
            "--spark-partitions",
            type=int,
            metavar="N",
            help="unit buckets (default 4 per Spark core); with --engine spark",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        params, as_of = resolve_params(options)
        family = family_of(params)
        if options["engine"] == "spark":
            if family is not REFUND:
                raise UserError(
                    f"--engine spark screens the refund's policies (beijing-2021, national-*), not "
                    f"{params.policy_id}: use --engine polars"
                )
            decided, rejected = self._on_spark(params, as_of, options)
        else:
            if options["spark_master"] or options["spark_partitions"]:
                raise UserError("--spark-master and --spark-partitions go with --engine spark")
            drop = read_drop(options, params)
            decided, rejected = family.screen(drop.tables, params, as_of), drop.rejected_rows
        try:
            csv_path, _ = write_decisions(
                decided, options["out"], family.decision_columns, family.int_columns
            )
        except OSError as exc:
            raise UserError(f"cannot write to {options['out']}: {exc.strerror or exc}") from exc
        counts = dict(decided.group_by("decision").len().iter_rows())
        summary = ", ".join(f"{k} {counts.get(k, 0):,}" for k in family.decisions_values)
        self.stderr.write(f"{rejected} rows rejected")
        self.stdout.write(
            f"{decided.height:,} units screened under {params.policy_id} as of {as_of} "
            f"(parameter set {params.param_hash[:12]}) in {time.monotonic() - started:.1f} s: {summary}; "
            f"wrote {csv_path} and decisions.parquet"
        )

    def _on_spark(
        self, params: ResolvedParams, as_of: date, options: dict[str, Any]
    ) -> tuple[pl.DataFrame, int]:
        """Validate and screen on Spark (mianshen.screening.spark): the same decisions, the same rows rejected."""
        from mianshen.screening import spark

        partitions = options["spark_partitions"]
        if partitions is not None and not 1 <= partitions <= 100_000:
            raise UserError(f"--spark-partitions must be 1 … 100,000, not {partitions}")
        try:
            session = spark.spark_session(options["spark_master"])
        except spark.SparkUnavailable as exc:
            raise UserError(str(exc)) from None
        run = spark.run_on_spark(
            session,
            Path(options["data"]),
            INPUT_TABLES,
            params=params,
            as_of=as_of,
            encoding=options["encoding"],
            partitions=partitions,
        )
        assert run.decisions is not None  # screened: params given
        return run.decisions, run.rejected_rows
