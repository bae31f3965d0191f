"""Synthetic tables of the retention-training family: ``risk_areas`` and ``person_months`` (``generate
--retention``).

- ``risk_areas``: three rows a drop (written with the last batch): a high-risk area in 朝阳 from a day in
  April 2022 (the seed picks it) for 19 days, a medium-risk area in 海淀 in May 2022, and one that ended in
  2021 (ignored by the 2022 rule). So ``retention-training-2022`` finds the city affected from April 2022.
- ``person_months``: for each unit, up to 40 persons (its ``employees``, else 5), each insured at the unit over
  a run of months inside 2021-09 … 2022-08 (start and length drawn per person); about 4% of the persons are also
  insured at the next unit in their first month there (the Ezhou two-units rule has something to find).
  Person ids are pseudonyms: 64 hex digits, a function of the seed, the unit and the person's number.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from . import rng

MONTHS = [f"{y}-{m:02d}" for y in (2021, 2022) for m in range(1, 13)][8:20]  # 2021-09 .. 2022-08
MAX_PERSONS = 40


def risk_areas(seed: int) -> pl.DataFrame:
    day = 5 + rng.mix64_int(seed ^ 0x52495348) % 20
    start = date(2022, 4, day)
    return pl.DataFrame(
        {
            "district": ["110105", "110108", "110101"],
            "level": ["high", "medium", "medium"],
            "from_on": [start, date(2022, 5, 3), date(2021, 11, 2)],
            "to_on": [date(2022, 4, day + 5), date(2022, 5, 21), date(2021, 12, 10)],
        },
        schema={"district": pl.String, "level": pl.String, "from_on": pl.Date, "to_on": pl.Date},
    )


def _pseudonym(seed: int, key: pl.Expr) -> pl.Expr:
    parts = [rng.bits(seed, f"person.id.{i}", key) for i in range(4)]
    return pl.concat_str([p.cast(pl.UInt64).map_batches(_hex16, return_dtype=pl.String) for p in parts])


def _hex16(s: pl.Series) -> pl.Series:
    return pl.Series([f"{v:016x}" for v in s.to_list()], dtype=pl.String)


def person_months(plan: pl.DataFrame, seed: int) -> pl.DataFrame:
    """One row per (person, unit, month), in unit order, then person, then month."""
    n = pl.coalesce(pl.col("employees"), pl.lit(5)).clip(0, MAX_PERSONS)
    persons = (
        plan.lazy()
        .select("idx", "unit_id", n.alias("_n"))
        .with_columns(k=pl.int_ranges(0, pl.col("_n")))
        .explode("k")
        .drop_nulls("k")
        .with_columns(_key=(pl.col("idx").cast(pl.UInt64) * 64 + pl.col("k").cast(pl.UInt64)))
        .with_columns(
            _start=rng.int_between(rng.uniform(seed, "person.start", pl.col("_key")), 0, len(MONTHS) - 1),
            _len=rng.int_between(rng.uniform(seed, "person.len", pl.col("_key")), 1, len(MONTHS)),
            _twice=rng.uniform(seed, "person.twice", pl.col("_key")) < 0.04,
            person_id=_pseudonym(seed, pl.col("_key")),
        )
        .with_columns(
            _m=pl.int_ranges("_start", pl.min_horizontal(pl.col("_start") + pl.col("_len"), len(MONTHS)))
        )
        .explode("_m")
        .drop_nulls("_m")
        .with_columns(month=pl.lit(pl.Series(MONTHS)).gather(pl.col("_m")))
    )
    at_unit = persons.select("idx", "person_id", "unit_id", "month", "k", "_m")
    units = (
        plan.lazy().select(pl.col("idx"), pl.col("unit_id").alias("_next")).with_columns(pl.col("idx") - 1)
    )
    twice = (
        persons.filter(pl.col("_twice") & (pl.col("_m") == pl.col("_start")))
        .join(units, on="idx", how="inner")
        .select(pl.col("idx") + 1, "person_id", pl.col("_next").alias("unit_id"), "month", "k", "_m")
        .with_columns(pl.col("k") + 1_000)
    )
    return (
        pl.concat([at_unit, twice]).sort("idx", "k", "_m").select("person_id", "unit_id", "month").collect()
    )
