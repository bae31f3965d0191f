"""The 2017 size table (统计上大中小微型企业划分办法, domain.md §4), vectorised, for a consistent synthetic drop.

The generator draws latent employees, revenue and assets for every unit, classifies them here, and writes the
class as ``size_class_declared`` (mostly) so that what a drop declares agrees with what its indicators say.
This is not the policy engine's classifier; it follows the same table and row choice (``701…`` real-estate
development, ``702…`` property management, else the two-digit division).
"""

from __future__ import annotations

import polars as pl

WAN = 10_000  # yuan per 万元

# row name -> ((X, Y, Z) for large, medium, small); X persons, Y revenue and Z assets in 万元; None = unused.
Bound = tuple[int | None, int | None, int | None]
SIZE_TABLE: dict[str, tuple[Bound, Bound, Bound]] = {
    "agriculture": ((None, 20000, None), (None, 500, None), (None, 50, None)),
    "industry": ((1000, 40000, None), (300, 2000, None), (20, 300, None)),
    "construction": ((None, 80000, 80000), (None, 6000, 5000), (None, 300, 300)),
    "wholesale": ((200, 40000, None), (20, 5000, None), (5, 1000, None)),
    "retail": ((300, 20000, None), (50, 500, None), (10, 100, None)),
    "transport": ((1000, 30000, None), (300, 3000, None), (20, 200, None)),
    "warehousing": ((200, 30000, None), (100, 1000, None), (20, 100, None)),
    "postal": ((1000, 30000, None), (300, 2000, None), (20, 100, None)),
    "hospitality": ((300, 10000, None), (100, 2000, None), (10, 100, None)),
    "information": ((2000, 100000, None), (100, 1000, None), (10, 100, None)),
    "software": ((300, 10000, None), (100, 1000, None), (10, 50, None)),
    "real_estate_development": ((None, 200000, 10000), (None, 1000, 5000), (None, 100, 2000)),
    "property_management": ((1000, 5000, None), (300, 1000, None), (100, 500, None)),
    "leasing_business": ((300, None, 120000), (100, None, 8000), (10, None, 100)),
    "other": ((300, None, None), (100, None, None), (10, None, None)),
}
BANDS = ("large", "medium", "small")


def size_row(industry: pl.Expr) -> pl.Expr:
    """The size-table row name for an industry code."""
    division = industry.str.slice(0, 2).cast(pl.Int32)
    return (
        pl.when(industry.str.starts_with("701"))
        .then(pl.lit("real_estate_development"))
        .when(industry.str.starts_with("702"))
        .then(pl.lit("property_management"))
        .when(division <= 5)
        .then(pl.lit("agriculture"))
        .when(division <= 46)
        .then(pl.lit("industry"))
        .when(division <= 50)
        .then(pl.lit("construction"))
        .when(division == 51)
        .then(pl.lit("wholesale"))
        .when(division == 52)
        .then(pl.lit("retail"))
        .when(division.is_between(54, 58))
        .then(pl.lit("transport"))
        .when(division == 59)
        .then(pl.lit("warehousing"))
        .when(division == 60)
        .then(pl.lit("postal"))
        .when(division.is_between(61, 62))
        .then(pl.lit("hospitality"))
        .when(division.is_between(63, 64))
        .then(pl.lit("information"))
        .when(division == 65)
        .then(pl.lit("software"))
        .when(division.is_between(71, 72))
        .then(pl.lit("leasing_business"))
        .otherwise(pl.lit("other"))
    )


def threshold_columns(row: pl.Expr) -> list[pl.Expr]:
    """Per band ``l``/``m``/``s`` and indicator ``x``/``y``/``z``, the lower bound of the row in persons or
    yuan, as columns named ``_l_x`` … (null when the row does not use the indicator)."""
    out = []
    for band_i, band in enumerate("lms"):
        for ind_i, ind in enumerate("xyz"):
            scale = 1 if ind == "x" else WAN
            mapping = {
                name: None if bounds[band_i][ind_i] is None else bounds[band_i][ind_i] * scale  # type: ignore[operator]
                for name, bounds in SIZE_TABLE.items()
            }
            out.append(row.replace_strict(mapping, return_dtype=pl.Int64).alias(f"_{band}_{ind}"))
    return out


def size_class(x: pl.Expr, y: pl.Expr, z: pl.Expr) -> pl.Expr:
    """The band of (employees, revenue yuan, assets yuan) on a frame holding ``threshold_columns``: the highest
    band all of whose bounds are met, else micro. Inputs must be non-null (complete latent values)."""

    def meets(band: str) -> pl.Expr:
        return pl.all_horizontal(
            [
                (v >= pl.col(f"_{band}_{i}")) | pl.col(f"_{band}_{i}").is_null()
                for v, i in ((x, "x"), (y, "y"), (z, "z"))
            ]
        )

    return (
        pl.when(meets("l"))
        .then(pl.lit("large"))
        .when(meets("m"))
        .then(pl.lit("medium"))
        .when(meets("s"))
        .then(pl.lit("small"))
        .otherwise(pl.lit("micro"))
    )
