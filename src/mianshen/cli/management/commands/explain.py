"""`mianshen explain --policy P --data DROP --as-of D --unit UNIT_ID [--lang zh|en]`: one decision in words."""

from __future__ import annotations

import argparse
from typing import Any

import polars as pl

from mianshen.core.command import MianshenCommand, UserError
from mianshen.datadrop.drop import DropUnusable
from mianshen.policy.explain import LANGS
from mianshen.policy.families import family_of
from mianshen.policy.parameters import ParameterError

from ._policy import add_policy_arguments, read_drop, resolve_params


class Command(MianshenCommand):
    help = (
        "Explain one unit's decision: every condition and route with the values behind it and its legal "
        "source, the amount, and the parameter versions used. Exit 2 for an unknown unit."
    )
    user_errors = (DropUnusable, ParameterError)
    lang_option_is_messages = False  # --lang is the explanation's language (a contract), default zh

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_policy_arguments(parser)
        parser.add_argument("--unit", required=True, metavar="UNIT_ID", help="the unit to explain")
        parser.add_argument("--lang", choices=LANGS, default="zh", help="language (default zh)")

    def handle(self, *args: Any, **options: Any) -> None:
        params, as_of = resolve_params(options)
        unit_id = options["unit"].strip()
        drop = read_drop(options, params)
        units = drop.tables["units"].filter(pl.col("unit_id") == unit_id)
        if units.is_empty():
            rejected = drop.rejected.get("units")
            if rejected is not None and not rejected.filter(pl.col("unit_id") == unit_id).is_empty():
                codes = rejected.filter(pl.col("unit_id") == unit_id).get_column("codes").to_list()
                raise UserError(
                    f"unit {unit_id!r} was rejected by validation ({', '.join(codes)}); it has no decision"
                )
            raise UserError(f"unknown unit {unit_id!r}: not among the accepted units of {options['data']}")
        credit_codes = units.get_column("credit_code").to_list()
        family = family_of(params)
        # the unit's own rows; tables of the whole city (risk areas) and of every person at every unit (a
        # person insured at two units) are kept whole, since the rule reads across units
        whole = {"risk_areas", "person_months"}
        tables: dict[str, pl.DataFrame] = (
            dict(drop.tables)
            if family.once_per_person  # one enterprise per person: every unit's hires and conditions matter
            else {
                name: frame
                if name in whole
                else frame.filter(pl.col("credit_code").is_in(credit_codes))
                if name == "credit_flags"
                else frame.filter(pl.col("unit_id") == unit_id)
                for name, frame in drop.tables.items()
            }
        )
        evaluated = family.evaluate(tables, params, as_of)
        row = evaluated.filter(pl.col("unit_id") == unit_id).row(0, named=True)
        self.stdout.write(family.render(row, params, options["lang"]), ending="")
