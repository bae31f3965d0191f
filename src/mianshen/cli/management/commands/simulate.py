"""`mianshen simulate --policy P --data DROP --as-of D --set NAME=VALUE ...`: coverage and cost, what-if."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mianshen.core.command import MianshenCommand, UserError
from mianshen.datadrop.drop import DropUnusable
from mianshen.policy.families import family_of
from mianshen.policy.output import write_csv
from mianshen.policy.parameters import SPECS, ParameterError, parse_assignment, with_overrides
from mianshen.policy.simulate import Simulation, breakdown_rows, report, simulate

from ._policy import add_policy_arguments, read_drop, resolve_params


class Command(MianshenCommand):
    help = (
        "What-if: screen the drop under the policy and under changed parameters (--set NAME=VALUE, e.g. "
        "layoff_rate_limit=0.055, ratio.sme=0.90, covered_unit_types=enterprise,law_firm), and show coverage "
        "by decision and size class, the cost in fen and yuan, and the units whose decision changes. Every "
        "policy family (refund, retention training, job expansion) through its own engine. "
        f"Refund parameters: {', '.join(sorted(SPECS))}; the other families' in docs/policy.md."
    )
    user_errors = (DropUnusable, ParameterError)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_policy_arguments(parser)
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            dest="assignments",
            help="a changed parameter",
        )
        parser.add_argument(
            "--out", type=Path, metavar="FILE.csv", help="write every unit that changes decision"
        )
        parser.add_argument("--sample", type=int, default=10, help="changed units listed (default 10)")
        parser.add_argument(
            "--format",
            choices=["table", "csv", "json"],
            default="table",
            help="table: the report in words; csv / json: coverage (units and share of the insured) and cost "
            "by size class and by district, baseline beside variant",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        params, as_of = resolve_params(options)
        assignments: dict[str, str] = {}
        for text in options["assignments"]:
            name, value = parse_assignment(text)
            if name in assignments:
                raise UserError(f"--set {name} is given twice")
            assignments[name] = value
        variant = with_overrides(params, assignments)
        drop = read_drop(options, params)
        result = simulate(drop.tables, params, variant, as_of, family_of(params))
        self.stderr.write(f"{drop.rejected_rows} rows rejected")
        if options["format"] == "csv":
            self.stdout.write(breakdown_rows(result).write_csv(), ending="")
        elif options["format"] == "json":
            self.stdout.write(_json(result) + "\n", ending="")
        else:
            self.stdout.write(report(result, sample=max(options["sample"], 0)), ending="")
        if options["out"] is not None:
            try:
                write_csv(result.changes, options["out"])
            except OSError as exc:
                raise UserError(f"cannot write {options['out']}: {exc.strerror or exc}") from exc
            stream = self.stdout if options["format"] == "table" else self.stderr
            stream.write(f"wrote {result.changes.height:,} changed units to {options['out']}")


def _json(result: Simulation) -> str:
    """The simulation as one JSON object: the parameters changed, totals and both breakdowns (money in fen)."""
    return json.dumps(
        {
            "policy": result.baseline.policy_id,
            "as_of": result.as_of.isoformat(),
            "overrides": {k: str(v) for k, v in sorted(result.variant.overrides.items())},
            "units": result.units,
            "cost_fen_baseline": result.total("amount_fen_baseline"),
            "cost_fen_variant": result.total("amount_fen_variant"),
            "units_changing_decision": result.changes.height,
            "breakdowns": breakdown_rows(result).to_dicts(),
        },
        ensure_ascii=False,
        indent=1,
    )
