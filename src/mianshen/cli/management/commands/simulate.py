"""`mianshen simulate --policy P --data DROP --as-of D --set NAME=VALUE ...`: coverage and cost, what-if."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mianshen.core.command import MianshenCommand, UserError
from mianshen.datadrop.drop import DropUnusable
from mianshen.policy.output import write_csv
from mianshen.policy.parameters import SPECS, ParameterError, parse_assignment, with_overrides
from mianshen.policy.simulate import report, simulate

from ._policy import add_policy_arguments, read_drop, resolve_params


class Command(MianshenCommand):
    help = (
        "What-if: screen the drop under the policy and under changed parameters (--set NAME=VALUE, e.g. "
        "layoff_rate_limit=0.055, ratio.sme=0.90, covered_unit_types=enterprise,law_firm), and show coverage "
        "by decision and size class, the cost in fen and yuan, and the units whose decision changes. "
        f"Parameters: {', '.join(sorted(SPECS))}."
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

    def handle(self, *args: Any, **options: Any) -> None:
        params, as_of = resolve_params(options)
        assignments: dict[str, str] = {}
        for text in options["assignments"]:
            name, value = parse_assignment(text)
            if name in assignments:
                raise UserError(f"--set {name} is given twice")
            assignments[name] = value
        variant = with_overrides(params, assignments)
        drop = read_drop(options)
        result = simulate(drop.tables, params, variant, as_of)
        self.stderr.write(f"{drop.rejected_rows} rows rejected")
        self.stdout.write(report(result, sample=max(options["sample"], 0)), ending="")
        if options["out"] is not None:
            try:
                write_csv(result.changes, options["out"])
            except OSError as exc:
                raise UserError(f"cannot write {options['out']}: {exc.strerror or exc}") from exc
            self.stdout.write(f"wrote {result.changes.height:,} changed units to {options['out']}")
