"""What `mianshen screen`, `explain` and `simulate` share: their arguments and the way they read a drop."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from mianshen.core.command import UserError
from mianshen.datadrop.drop import DropUnusable, ValidatedDrop
from mianshen.datadrop.reader import ENCODINGS
from mianshen.datadrop.validate import validate_drop
from mianshen.policy.families import family_of
from mianshen.policy.parameters import ResolvedParams, policies, resolve


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, help=f"policy id: {', '.join(sorted(policies()))}")
    parser.add_argument("--data", required=True, metavar="DROP", help="the data-drop directory")
    parser.add_argument(
        "--as-of", required=True, metavar="YYYY-MM-DD", help="the as-of date (in the payment year)"
    )
    parser.add_argument(
        "--encoding", choices=ENCODINGS, default="utf-8", help="encoding of CSV files that are not UTF-8"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def as_of_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"--as-of must be a date YYYY-MM-DD, not {text!r}") from None


def resolve_params(options: dict[str, Any]) -> tuple[ResolvedParams, date]:
    """The parameter set (before any file is read: a bad policy or date fails fast, exit 2)."""
    as_of = as_of_date(options["as_of"])
    return resolve(options["policy"], as_of), as_of


def read_drop(options: dict[str, Any], params: ResolvedParams) -> ValidatedDrop:
    """Validate as it reads the tables of the policy's family; only accepted rows are used. Unusable drop, or a
    table the family needs that is absent -> DropUnusable (exit 2)."""
    family = family_of(params)
    progress = not options["quiet"] and sys.stderr.isatty()
    drop = validate_drop(
        options["data"], encoding=options["encoding"], tables=family.input_tables, progress=progress
    )
    missing = [t for t in family.required_tables if t not in drop.tables]
    if missing:
        raise DropUnusable(
            f"{options['data']}: policy {params.policy_id} needs {missing[0]}.csv (or .parquet); "
            f"a drop for it holds {', '.join(family.required_tables)}"
        )
    return drop
