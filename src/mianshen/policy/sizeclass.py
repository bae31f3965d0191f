"""Size class (企业划型) of a unit: the 2017 size table and the fallbacks of contracts §2.1, vectorised.

The table is 国统字〔2017〕213号《统计上大中小微型企业划分办法（2017）》 (domain.md §4): X = employees (从业人员),
Y = operating revenue (营业收入), Z = total assets (资产总额); revenue and asset bounds are in 万元 (10,000 yuan).
A band (large, then medium, then small) applies when every one of its lower bounds is met; otherwise micro.

The first rule that applies decides (``size_basis``):

1. ``indicators``: the industry's row of the table, when every indicator that row uses is present. The row is
   chosen by the code's prefix: ``701`` real-estate development, ``702`` property management, otherwise the
   division (first two digits); divisions the table does not name use the employees-only "every other" row.
2. ``declared``: ``size_class_declared`` when present.
3. ``headcount``: the "every other industry" row applied to ``employees`` when present, else to the base headcount
   H0 (assumption A5; with ``size_headcount_fallback = employees_only`` H0 is not used).
4. ``unknown``: none applies; the size class is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

BANDS = ("large", "medium", "small")  # tested in this order; micro is what is left
WAN = 10_000  # yuan in one 万元


@dataclass(frozen=True)
class SizeRow:
    """One row of the 2017 table: the lower bounds of each band; ``None`` where the row does not use an indicator."""

    key: str
    name: str
    name_en: str
    divisions: tuple[str, ...]  # two-digit divisions, or () for prefix rows and the catch-all
    x: tuple[int, int, int] | None = None  # employees: large, medium, small
    y: tuple[int, int, int] | None = None  # operating revenue in 万元
    z: tuple[int, int, int] | None = None  # total assets in 万元


def _divs(first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{d:02d}" for d in range(first, last + 1))


OTHER = "other"
REAL_ESTATE = "real_estate_development"
PROPERTY = "property_management"
PREFIX_ROWS = (("701", REAL_ESTATE), ("702", PROPERTY))

SIZE_TABLE: tuple[SizeRow, ...] = (
    SizeRow("agriculture", "农、林、牧、渔业", "agriculture", _divs(1, 5), y=(20000, 500, 50)),
    SizeRow("industry", "工业", "industry", _divs(6, 46), x=(1000, 300, 20), y=(40000, 2000, 300)),
    SizeRow(
        "construction", "建筑业", "construction", _divs(47, 50), y=(80000, 6000, 300), z=(80000, 5000, 300)
    ),
    SizeRow("wholesale", "批发业", "wholesale", ("51",), x=(200, 20, 5), y=(40000, 5000, 1000)),
    SizeRow("retail", "零售业", "retail", ("52",), x=(300, 50, 10), y=(20000, 500, 100)),
    SizeRow("transport", "交通运输业", "transport", _divs(54, 58), x=(1000, 300, 20), y=(30000, 3000, 200)),
    SizeRow("warehousing", "仓储业", "warehousing", ("59",), x=(200, 100, 20), y=(30000, 1000, 100)),
    SizeRow("postal", "邮政业", "postal services", ("60",), x=(1000, 300, 20), y=(30000, 2000, 100)),
    SizeRow(
        "accommodation_catering",
        "住宿业、餐饮业",
        "accommodation and catering",
        ("61", "62"),
        x=(300, 100, 10),
        y=(10000, 2000, 100),
    ),
    SizeRow(
        "telecom",
        "信息传输业",
        "information transmission",
        ("63", "64"),
        x=(2000, 100, 10),
        y=(100000, 1000, 100),
    ),
    SizeRow(
        "software",
        "软件和信息技术服务业",
        "software and IT services",
        ("65",),
        x=(300, 100, 10),
        y=(10000, 1000, 50),
    ),
    SizeRow(
        REAL_ESTATE,
        "房地产开发经营",
        "real-estate development",
        (),
        y=(200000, 1000, 100),
        z=(10000, 5000, 2000),
    ),
    SizeRow(PROPERTY, "物业管理", "property management", (), x=(1000, 300, 100), y=(5000, 1000, 500)),
    SizeRow(
        "leasing_business",
        "租赁和商务服务业",
        "leasing and business services",
        ("71", "72"),
        x=(300, 100, 10),
        z=(120000, 8000, 100),
    ),
    SizeRow(OTHER, "其他未列明行业", "every other industry", (), x=(300, 100, 10)),
)
ROWS: dict[str, SizeRow] = {row.key: row for row in SIZE_TABLE}
DIVISION_ROW: dict[str, str] = {d: row.key for row in SIZE_TABLE for d in row.divisions}


ROW_INDEX: dict[str, int] = {row.key: i for i, row in enumerate(SIZE_TABLE)}
_ROW_KEYS = pl.Series("size_row", [row.key for row in SIZE_TABLE], dtype=pl.String)
# division (00-99) -> row index; divisions the table does not name fall to the "every other industry" row
_DIVISION_INDEX = pl.Series(
    [ROW_INDEX[DIVISION_ROW.get(f"{d:02d}", OTHER)] for d in range(100)], dtype=pl.UInt8
)


def row_index_expr(industry: pl.Expr) -> pl.Expr:
    """The index in ``SIZE_TABLE`` of an industry code's row (integers only after one slice of the code)."""
    division = pl.lit(_DIVISION_INDEX).gather(industry.str.slice(0, 2).cast(pl.UInt8, strict=False))
    expr = division.fill_null(pl.lit(ROW_INDEX[OTHER], dtype=pl.UInt8))
    for prefix, key in reversed(PREFIX_ROWS):
        expr = (
            pl.when(industry.str.starts_with(prefix))
            .then(pl.lit(ROW_INDEX[key], dtype=pl.UInt8))
            .otherwise(expr)
        )
    return expr


def _bound(row_index: pl.Expr, indicator: str, band: int) -> pl.Expr:
    """The lower bound (in yuan for Y and Z) of ``band`` (0 large, 1 medium, 2 small) of each unit's row."""
    scale = 1 if indicator == "x" else WAN
    bounds = [
        None if getattr(row, indicator) is None else getattr(row, indicator)[band] * scale
        for row in SIZE_TABLE
    ]
    return pl.lit(pl.Series(bounds, dtype=pl.Int64)).gather(row_index)


def _band(checks: list[pl.Expr]) -> pl.Expr:
    """``checks[i]``: band ``BANDS[i]`` is met. The highest met band, else micro."""
    expr: pl.Expr = pl.lit("micro")
    for band, check in reversed(list(zip(BANDS, checks, strict=True))):
        expr = pl.when(check).then(pl.lit(band)).otherwise(expr)
    return expr


def _headcount_band(headcount: pl.Expr) -> pl.Expr:
    x = ROWS[OTHER].x
    assert x is not None
    return _band([headcount >= bound for bound in x])


def classify(lf: pl.LazyFrame, *, headcount_fallback: str) -> pl.LazyFrame:
    """Add ``size_row`` (the table row of the industry), ``size_class`` and ``size_basis`` to a frame with the
    columns ``industry``, ``employees``, ``revenue_yuan``, ``assets_yuan``, ``size_class_declared`` and
    ``base_headcount``."""
    values = {"x": pl.col("employees"), "y": pl.col("revenue_yuan"), "z": pl.col("assets_yuan")}
    bounds = {(ind, band): f"_size_{ind}{band}" for ind in values for band in range(len(BANDS))}
    index = pl.col("_size_index")
    lf = lf.with_columns(row_index_expr(pl.col("industry")).alias("_size_index")).with_columns(
        pl.lit(_ROW_KEYS).gather(index).alias("size_row"),
        *(_bound(index, ind, band).alias(name) for (ind, band), name in bounds.items()),
    )
    uses = {ind: pl.col(bounds[ind, 0]).is_not_null() for ind in values}
    complete = pl.all_horizontal([~uses[ind] | values[ind].is_not_null() for ind in values])
    checks = [
        pl.all_horizontal(
            [
                pl.col(bounds[ind, band]).is_null() | (values[ind] >= pl.col(bounds[ind, band]))
                for ind in values
            ]
        )
        for band in range(len(BANDS))
    ]
    if headcount_fallback == "employees_then_base":
        headcount = pl.coalesce(pl.col("employees"), pl.col("base_headcount"))
    elif headcount_fallback == "employees_only":
        headcount = pl.col("employees")
    else:
        raise ValueError(f"unknown size_headcount_fallback {headcount_fallback!r}")
    declared = pl.col("size_class_declared")
    return lf.with_columns(
        pl.when(complete)
        .then(_band(checks))
        .when(declared.is_not_null())
        .then(declared)
        .when(headcount.is_not_null())
        .then(_headcount_band(headcount))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("size_class"),
        pl.when(complete)
        .then(pl.lit("indicators"))
        .when(declared.is_not_null())
        .then(pl.lit("declared"))
        .when(headcount.is_not_null())
        .then(pl.lit("headcount"))
        .otherwise(pl.lit("unknown"))
        .alias("size_basis"),
    ).drop("_size_index", *bounds.values())
