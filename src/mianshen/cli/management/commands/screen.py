"""`mianshen screen --policy P --data DROP --as-of D --out OUTDIR`: decisions for every unit (contracts §2)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from mianshen.core.command import MianshenCommand, UserError
from mianshen.datadrop.drop import DropUnusable
from mianshen.policy.families import family_of
from mianshen.policy.output import write_decisions
from mianshen.policy.parameters import ParameterError

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

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        params, as_of = resolve_params(options)
        drop = read_drop(options, params)
        family = family_of(params)
        decided = family.screen(drop.tables, params, as_of)
        try:
            csv_path, _ = write_decisions(
                decided, options["out"], family.decision_columns, family.int_columns
            )
        except OSError as exc:
            raise UserError(f"cannot write to {options['out']}: {exc.strerror or exc}") from exc
        counts = dict(decided.group_by("decision").len().iter_rows())
        summary = ", ".join(f"{k} {counts.get(k, 0):,}" for k in family.decisions_values)
        self.stderr.write(f"{drop.rejected_rows} rows rejected")
        self.stdout.write(
            f"{decided.height:,} units screened under {params.policy_id} as of {as_of} "
            f"(parameter set {params.param_hash[:12]}) in {time.monotonic() - started:.1f} s: {summary}; "
            f"wrote {csv_path} and decisions.parquet"
        )
