"""`mianshen screen --policy P --data DROP --as-of D --out OUTDIR`: decisions for every unit (contracts §2)."""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from mianshen.core.command import MianshenCommand, UserError
from mianshen.datadrop import reader
from mianshen.datadrop.drop import DropUnusable
from mianshen.policy.engine import INPUT_TABLES
from mianshen.policy.families import REFUND, family_of
from mianshen.policy.output import write_decisions
from mianshen.policy.parameters import ParameterError, ResolvedParams

from ._policy import add_policy_arguments, read_drop, resolve_params

BUCKETS_VARIABLE = "MIANSHEN_SCREEN_BUCKETS"


def _buckets(options: dict[str, Any]) -> int:
    """The buckets of units the drop is screened in on this machine: from the drop's size, or the number in the
    environment variable MIANSHEN_SCREEN_BUCKETS (1: read whole). docs/policy.md, "A drop larger than memory"."""
    from mianshen.screening import local

    text = os.environ.get(BUCKETS_VARIABLE, "").strip()
    if not text:
        return local.buckets_wanted(Path(options["data"]), INPUT_TABLES, encoding=options["encoding"])
    if not text.isdigit() or not 1 <= int(text) <= local.MAX_BUCKETS:
        raise UserError(f"{BUCKETS_VARIABLE} must be a number 1 … {local.MAX_BUCKETS:,}, not {text!r}")
    return int(text)


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
            help="polars (default): this machine (a large drop in buckets of units, docs/policy.md); spark: Apache Spark, the drop partitioned by unit (docs/spark.md)",
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
            buckets = _buckets(options) if family is REFUND else 1
            if buckets > 1:
                decided, rejected = self._in_buckets(params, as_of, options, buckets)
            else:
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

    def _in_buckets(
        self, params: ResolvedParams, as_of: date, options: dict[str, Any], buckets: int
    ) -> tuple[pl.DataFrame, int]:
        """A drop too large to read whole, on this machine bucket by bucket (mianshen.screening.local): the
        same decisions, the same rows rejected; the bucket files in a temporary folder inside OUTDIR."""
        from mianshen.screening import local

        data, out = Path(options["data"]), Path(options["out"])
        located = reader.locate(data, reader.requested_tables(INPUT_TABLES))
        missing = [t for t in REFUND.required_tables if t not in located]
        if missing:  # as read_drop says it
            raise DropUnusable(
                f"{data}: policy {params.policy_id} needs {missing[0]}.csv (or .parquet); "
                f"a drop for it holds {', '.join(REFUND.required_tables)}"
            )
        try:
            run = local.run_partitioned(
                data,
                INPUT_TABLES,
                workdir=out,
                params=params,
                as_of=as_of,
                encoding=options["encoding"],
                partitions=buckets,
            )
        except OSError as exc:
            raise UserError(f"cannot write the bucket files to {out}: {exc.strerror or exc}") from exc
        assert run.decisions is not None  # screened: params given
        return run.decisions, run.rejected_rows

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
