"""The unit plan: one row per synthetic unit with everything later tables derive from.

``unit_plan(seed, start, stop, first_number)`` returns a frame over unit indexes ``start..stop-1`` holding the public
``units.csv`` columns plus hidden ones (prefixed ``_``) that drive the other tables: the headcount anchors
(``_s`` first and ``_e`` last insured month as an index 0 = 2019-01 … 29 = 2021-06; ``_a`` headcount at ``_s``,
``_h0`` at 2019-12 or at ``_s`` when later, ``_h1`` at 2020-12, ``_h2`` at 2021-06; ``_gap``: no 2020-12 row),
the monthly churn rate, the wage base and the payment behaviour. Every draw is keyed by the unit index, so a
unit is the same whatever the batch it is generated in.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from . import catalog, ids, names, rng, sizing

TYPE_NAMES = [t.name for t in catalog.UNIT_TYPES]

# Payment behaviour (``_pay``): 0 pays in full on time, 1 pays some 2020 periods only in 2021, 2 leaves
# arrears, 3 over-pays one period.
PAY_WEIGHTS = (89.0, 4.0, 5.0, 2.0)


def _u(seed: int, stream: str) -> pl.Expr:
    return rng.uniform(seed, stream, pl.col("idx"))


def _lognormal(seed: int, stream: str, median: float | pl.Expr, sigma: float | pl.Expr) -> pl.Expr:
    h = rng.bits(seed, stream, pl.col("idx"))
    return rng.lognormal(rng.u26(h, 0), rng.u26(h, 1), median, sigma)


def _round(x: pl.Expr) -> pl.Expr:
    """Half-up rounding of a non-negative float to Int64 (floor(x + 0.5))."""
    return (x + 0.5).floor().cast(pl.Int64)


def _per_type(values: dict[str, pl.Expr], default: pl.Expr) -> pl.Expr:
    """A value chosen by ``unit_type``."""
    out = default
    for name, expr in values.items():
        out = pl.when(pl.col("unit_type") == name).then(expr).otherwise(out)
    return out


def _classification(seed: int) -> list[pl.Expr]:
    u_type = _u(seed, "unit.type")
    type_i = rng.choice(u_type, [t.weight for t in catalog.UNIT_TYPES])
    return [
        rng.pick(type_i, TYPE_NAMES).alias("unit_type"),
        rng.choice(_u(seed, "unit.district"), [d[2] for d in catalog.DISTRICTS]).alias("_district_i"),
    ]


def _industry(seed: int) -> pl.Expr:
    u = _u(seed, "unit.industry")
    ent = catalog.ENTERPRISE_INDUSTRIES
    enterprise = rng.pick(rng.choice(u, [i.weight for i in ent]), [i.code for i in ent])
    dispatch = rng.pick(
        rng.choice(u, [w for _, w in catalog.DISPATCH_INDUSTRIES]),
        [c for c, _ in catalog.DISPATCH_INDUSTRIES],
    )
    per_type = {
        t.name: rng.pick(rng.choice(u, [w for _, w in t.industries]), [c for c, _ in t.industries])
        for t in catalog.UNIT_TYPES
        if t.industries
    }
    return (
        pl.when(pl.col("dispatch") == 1)
        .then(dispatch)
        .otherwise(_per_type(per_type, enterprise))
        .alias("industry")
    )


def _dispatch(seed: int) -> pl.Expr:
    is_enterprise = pl.col("unit_type") == "enterprise"
    return (is_enterprise & (_u(seed, "unit.dispatch") < 0.023)).cast(pl.Int64).alias("dispatch")


def _start(seed: int) -> list[pl.Expr]:
    """First insured month ``_s`` (82% from 2019-01, then later in 2019, in 2020, a few in 2021)."""
    u = _u(seed, "unit.start")
    h = rng.bits(seed, "unit.start.month", pl.col("idx"))
    start = (
        pl.when(u < 0.82)
        .then(0)
        .when(u < 0.91)
        .then(rng.int_between(rng.u26(h, 0), 1, 11))
        .when(u < 0.985)
        .then(rng.int_between(rng.u26(h, 0), 12, 22))
        .otherwise(rng.int_between(rng.u26(h, 0), 24, 29))
    )
    return [start.cast(pl.Int64).alias("_s"), (rng.u26(h, 1) < 0.015).alias("_gap_draw")]


def _deregistration(seed: int) -> pl.Expr:
    """2.5% of units deregister, between 2020-03-01 (or the month after the first insured one) and 852 days
    later: about half of them before the 2021-07-01 as-of date."""
    s1 = pl.col("_s") + 1
    after_start = pl.date(2019 + s1 // 12, s1 % 12 + 1, 1)
    earliest = pl.max_horizontal(pl.lit(date(2020, 3, 1)), after_start)
    days = rng.int_between(_u(seed, "unit.dereg.date"), 0, 851)
    dereg = pl.when(_u(seed, "unit.dereg") < 0.025).then(earliest + pl.duration(days=days))
    return dereg.cast(pl.Date).alias("deregistered_on")


def _end() -> list[pl.Expr]:
    """Last insured month ``_e`` (the month before deregistration) and the 2020-12 gap ``_gap``."""
    dereg = pl.col("deregistered_on")
    month_index = (dereg.dt.year().cast(pl.Int64) - 2019) * 12 + dereg.dt.month().cast(pl.Int64) - 1
    end = pl.when(dereg.is_null()).then(29).otherwise((month_index - 1).clip(pl.col("_s"), 29))
    return [
        end.cast(pl.Int64).alias("_e"),
        (pl.col("_gap_draw") & (pl.col("_s") <= 22) & (end >= 24) & dereg.is_null()).alias("_gap"),
    ]


def _scale(seed: int) -> pl.Expr:
    """Headcount when first insured: mostly a handful, a long tail of bigger units."""
    big_share = _per_type(
        {"government_agency": pl.lit(0.35), "public_institution": pl.lit(0.25), "law_firm": pl.lit(0.06)},
        pl.when(pl.col("dispatch") == 1).then(0.35).otherwise(0.018),
    )
    small_median = _per_type(
        {"individual_business": pl.lit(1.6), "foundation": pl.lit(2.0), "law_firm": pl.lit(4.0)}, pl.lit(2.4)
    )
    small = _lognormal(seed, "unit.scale.small", small_median, 0.95)
    big = _lognormal(seed, "unit.scale.big", 40.0, 1.3)
    scale = pl.when(_u(seed, "unit.scale.big?") < big_share).then(big).otherwise(small)
    return _round(scale).clip(1, 60_000).alias("_a")


def _anchors(seed: int) -> list[pl.Expr]:
    """Headcount at 2019-12 (``_h0``), 2020-12 (``_h1``) and 2021-06 (``_h2``)."""
    s, a = pl.col("_s"), pl.col("_a")
    h0 = pl.when(s < 11).then(_round(a * _lognormal(seed, "unit.growth19", 1.02, 0.08))).otherwise(a)
    fate = _u(seed, "unit.fate20")
    p_shrink = pl.when(pl.col("deregistered_on").is_not_null()).then(0.6).otherwise(0.18)
    shrink = 1.0 - rng.int_between(_u(seed, "unit.shrink"), 8, 75).cast(pl.Float64) / 100.0
    stable = _lognormal(seed, "unit.growth20", 1.01, 0.05)
    h1 = (
        pl.when(fate < 0.006)
        .then(0)  # dormant: everyone gone by December
        .when(fate < p_shrink)
        .then((h0 * shrink).floor().cast(pl.Int64))
        .otherwise(_round(h0 * stable))
    )
    h1 = pl.when(s > 23).then(a).otherwise(h1)
    h2 = pl.when(h1 == 0).then(0).otherwise(_round(h1 * _lognormal(seed, "unit.growth21", 1.01, 0.05)))
    h2 = pl.when(s > 23).then(a).otherwise(h2)
    # a few units insured with nobody at first (H0 = 0 is used as it is, A3)
    zero_start = (_u(seed, "unit.zero") < 0.002) & (s > 11) & (s <= 22)
    return [
        pl.when(zero_start).then(0).otherwise(h0).alias("_h0"),
        h1.clip(0, None).alias("_h1"),
        h2.clip(0, None).alias("_h2"),
        pl.when(zero_start).then(0).otherwise(a).alias("_a"),
    ]


def _wages(seed: int) -> list[pl.Expr]:
    """Monthly wage base per person in yuan (integer) by year; 1% of it is the premium in fen."""
    division = pl.col("industry").str.slice(0, 2).cast(pl.Int32)
    multiplier = (
        pl.when(division.is_in([63, 64, 65, 66, 67, 68, 69, 73]))
        .then(1.6)
        .when(division.is_in([52, 61, 62, 70, 80, 81, 82]))
        .then(0.85)
        .otherwise(1.0)
    )
    w19 = _round(_lognormal(seed, "unit.wage", 4_900.0, 0.4) * multiplier).clip(4_500, 30_000)
    g = rng.bits(seed, "unit.wage.growth", pl.col("idx"))
    w20 = w19 * (1000 + rng.int_between(rng.u26(g, 0), 0, 80)) // 1000
    w21 = w20 * (1000 + rng.int_between(rng.u26(g, 1), 0, 80)) // 1000
    return [w19.alias("_w19"), w20.alias("_w20"), w21.alias("_w21")]


def _behaviour(seed: int) -> list[pl.Expr]:
    """Monthly churn rate and payment behaviour parameters."""
    churn = _lognormal(seed, "unit.churn", 0.009, 0.7).clip(0.0, 0.06)
    h = rng.bits(seed, "unit.pay.params", pl.col("idx"))
    late_all = rng.u26(h, 1) < 0.15
    return [
        churn.alias("_churn"),
        rng.choice(_u(seed, "unit.pay"), PAY_WEIGHTS).cast(pl.Int64).alias("_pay"),
        pl.when(late_all).then(12).otherwise(rng.int_between(rng.u26(h, 0), 13, 23)).alias("_late_from"),
        rng.int_between(rng.u26(h, 0), 4, 29).alias("_arrears_from"),
        rng.int_between(rng.u26(h, 1), 1, 8).alias("_arrears_months"),
        rng.int_between(rng.u26(h, 1), 0, 29).alias("_over_period"),
    ]


def _latent_size(seed: int) -> list[pl.Expr]:
    """Complete latent employees, revenue and assets (``_x``, ``_y``, ``_z``), before any is hidden."""
    ind = catalog.ENTERPRISE_INDUSTRIES
    rpe = pl.col("industry").replace_strict(
        {i.code: i.revenue_per_employee for i in ind}, default=catalog.DEFAULT_REVENUE_PER_EMPLOYEE
    )
    ratio = pl.col("industry").replace_strict(
        {i.code: i.asset_ratio for i in ind}, default=catalog.DEFAULT_ASSET_RATIO
    )
    reference = pl.max_horizontal(pl.col("_h1"), pl.col("_h2"), pl.col("_a"), pl.lit(1))
    employees = _round(reference * _lognormal(seed, "unit.employees", 1.1, 0.15)).clip(1, None)
    revenue = (employees * rpe * _lognormal(seed, "unit.revenue", 1.0, 0.8)).floor().cast(pl.Int64)
    assets = (revenue * ratio * _lognormal(seed, "unit.assets", 1.0, 0.6)).floor().cast(pl.Int64)
    return [employees.alias("_x"), revenue.alias("_y"), assets.alias("_z")]


def _declared_and_indicators(seed: int) -> list[pl.Expr]:
    """Which indicators the drop shows, and the declared class (mostly the true one, sometimes a band off)."""
    true = pl.col("_size_true")
    enterprise = pl.col("unit_type") == "enterprise"
    u = _u(seed, "unit.indicators")
    all_three = pl.when(enterprise).then(u < 0.50).otherwise(u < 0.04)
    employees_only = pl.when(enterprise).then(u.is_between(0.50, 0.65)).otherwise(u.is_between(0.04, 0.30))
    revenue_only = enterprise & u.is_between(0.65, 0.70)
    h = rng.bits(seed, "unit.declared", pl.col("idx"))
    declared_present = pl.when(enterprise).then(rng.u26(h, 0) < 0.70).otherwise(rng.u26(h, 0) < 0.03)
    off = rng.u26(h, 1)
    bands = [*sizing.BANDS, "micro"]
    band = true.replace_strict({b: i for i, b in enumerate(bands)}, return_dtype=pl.Int64)
    shifted = pl.when(off < 0.03).then(band - 1).when(off < 0.07).then(band + 1).otherwise(band).clip(0, 3)
    return [
        pl.when(declared_present).then(rng.pick(shifted.cast(pl.UInt32), bands)).alias("size_class_declared"),
        pl.when(all_three | employees_only).then(pl.col("_x")).alias("employees"),
        pl.when(all_three | revenue_only).then(pl.col("_y")).alias("revenue_yuan"),
        pl.when(all_three).then(pl.col("_z")).alias("assets_yuan"),
    ]


def _identity(seed: int, first_number: int) -> list[pl.Expr]:
    """unit_id, credit_code, name and phone."""
    types = {t.name: t for t in catalog.UNIT_TYPES}
    authority = pl.col("unit_type").replace_strict({n: t.authority for n, t in types.items()})
    category = pl.col("unit_type").replace_strict({n: t.category for n, t in types.items()})
    body = ids.organisation_body(seed, pl.col("idx"))
    new_style = _u(seed, "uscc.style") < 0.45
    phone_present = _u(seed, "phone?") < 0.93
    number = pl.lit(first_number, pl.Int64) + ids.unit_gap(seed, pl.col("idx")).cum_sum()
    return [
        number.cast(pl.String).alias("unit_id"),
        ids.uscc(authority, category, pl.col("district"), body, new_style).alias("credit_code"),
        names.unit_name(seed).alias("name"),
        pl.when(phone_present).then(names.mobile(seed, pl.col("idx"))).alias("phone"),
    ]


def district_columns() -> list[pl.Expr]:
    codes = [d[0] for d in catalog.DISTRICTS]
    labels = [d[1] for d in catalog.DISTRICTS]
    return [
        rng.pick(pl.col("_district_i"), codes).alias("district"),
        rng.pick(pl.col("_district_i"), labels).alias("_district_name"),
    ]


def unit_plan(seed: int, start: int, stop: int, first_number: int) -> pl.DataFrame:
    """Units ``start..stop-1``; ``first_number`` is the unit number before the first gap of this batch."""
    base = pl.LazyFrame({"idx": pl.int_range(start, stop, dtype=pl.UInt64, eager=True)})
    plan = (
        base.with_columns(_classification(seed))
        .with_columns(_dispatch(seed), *district_columns())
        .with_columns(_industry(seed), *_start(seed))
        .with_columns(_deregistration(seed))
        .with_columns(_end())
        .with_columns(_scale(seed))
        .with_columns(_anchors(seed))
        .with_columns(*_wages(seed), *_behaviour(seed), *_latent_size(seed))
        .with_columns(sizing.threshold_columns(sizing.size_row(pl.col("industry"))))
        .with_columns(sizing.size_class(pl.col("_x"), pl.col("_y"), pl.col("_z")).alias("_size_true"))
        .with_columns(_declared_and_indicators(seed))
        .with_columns(_identity(seed, first_number))
    )
    return plan.collect()
