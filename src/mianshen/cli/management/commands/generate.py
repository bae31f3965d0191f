"""`mianshen generate --units N --seed S --out DROP [--format csv|parquet] [--parts N]`: a synthetic data drop."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from mianshen.core.command import MianshenCommand, UserError
from mianshen.datadrop.generate import MAX_PARTS, MAX_UNITS, GenerateError, generate


def _whole_number(option: str, text: str, low: int, high: int) -> int:
    """``text`` as an integer in [low, high], or a one-line UserError."""
    try:
        value = int(text.strip())
    except ValueError:
        raise UserError(f"{option} must be a whole number, not {text!r}") from None
    if not low <= value <= high:
        raise UserError(f"{option} must be from {low:,} to {high:,}, not {value:,}")
    return value


class Command(MianshenCommand):
    help = (
        "Write a deterministic, Beijing-like synthetic data drop (contracts §1): the same seed gives "
        "byte-identical files. A previous drop in --out is overwritten (its other files are kept); any other "
        "non-empty directory is refused."
    )
    user_errors = (GenerateError,)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--units", required=True, help=f"number of units (1 … {MAX_UNITS:,})")
        parser.add_argument("--seed", default="0", help="random seed, 0 … 2**64-1 (default 0)")
        parser.add_argument(
            "--out", type=Path, required=True, help="directory of the drop (created when missing)"
        )
        parser.add_argument(
            "--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)"
        )
        parser.add_argument(
            "--parts",
            default="0",
            help=f"write each table as a folder X/ of this many Parquet part files (1 … {MAX_PARTS:,}; contracts §1)",
        )
        parser.add_argument(
            "--retention",
            action="store_true",
            help="also write risk_areas and person_months, for retention-training-2022 (docs/data-drop.md)",
        )
        parser.add_argument(
            "--job-expansion",
            action="store_true",
            help="also write hires, graduate_register and hiring_subsidy_recipients (pseudonyms keyed by "
            "MIANSHEN_PSEUDONYM_KEY), for job-expansion-2022 (docs/data-drop.md)",
        )
        parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        units = _whole_number("--units", options["units"], 1, MAX_UNITS)
        seed = _whole_number("--seed", options["seed"], 0, 2**64 - 1)
        parts = _whole_number("--parts", options["parts"], 0, MAX_PARTS)
        started = time.monotonic()
        rows = generate(
            units=units,
            seed=seed,
            out=options["out"],
            fmt=options["format"],
            parts=parts,
            progress=not options["no_progress"],
            retention=options["retention"],
            job_expansion=options["job_expansion"],
        )
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{table} {count:,}" for table, count in rows.items())
        self.stdout.write(f"wrote {options['out']} in {elapsed:.1f} s: {summary}")
