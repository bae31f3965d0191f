"""Per-unit facts derived from the typed frames of a data drop (contracts §2.1, "Derived values").

Every table is read lazily, filtered to the rows the rule needs (headcount of two months, and the months of Y
for the units without a base row; contributions with a period in Y, or before the as-of month and in arrears),
aggregated per unit, and only then joined to the units: one row per accepted unit, sorted by unit_id, whatever
facts it has.

Speed: a drop is almost always extracted unit by unit. A table whose ``unit_id`` column is already sorted (checked,
one pass) is marked so; its per-unit aggregates keep that order and every join of sorted keys is a merge rather
than a hash join. An unsorted table takes the general (hash) path, with the same results.

Columns added to the unit columns (``UNIT_COLUMNS``):

==========================  ==========================================================================
``base_headcount``          H0: insured in December of Y-1, else (A3) in the earliest month of Y; null if neither
``base_month``              the month H0 was read from (``YYYY-MM``), null with H0
``end_headcount``           H1: insured in December of Y; null without that row
``natural_attrition``       N: persons who left in Y for a natural-attrition reason (0 when none)
``base_fen``                B: paid_fen of periods in Y paid on or before the cutoff (A4) (0 when none)
``paid_cutoff``             that cutoff date (31 December of Y, or the as-of date)
``arrears_fen``             sum of max(due_fen - paid_fen, 0) over periods before the as-of month (0 when none)
``full_paid_periods``       periods of Y with due_fen > 0 and paid_fen >= due_fen (null unless FULL_PAYMENT_SHORT
                            is in force)
``<flag>_since``            the earliest listed_on of an active flag of each kind at the as-of date, else null
``dispatch_confirmed_on``   the earliest confirmation on or before the as-of date, else null
==========================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from mianshen.datadrop.schema import FLAGS, TABLES

from .codes import FULL_PAYMENT_SHORT
from .parameters import ResolvedParams

UNIT_COLUMNS: tuple[str, ...] = (
    "unit_id",
    "credit_code",
    "unit_type",
    "industry",
    "dispatch",
    "size_class_declared",
    "employees",
    "revenue_yuan",
    "assets_yuan",
    "deregistered_on",
)
FLAG_COLUMNS: dict[str, str] = {flag: f"{flag}_since" for flag in FLAGS}
OPTIONAL_TABLES = frozenset({"dispatch_confirmations", "bank_accounts"})
COUNTED = ("natural_attrition", "base_fen", "arrears_fen")

Frame = pl.DataFrame | pl.LazyFrame


def month(year: int, month_no: int) -> str:
    return f"{year:04d}-{month_no:02d}"


@dataclass(frozen=True)
class Source:
    """A table as a lazy frame of its schema columns, and whether its rows are in unit_id order."""

    frame: pl.LazyFrame
    by_unit: bool

    def per_unit(self, rows: pl.LazyFrame, *aggregations: pl.Expr) -> pl.LazyFrame:
        """Aggregate ``rows`` (filtered from this table) per unit; sorted by unit_id when the table is."""
        out = rows.group_by("unit_id", maintain_order=self.by_unit).agg(*aggregations)
        return out.with_columns(pl.col("unit_id").set_sorted()) if self.by_unit else out


def source(tables: Mapping[str, Frame], name: str) -> Source:
    """A table of the drop; an absent optional table is empty."""
    spec = TABLES[name]
    found = tables.get(name)
    if found is None:
        if name not in OPTIONAL_TABLES:
            raise ValueError(f"table {name!r} is required")
        return Source(pl.LazyFrame(schema={c.name: c.dtype for c in spec.columns}), False)
    frame = found.lazy().select(spec.column_names)
    if (
        isinstance(found, pl.DataFrame)
        and "unit_id" in found.columns
        and found.get_column("unit_id").is_sorted()
    ):
        return Source(frame.with_columns(pl.col("unit_id").set_sorted()), True)
    return Source(frame, False)


def units(tables: Mapping[str, Frame]) -> pl.DataFrame:
    """The unit columns, sorted by unit_id in code-point order (a drop's units usually are: nothing to do)."""
    found = source(tables, "units")
    rows = found.frame.select(UNIT_COLUMNS)
    return (
        (rows if found.by_unit else rows.sort("unit_id"))
        .collect()
        .with_columns(pl.col("unit_id").set_sorted())
    )


def headcounts(ids: pl.LazyFrame, hc: Source, data_year: int, fallback: str) -> pl.DataFrame:
    """H0, the month it was read from, and H1, for the units of ``ids`` (sorted, unique: their order is kept).

    (unit_id, month) is unique, so H0 and H1 are lookups of one month each; only the units without a December Y-1
    row look further, into the months of Y (A3).
    """
    base_m, last_m = month(data_year - 1, 12), month(data_year, 12)

    def at(month_text: str, name: str) -> pl.LazyFrame:
        return hc.frame.filter(pl.col("month") == month_text).select("unit_id", pl.col("insured").alias(name))

    ends = (
        ids.join(at(base_m, "_base"), on="unit_id", how="left", maintain_order="left")
        .join(at(last_m, "end_headcount"), on="unit_id", how="left", maintain_order="left")
        .collect()
        .with_columns(pl.col("unit_id").set_sorted())  # the order of ``ids``, which are sorted
    )
    if fallback == "first_month_in_year":
        without_base = ends.lazy().filter(pl.col("_base").is_null()).select(pl.col("unit_id").set_sorted())
        in_year = hc.frame.filter(pl.col("month").str.starts_with(f"{data_year:04d}-"))
        first = hc.per_unit(
            in_year.join(without_base, on="unit_id", how="semi", maintain_order="left"),
            pl.col("month").min().alias("_first_month"),
            pl.col("insured").sort_by("month").first().alias("_first"),
        )
    elif fallback == "none":
        first = pl.LazyFrame(schema={"unit_id": pl.String, "_first_month": pl.String, "_first": pl.Int64})
    else:
        raise ValueError(f"unknown base_headcount_fallback {fallback!r}")
    return (
        ends.lazy()
        .join(first, on="unit_id", how="left", maintain_order="left")
        .select(
            "unit_id",
            pl.coalesce("_base", "_first").alias("base_headcount"),
            pl.when(pl.col("_base").is_not_null())
            .then(pl.lit(base_m))
            .otherwise(pl.col("_first_month"))
            .alias("base_month"),
            "end_headcount",
        )
        .collect()
        .with_columns(pl.col("unit_id").set_sorted())
    )


def attrition(separations: Source, data_year: int, reasons: frozenset[str]) -> pl.LazyFrame:
    """N per unit: persons who left during Y for a natural-attrition reason."""
    rows = separations.frame.filter(
        pl.col("month").str.starts_with(f"{data_year:04d}-") & pl.col("reason").is_in(sorted(reasons))
    )
    return separations.per_unit(rows, pl.col("persons").sum().alias("natural_attrition"))


def premiums(contributions: Source, data_year: int, cutoff: date, *, count_full: bool = True) -> pl.LazyFrame:
    """B (premiums of Y paid by the cutoff) and, when asked, the count of fully paid periods of Y, per unit."""
    rows = contributions.frame.filter(pl.col("period").str.starts_with(f"{data_year:04d}-"))
    full = (pl.col("due_fen") > 0) & (pl.col("paid_fen") >= pl.col("due_fen"))
    return contributions.per_unit(
        rows,
        pl.when(pl.col("paid_on") <= cutoff).then("paid_fen").sum().alias("base_fen"),
        (full.sum().cast(pl.Int64) if count_full else pl.lit(None, dtype=pl.Int64)).alias(
            "full_paid_periods"
        ),
    )


def arrears(contributions: Source, as_of: date) -> pl.LazyFrame:
    """Unpaid premiums of every period before the as-of month, per unit (only rows in arrears are grouped)."""
    rows = contributions.frame.filter(
        (pl.col("due_fen") > pl.col("paid_fen")) & (pl.col("period") < month(as_of.year, as_of.month))
    )
    return contributions.per_unit(rows, (pl.col("due_fen") - pl.col("paid_fen")).sum().alias("arrears_fen"))


def confirmations(confirmed: Source, as_of: date) -> pl.LazyFrame:
    rows = confirmed.frame.filter(pl.col("confirmed_on") <= as_of)
    return confirmed.per_unit(rows, pl.col("confirmed_on").min().alias("dispatch_confirmed_on"))


def active_flags(flags: Source, as_of: date) -> pl.LazyFrame:
    """Per credit code, the earliest listed_on of each kind of flag active on the as-of date."""
    active = (pl.col("listed_on") <= as_of) & (
        pl.col("removed_on").is_null() | (pl.col("removed_on") > as_of)
    )
    return (
        flags.frame.filter(active)
        .group_by("credit_code")
        .agg(
            pl.when(pl.col("flag") == flag).then("listed_on").min().alias(column)
            for flag, column in FLAG_COLUMNS.items()
        )
    )


def paid_cutoff(params: ResolvedParams, as_of: date) -> date:
    rule = params["base_paid_cutoff"]
    if rule == "end_of_data_year":
        return date(params.data_year, 12, 31)
    if rule == "as_of":
        return as_of
    raise ValueError(f"unknown base_paid_cutoff {rule!r}")


def derive_facts(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.LazyFrame:
    """One row per unit of ``tables["units"]``, sorted by unit_id, with the unit columns and every derived fact.

    Every per-unit aggregate is aligned to the units by a left join on a frame of the keys alone (unique keys on
    the right, order kept), and the aligned columns are then placed beside the unit columns.
    """
    y = params.data_year
    contributions = source(tables, "contributions")
    cutoff = paid_cutoff(params, as_of)
    counted = [*COUNTED, "full_paid_periods"] if FULL_PAYMENT_SHORT in params.conditions else COUNTED
    per_unit = pl.collect_all(
        [
            attrition(source(tables, "separations"), y, params["natural_attrition_reasons"]),
            premiums(contributions, y, cutoff, count_full=len(counted) > len(COUNTED)),
            arrears(contributions, as_of),
            confirmations(source(tables, "dispatch_confirmations"), as_of),
        ]
    )
    unit_rows = units(tables)
    ids = unit_rows.lazy().select("unit_id")
    aligned = headcounts(ids, source(tables, "headcount"), y, params["base_headcount_fallback"]).lazy()
    for frame in per_unit:
        aligned = aligned.join(frame.lazy(), on="unit_id", how="left", maintain_order="left")
    flags = active_flags(source(tables, "credit_flags"), as_of)
    by_code = (
        unit_rows.lazy()
        .select("credit_code")
        .join(flags, on="credit_code", how="left", maintain_order="left")
    )
    facts, listed = pl.collect_all([aligned.drop("unit_id"), by_code.drop("credit_code")])
    return (
        pl.concat([unit_rows, facts, listed], how="horizontal")
        .lazy()
        .with_columns(
            pl.col(*counted).fill_null(0),
            pl.lit(cutoff).alias("paid_cutoff"),
        )
    )
