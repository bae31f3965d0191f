"""Time the policy engine alone on large synthetic in-memory frames (no files, no validation).

    .venv/bin/python -m tests.policy.engine_timing 1000000 [--shuffle] [--runs 5]

Builds, with Polars only and deterministically, ``N`` units with 24 months of headcount (2019-01 … 2020-12, a 2%
gap in December 2019 so that the A3 fallback works), 30 periods of contributions (1% unpaid), two separations per
unit on average, 3% of credit codes flagged and 2% dispatch units, typed as validation returns them; then times
``engine.screen`` for beijing-2021 on 2021-07-01. ``--shuffle`` puts every table in random order (the hash path
instead of the sorted-key path). The full command, validation and files included, is measured by
``bench/screen.py``; this measures the engine alone.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import polars as pl

from mianshen.policy import engine
from mianshen.policy.parameters import resolve

TYPES = ["enterprise"] * 8 + ["social_organization", "law_firm"]
INDUSTRIES = ["6513", "5211", "13", "7010", "7020", "4710", "8010"]


def _pick(index: pl.Expr, salt: int, modulo: int) -> pl.Expr:
    return (index.hash(seed=salt) % modulo).cast(pl.Int64)


def _uid(index: pl.Expr) -> pl.Expr:
    return pl.format("U{}", index.cast(pl.String).str.zfill(9))


def _numbered(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))


def build(n: int) -> dict[str, pl.DataFrame]:
    i = pl.int_range(0, n, dtype=pl.Int64)
    units = pl.select(
        line=i + 2,
        unit_id=_uid(i),
        credit_code=pl.format("91110105{}X", i.cast(pl.String).str.zfill(9)),
        name=pl.lit("单位"),
        unit_type=pl.lit(TYPES).list.get(_pick(i, 1, len(TYPES))),
        industry=pl.lit(INDUSTRIES).list.get(_pick(i, 2, len(INDUSTRIES))),
        district=pl.lit("110105"),
        dispatch=_pick(i, 3, 50) == 0,
        size_class_declared=pl.when(_pick(i, 4, 3) == 0).then(pl.lit("small")),
        employees=pl.when(_pick(i, 5, 2) == 0).then(_pick(i, 6, 2000)),
        revenue_yuan=pl.when(_pick(i, 7, 3) == 0).then(_pick(i, 8, 10**9)),
        assets_yuan=pl.when(_pick(i, 9, 3) == 0).then(_pick(i, 10, 10**9)),
        deregistered_on=pl.when(_pick(i, 11, 100) == 0).then(pl.lit(date(2021, 3, 1))),
        phone=pl.lit(None, dtype=pl.String),
    )
    ids = pl.DataFrame({"u": pl.int_range(0, n, dtype=pl.Int64, eager=True)})
    months = pl.DataFrame({"month": [f"{2019 + k // 12}-{k % 12 + 1:02d}" for k in range(24)]})
    hc = (
        ids.join(months, how="cross")
        .with_row_index("k")
        .filter(~((pl.col("month") == "2019-12") & (_pick(pl.col("u"), 14, 50) == 0)))
        .select(
            _uid(pl.col("u")).alias("unit_id"),
            "month",
            (_pick(pl.col("u"), 12, 300) + _pick(pl.col("k").cast(pl.Int64), 13, 5)).alias("insured"),
        )
    )
    periods = pl.DataFrame({"period": [f"{2019 + k // 12}-{k % 12 + 1:02d}" for k in range(30)]})
    co = (
        ids.join(periods, how="cross")
        .with_row_index("k")
        .with_columns(k=pl.col("k").cast(pl.Int64), due_fen=_pick(pl.col("u"), 15, 100_000) + 100)
        .select(
            _uid(pl.col("u")).alias("unit_id"),
            "period",
            "due_fen",
            pl.when(_pick(pl.col("k"), 16, 100) == 0).then(0).otherwise(pl.col("due_fen")).alias("paid_fen"),
        )
        .with_columns(
            pl.when(pl.col("paid_fen") > 0)
            .then(pl.col("period").str.to_date("%Y-%m") + pl.duration(days=20))
            .alias("paid_on")
        )
    )
    k = pl.int_range(0, 2 * n, dtype=pl.Int64)
    separations = (
        pl.select(
            unit_id=_uid(_pick(k, 17, n)),
            month=pl.concat_str([pl.lit("2020-"), (_pick(k, 18, 12) + 1).cast(pl.String).str.zfill(2)]),
            reason=pl.lit(["retirement", "death", "resignation"]).list.get(_pick(k, 19, 3)),
            persons=_pick(k, 20, 3) + 1,
        )
        .unique(subset=["unit_id", "month", "reason"], keep="first", maintain_order=True)
        .sort("unit_id")
    )
    flags = units.filter(_pick(pl.col("line"), 21, 30) == 0).select(
        "credit_code",
        flag=pl.lit(["serious_dishonesty", "abnormal_operation", "commitment_breach"]).list.get(
            _pick(pl.col("line"), 22, 3)
        ),
        listed_on=pl.lit(date(2020, 5, 1)),
        removed_on=pl.lit(None, dtype=pl.Date),
        source=pl.lit("synthetic"),
    )
    confirmed = units.filter(pl.col("dispatch") & (_pick(pl.col("line"), 23, 2) == 0)).select(
        "unit_id", confirmed_on=pl.lit(date(2021, 3, 1))
    )
    return {
        "units": units,
        "headcount": _numbered(hc),
        "contributions": _numbered(co),
        "separations": _numbered(separations),
        "credit_flags": _numbered(flags),
        "dispatch_confirmations": _numbered(confirmed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("units", type=int)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shuffle", action="store_true")
    args = parser.parse_args()
    tables = build(args.units)
    if args.shuffle:
        tables = {name: frame.sample(fraction=1.0, shuffle=True, seed=5) for name, frame in tables.items()}
    sizes = ", ".join(f"{name} {frame.height:,}" for name, frame in tables.items())
    params = resolve("beijing-2021", date(2021, 7, 1))
    walls, cpus = [], []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        decided = engine.screen(tables, params, date(2021, 7, 1))
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    walls.sort()
    cpus.sort()
    print(f"{sizes}{' (shuffled)' if args.shuffle else ''}")
    print(
        f"engine.screen: median {walls[len(walls) // 2]:.2f} s (min {walls[0]:.2f} s), "
        f"CPU median {cpus[len(cpus) // 2]:.2f} s, {decided.height:,} decisions"
    )


if __name__ == "__main__":
    main()
