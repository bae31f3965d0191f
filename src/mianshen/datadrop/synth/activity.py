"""Monthly facts of the synthetic units: headcount, separations and contributions, from the unit plan.

Months are indexes ``t`` (0 = 2019-01 … 29 = 2021-06). A unit is insured from ``_s`` to ``_e``.

- **Headcount** follows straight lines between the anchors ``_a`` (at ``_s``), ``_h0`` (2019-12), ``_h1``
  (2020-12) and ``_h2`` (2021-06), rounded half up, plus a little noise away from the anchor months (±1 in 4%
  of months for small units, about ±1% for big ones). ``headcount.csv`` holds 2019-01 … 2020-12 (no 2020-12 row
  for units with ``_gap``); the path goes on to 2021-06 to size the 2021 premiums.
- **Separations** are derived from the path, so the headcount reflects them: in month ``t`` the leavers are the
  net decrease ``max(H[t-1] - H[t], 0)`` plus replaced churn ``floor(H[t-1] * churn + u)`` (capped so nobody
  leaves twice). They are split over at most two reasons, drawn with weights that favour dismissal and
  contract end in months where the headcount fell and resignation otherwise; retirement and death stay modest.
- **Contributions**, one row per insured month with ``insured > 0``: ``due_fen = insured * wage_base`` (1% of a
  wage base in yuan is that many fen: employer 0.5% + employee 0.5%). Paid in full in the period's month (90%)
  or the next; payment behaviour ``_pay`` adds 2020 periods paid in 2021, arrears (nothing or 10–89% paid) and
  over-payments (1–100% more). Partial amounts are ``due * pct // 100`` in integers; no float touches money.
"""

from __future__ import annotations

import polars as pl

from ..schema import SEPARATION_REASONS
from . import rng

LAST_HEADCOUNT_MONTH = 23  # 2020-12
LAST_PERIOD = 29  # 2021-06
MONTHS = [f"{2019 + t // 12}-{t % 12 + 1:02d}" for t in range(LAST_PERIOD + 1)]

# Reason weights in schema.SEPARATION_REASONS order:
# retirement, death, resignation, dismissal, contract_end, transfer, other
REASONS_CHURN = (7.0, 0.5, 56.0, 3.0, 20.0, 8.0, 5.5)
REASONS_DECLINE = (4.0, 0.6, 32.0, 33.0, 21.0, 5.5, 3.9)


def _key() -> pl.Expr:
    return pl.col("idx") * 32 + pl.col("t").cast(pl.UInt64)


def _month(t: pl.Expr) -> pl.Expr:
    return rng.pick(t.cast(pl.UInt32), MONTHS)


def unit_months(plan: pl.DataFrame, seed: int) -> pl.DataFrame:
    """One row per unit and insured month ``t`` in ``_s.._e`` with the headcount ``h`` and the previous
    month's ``h_prev`` (null in the first month)."""
    cols = ["idx", "unit_id", "_s", "_e", "_gap", "_a", "_h0", "_h1", "_h2", "_churn"]
    cols += ["_w19", "_w20", "_w21", "_pay", "_late_from", "_arrears_from", "_arrears_months", "_over_period"]
    lf = plan.lazy().select(cols).with_columns(t=pl.int_ranges("_s", pl.col("_e") + 1)).explode("t")
    lf = lf.with_columns(pl.col("t").cast(pl.Int64))
    s, t = pl.col("_s"), pl.col("t")
    m1 = pl.max_horizontal(s, pl.lit(11))
    m2 = pl.max_horizontal(s, pl.lit(23))

    def seg(t0: pl.Expr, v0: str, t1: pl.Expr, v1: str) -> pl.Expr:
        span = pl.max_horizontal(t1 - t0, pl.lit(1)).cast(pl.Float64)
        return pl.col(v0) + (pl.col(v1) - pl.col(v0)).cast(pl.Float64) * (t - t0).cast(pl.Float64) / span

    line = (
        pl.when(t <= m1)
        .then(seg(s, "_a", m1, "_h0"))
        .when(t <= m2)
        .then(seg(m1, "_h0", m2, "_h1"))
        .otherwise(seg(m2, "_h1", pl.lit(LAST_PERIOD), "_h2"))
    )
    h = rng.bits(seed, "month.noise", _key())
    u1, u2 = rng.u26(h, 0), rng.u26(h, 1)
    base = (line + 0.5).floor().cast(pl.Int64)
    small_noise = pl.when(u1 < 0.02).then(-1).when(u1 < 0.04).then(1).otherwise(0)
    big_noise = ((u2 - 0.5) * 0.02 * base.cast(pl.Float64) + 0.5).floor().cast(pl.Int64)
    anchor = (t == s) | (t == 11) | (t == 23) | (t == LAST_PERIOD)
    noise = pl.when(anchor | (base < 2)).then(0).when(base >= 40).then(big_noise).otherwise(small_noise)
    lf = lf.with_columns(h=(base + noise).clip(0, None))
    lf = lf.with_columns(h_prev=pl.when(t == s).then(None).otherwise(pl.col("h").shift(1)))
    return lf.collect()


def headcount(um: pl.DataFrame) -> pl.DataFrame:
    t = pl.col("t")
    rows = um.lazy().filter((t <= LAST_HEADCOUNT_MONTH) & ~(pl.col("_gap") & (t == LAST_HEADCOUNT_MONTH)))
    return rows.select("unit_id", _month(t).alias("month"), pl.col("h").alias("insured")).collect()


def separations(um: pl.DataFrame, seed: int) -> pl.DataFrame:
    t, h, prev = pl.col("t"), pl.col("h"), pl.col("h_prev")
    churn_u = rng.uniform(seed, "month.churn", _key())
    churn = ((prev.cast(pl.Float64) * pl.col("_churn") + churn_u).floor().cast(pl.Int64)).clip(
        0, pl.min_horizontal(prev, h)
    )
    lf = (
        um.lazy()
        .filter((t <= LAST_HEADCOUNT_MONTH) & prev.is_not_null())
        .select("idx", "unit_id", "t", (prev - h).clip(0, None).alias("drop"), churn.alias("churn"))
        .with_columns(leavers=pl.col("drop") + pl.col("churn"))
        .filter(pl.col("leavers") > 0)
    )
    hr = rng.bits(seed, "month.reasons", _key())
    decline = pl.col("drop") > 0
    r1 = (
        pl.when(decline)
        .then(rng.choice(rng.u26(hr, 0), REASONS_DECLINE))
        .otherwise(rng.choice(rng.u26(hr, 0), REASONS_CHURN))
    )
    r2 = (
        pl.when(decline)
        .then(rng.choice(rng.u26(hr, 1), REASONS_DECLINE))
        .otherwise(rng.choice(rng.u26(hr, 1), REASONS_CHURN))
    )
    share = rng.uniform(seed, "month.split", _key()) * 0.5
    second = (pl.col("leavers").cast(pl.Float64) * share).floor().cast(pl.Int64)
    lf = lf.with_columns(r1=r1, r2=r2, n2=pl.when(r1 == r2).then(0).otherwise(second))
    lf = lf.with_columns(n1=pl.col("leavers") - pl.col("n2"))
    first = lf.select("idx", "unit_id", "t", pl.col("r1").alias("r"), pl.col("n1").alias("persons"))
    other = lf.filter(pl.col("n2") > 0).select(
        "idx", "unit_id", "t", pl.col("r2").alias("r"), pl.col("n2").alias("persons")
    )
    both = pl.concat([first, other]).sort("idx", "t", "r")
    reason = rng.pick(pl.col("r"), list(SEPARATION_REASONS))
    return both.select("unit_id", _month(t).alias("month"), reason.alias("reason"), "persons").collect()


def _date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    return pl.date(year, month, day)


def contributions(um: pl.DataFrame, seed: int) -> pl.DataFrame:
    t, h = pl.col("t"), pl.col("h")
    wage = pl.when(t < 12).then(pl.col("_w19")).when(t < 24).then(pl.col("_w20")).otherwise(pl.col("_w21"))
    due = h * wage
    hp = rng.bits(seed, "month.payment", _key())
    u_when, u_day, u_amount = rng.u26(hp, 0), rng.u26(hp, 1), (hp % 4096).cast(pl.Float64) / 4096.0
    year, month = 2019 + t // 12, t % 12 + 1
    next_year, next_month = 2019 + (t + 1) // 12, (t + 1) % 12 + 1
    on_time = _date(year, month, rng.int_between(u_day, 5, 28))
    next_month_date = _date(next_year, next_month, rng.int_between(u_day, 1, 20))
    paid_on = pl.when((u_when < 0.9) | (t == LAST_PERIOD)).then(on_time).otherwise(next_month_date)
    pay = pl.col("_pay")
    late = (pay == 1) & (t >= pl.col("_late_from")) & (t <= LAST_HEADCOUNT_MONTH)
    late_date = _date(pl.lit(2021), rng.int_between(u_day, 1, 6), rng.int_between(u_when, 1, 28))
    in_arrears = (
        (pay == 2)
        & (t >= pl.col("_arrears_from"))
        & (t < pl.col("_arrears_from") + pl.col("_arrears_months"))
    )
    nothing = in_arrears & (u_amount < 0.6)
    part = due * rng.int_between(u_amount, 10, 89) // 100
    over = (pay == 3) & (t == pl.col("_over_period"))
    extra = due * rng.int_between(u_amount, 1, 100) // 100
    paid = pl.when(nothing).then(0).when(in_arrears).then(part).when(over).then(due + extra).otherwise(due)
    paid_on = pl.when(nothing).then(None).when(late).then(late_date).otherwise(paid_on)
    rows = um.lazy().filter((h > 0) & ~(pl.col("_gap") & (t == LAST_HEADCOUNT_MONTH)))
    return rows.select(
        "unit_id",
        _month(t).alias("period"),
        due.alias("due_fen"),
        paid.cast(pl.Int64).alias("paid_fen"),
        paid_on.cast(pl.Date).alias("paid_on"),
    ).collect()
