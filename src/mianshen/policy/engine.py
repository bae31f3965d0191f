"""The screening engine (比对): typed frames in, one row per unit with every evidence value and outcome out.

``evaluate(tables, params, as_of)`` is the whole rule of contracts §2.1 for any policy: the facts of
``facts.derive_facts``, the layoff rate, the size class (``sizeclass``), the amount's steps, the outcome of every
condition and route of ``conditions``, and the decision. ``decisions(evaluated)`` narrows that to the public
columns of decisions.csv (contracts §2.2), typed: integers Int64 (null where empty), the rest strings.

Pure: no clock, no files, no Django; integers only (ratios in basis points, money in fen).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from . import codes as C
from .conditions import CONDITIONS, ROUTES, in_force
from .facts import Frame, derive_facts
from .numbers import BP, format_bp
from .parameters import AsOfOutsideYear, ResolvedParams
from .sizeclass import classify

OUTCOME = pl.Enum(list(C.OUTCOMES))


# The drop tables the policy reads (bank_accounts is not among them; dispatch_confirmations is optional:
# absent means no confirmations).
INPUT_TABLES = (
    "units",
    "headcount",
    "separations",
    "contributions",
    "credit_flags",
    "dispatch_confirmations",
)


def check_as_of(params: ResolvedParams, as_of: date) -> None:
    """The as-of date must be the one the parameters were resolved for (and so inside the payment year)."""
    first, last = params.policy.window
    if not first <= as_of <= last:
        raise AsOfOutsideYear(f"as-of date {as_of} is outside the payment year of {params.policy_id}")
    if as_of != params.resolved_on:
        raise ValueError(f"parameters resolved for {params.resolved_on}, evaluated on {as_of}")


def _layoff(lf: pl.LazyFrame, params: ResolvedParams) -> pl.LazyFrame:
    h0, h1, n = pl.col("base_headcount"), pl.col("end_headcount"), pl.col("natural_attrition")
    layoffs = pl.when(h0.is_not_null() & h1.is_not_null()).then(pl.max_horizontal(h0 - h1 - n, pl.lit(0)))
    basis = params["small_unit_headcount_basis"]
    small_by = {"base": h0, "end": h1}[basis]
    return lf.with_columns(layoffs.alias("layoffs")).with_columns(
        # r = layoffs / H0 rounded half up to 4 decimals, in units of 0.0001; r = 0 when H0 = 0
        pl.when(pl.col("layoffs").is_null())
        .then(pl.lit(None, dtype=pl.Int64))
        .when(h0 == 0)
        .then(pl.lit(0, dtype=pl.Int64))
        .otherwise((2 * pl.col("layoffs") * BP + h0) // (2 * h0))
        .alias("layoff_rate_e4"),
        pl.when(small_by.is_null())
        .then(pl.lit(None, dtype=pl.Int64))
        .when(small_by <= params.small_max_headcount)
        .then(pl.lit(params.small_limit_bp, dtype=pl.Int64))
        .otherwise(pl.lit(params.layoff_limit_bp, dtype=pl.Int64))
        .alias("layoff_limit_bp"),
    )


def _amount(lf: pl.LazyFrame, params: ResolvedParams) -> pl.LazyFrame:
    """Ratio category, ratio and the amount's steps: base x ratio (in 1/10000 fen), then half-up to the fen."""
    by_size = pl.col("size_class").replace_strict(params.ratio_category, default=None, return_dtype=pl.String)
    category = (
        pl.when(pl.col("unit_type") != "enterprise")
        .then(pl.lit(params["non_enterprise_ratio_category"]))
        .otherwise(by_size)
    )
    return (
        lf.with_columns(category.alias("ratio_category"))
        .with_columns(
            pl.col("ratio_category")
            .replace_strict(params.ratio_bp, default=None, return_dtype=pl.Int64)
            .alias("ratio_bp")
        )
        .with_columns((pl.col("base_fen") * pl.col("ratio_bp")).alias("amount_e4"))
        .with_columns(((pl.col("amount_e4") + BP // 2) // BP).alias("computed_amount_fen"))
    )


def _outcome(passes: pl.Expr) -> pl.Expr:
    return (
        pl.when(passes)
        .then(pl.lit(C.PASS))
        .when(passes.not_())
        .then(pl.lit(C.FAIL))
        .otherwise(pl.lit(C.UNKNOWN))
        .cast(OUTCOME)
    )


def _codes(parts: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """The codes whose expression holds, sorted, joined by ``|``; null when none."""
    pieces = [pl.when(holds).then(pl.lit(code)) for code, holds in sorted(parts, key=lambda p: p[0])]
    if not pieces:
        return pl.lit(None, dtype=pl.String)
    joined = pl.concat_str(pieces, separator="|", ignore_nulls=True)
    return pl.when(pl.any_horizontal(holds for _, holds in parts)).then(joined)


def judge(facts: pl.LazyFrame, params: ResolvedParams, as_of: date) -> pl.LazyFrame:
    """Conditions, routes, decision and amount over the facts of ``derive_facts`` (rows kept in their order)."""
    lf = _layoff(facts, params)
    lf = classify(lf, headcount_fallback=params["size_headcount_fallback"])
    lf = _amount(lf, params)
    active = in_force(params)
    # each test as a nullable Boolean (True pass, False fail, null unknown), kept only while deciding
    passes = {c.code: f"_pass_{c.code}" for c in active}
    lf = lf.with_columns(
        *[c.test(params, as_of).alias(passes[c.code]) for c in active],
        *[r.test(params, as_of).fill_null(False).alias(r.column) for r in ROUTES],
    )
    failed = [(c.code, pl.col(passes[c.code]).not_().fill_null(False)) for c in active]
    unknown = [
        (c.unknown_code, pl.col(passes[c.code]).is_null()) for c in active if c.unknown_code is not None
    ]
    routes = [(r.code, pl.col(r.column)) for r in ROUTES]
    manual = [pl.col(f"route_{C.COMMITMENT_BREACH}"), *(holds for _, holds in unknown)]
    if params["abnormal_operation_track"] == "manual_review":
        manual.append(pl.col(f"route_{C.ABNORMAL_OPERATION}"))
    decision = (
        pl.when(pl.any_horizontal(pl.lit(False), *(holds for _, holds in failed)))
        .then(pl.lit(C.INELIGIBLE))
        .when(pl.any_horizontal(*manual))
        .then(pl.lit(C.MANUAL_REVIEW))
        .when(pl.col(f"route_{C.DISPATCH_UNCONFIRMED}"))
        .then(pl.lit(C.PENDING_CONFIRMATION))
        .otherwise(pl.lit(C.ELIGIBLE))
    )
    payable = pl.col("decision").is_in(C.PAYABLE_DECISIONS) & pl.col("ratio_bp").is_not_null()
    return (
        lf.with_columns(
            *[
                (_outcome(pl.col(passes[c.code])) if c in active else pl.lit(None, dtype=OUTCOME)).alias(
                    c.outcome_column
                )
                for c in CONDITIONS
            ],
            decision.alias("decision"),
            _codes(failed).alias("failed"),
            _codes(unknown).alias("unknown"),
            _codes(routes).alias("routes"),
        )
        .with_columns(
            pl.when(payable)
            .then(pl.col("computed_amount_fen"))
            .otherwise(pl.lit(0, dtype=pl.Int64))
            .alias("amount_fen")
        )
        .drop(passes.values())
    )


def evaluate(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.DataFrame:
    """Every unit of ``tables["units"]``, sorted by unit_id, with its facts, outcomes, decision and amount."""
    check_as_of(params, as_of)
    return judge(derive_facts(tables, params, as_of), params, as_of).collect()


def _bp_text(column: str, values: set[int]) -> pl.Expr:
    """A basis-point column as contract decimal text (``0.06``, ``0.055``, ``1.00``); null stays null."""
    mapping = {v: format_bp(v) for v in sorted(values)}
    return pl.col(column).replace_strict(mapping, default=None, return_dtype=pl.String)


def _contract_columns(limits: set[int], ratios: set[int]) -> list[pl.Expr]:
    e4 = pl.col("layoff_rate_e4")
    return [
        pl.col("unit_id"),
        pl.col("credit_code"),
        pl.col("decision"),
        pl.col("failed"),
        pl.col("unknown"),
        pl.col("routes"),
        pl.col("base_headcount"),
        pl.col("end_headcount"),
        pl.col("natural_attrition"),
        pl.format("{}.{}", e4 // BP, (e4 % BP).cast(pl.String).str.zfill(4)).alias("layoff_rate"),
        _bp_text("layoff_limit_bp", limits).alias("layoff_limit"),
        pl.col("size_class"),
        pl.col("size_basis"),
        pl.col("ratio_category"),
        _bp_text("ratio_bp", ratios).alias("ratio"),
        pl.col("base_fen"),
        pl.col("amount_fen"),
    ]


def decisions(evaluated: pl.DataFrame) -> pl.DataFrame:
    """The public columns of decisions.csv (contracts §2.2), in order, sorted by unit_id (code-point order)."""

    def values(column: str) -> set[int]:
        return {int(v) for v in evaluated.get_column(column).unique().to_list() if v is not None}

    return evaluated.select(_contract_columns(values("layoff_limit_bp"), values("ratio_bp"))).sort("unit_id")


def screen(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.DataFrame:
    """``decisions(evaluate(...))`` in one lazy query: only what the public columns need is computed."""
    check_as_of(params, as_of)
    limits = {params.layoff_limit_bp, params.small_limit_bp}
    ratios = set(params.ratio_bp.values())
    lf = judge(derive_facts(tables, params, as_of), params, as_of)
    return lf.select(_contract_columns(limits, ratios)).collect()
