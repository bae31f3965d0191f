"""The retention-training family (一次性留工培训补助, ``retention-training-2022``): facts, conditions, decision.

A per-head amount on a dated headcount definition (domain.md §6; docs/policy.md):

- the city (the pooling region) is *affected* when a risk area of a level in ``risk_levels`` was in force in the
  drop's ``risk_areas`` on some day of the payment year up to the as-of date, in any district; the *risk month*
  is the month of the first such day. A unit is affected by that (``risk_area``), or else, when its industry code
  starts with a prefix in ``hardship_industries`` (31号), as a hardship unit (``hardship_industry``), counted in
  ``hardship_reference_month``;
- the *headcount* is read from ``person_months`` in the reference month by ``headcount_rule``:
  ``month_of_risk`` every person insured at the unit in that month; ``insured_months`` those of them with at
  least ``min_insured_months`` months at the unit up to and including it; ``single_unit_in_month`` those of them
  insured at no other unit in that month;
- the amount is headcount × ``per_head`` (integer fen, no rounding).

Pure: no clock, no files, no Django; integers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from mianshen.datadrop.schema import TABLES

from . import codes as C
from .conditions import CONDITION_BY_CODE as REFUND_CONDITION_BY_CODE
from .conditions import Condition, gettext_noop
from .engine import OUTCOME, _codes, _outcome, check_as_of
from .facts import FLAG_COLUMNS, Frame, active_flags, month, source
from .parameters import ResolvedParams
from .sizeclass import classify

# The drop tables the family reads; all four must be present (risk_areas may hold no row: no risk area).
INPUT_TABLES = ("units", "credit_flags", "risk_areas", "person_months")
REQUIRED_TABLES = INPUT_TABLES

UNIT_COLUMNS: tuple[str, ...] = (
    "unit_id",
    "credit_code",
    "unit_type",
    "industry",
    "size_class_declared",
    "employees",
    "revenue_yuan",
    "assets_yuan",
    "deregistered_on",
)


def _table(tables: Mapping[str, Frame], name: str) -> pl.LazyFrame:
    found = tables.get(name)
    if found is None:
        raise ValueError(f"table {name!r} is required by the retention-training family")
    return found.lazy().select(TABLES[name].column_names)


def risk_start(risk_areas: pl.DataFrame, params: ResolvedParams, as_of: date) -> date | None:
    """The first day of the payment year, up to the as-of date, on which a risk area of a covered level was in
    force in any district of the city (``to_on`` inclusive; empty: still in force); None when there was none."""
    first = date(params.data_year, 1, 1)
    rows = risk_areas.filter(
        pl.col("level").is_in(sorted(params["risk_levels"]))
        & (pl.col("from_on") <= as_of)
        & (pl.col("to_on").is_null() | (pl.col("to_on") >= first))
    )
    if rows.is_empty():
        return None
    start = rows.select(pl.max_horizontal(pl.col("from_on"), pl.lit(first)).min()).item()
    return start if isinstance(start, date) else None


def _hardship(prefixes: tuple[str, ...]) -> pl.Expr:
    return pl.any_horizontal(pl.lit(False), *(pl.col("industry").str.starts_with(p) for p in prefixes))


def headcounts(person_months: pl.LazyFrame, refs: pl.LazyFrame, params: ResolvedParams) -> pl.LazyFrame:
    """(unit_id, headcount) for the units of ``refs`` (unit_id, reference_month) under ``headcount_rule``."""
    rule = params["headcount_rule"]
    pm = person_months.select("person_id", "unit_id", "month")
    joined = pm.join(refs, on="unit_id", how="inner")
    at_ref = joined.filter(pl.col("month") == pl.col("reference_month"))
    if rule == "month_of_risk":
        counted = at_ref
    elif rule == "insured_months":
        history = (
            joined.filter(pl.col("month") <= pl.col("reference_month"))
            .group_by("unit_id", "person_id")
            .agg(
                pl.len().alias("_months"), (pl.col("month") == pl.col("reference_month")).any().alias("_now")
            )
        )
        counted = history.filter(pl.col("_now") & (pl.col("_months") >= int(params["min_insured_months"])))
    elif rule == "single_unit_in_month":
        elsewhere = (
            pm.group_by("person_id", "month").agg(pl.len().alias("_units")).filter(pl.col("_units") > 1)
        )
        counted = at_ref.join(elsewhere, on=["person_id", "month"], how="anti")
    else:
        raise ValueError(f"unknown headcount_rule {rule!r}")
    return counted.group_by("unit_id").agg(pl.len().cast(pl.Int64).alias("headcount"))


def derive_facts(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.LazyFrame:
    """One row per unit, sorted by unit_id: the unit columns, flags, affected basis, reference month, headcount."""
    started = risk_start(_table(tables, "risk_areas").collect(), params, as_of)
    risk_month = month(started.year, started.month) if started else None
    units = _table(tables, "units").select(UNIT_COLUMNS).sort("unit_id")
    hardship = _hardship(tuple(params["hardship_industries"]))
    basis = (
        pl.when(pl.lit(risk_month is not None))
        .then(pl.lit("risk_area"))
        .when(hardship)
        .then(pl.lit("hardship_industry"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    lf = units.with_columns(basis.alias("affected_basis")).with_columns(
        pl.when(pl.col("affected_basis") == "risk_area")
        .then(pl.lit(risk_month, dtype=pl.String))
        .when(pl.col("affected_basis") == "hardship_industry")
        .then(pl.lit(params["hardship_reference_month"]))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("reference_month"),
        pl.lit(started, dtype=pl.Date).alias("risk_since"),
    )
    refs = lf.select("unit_id", "reference_month").filter(pl.col("reference_month").is_not_null())
    counts = headcounts(_table(tables, "person_months"), refs, params)
    flags = active_flags(source(tables, "credit_flags"), as_of)
    return (
        lf.join(counts, on="unit_id", how="left", maintain_order="left")
        .join(flags, on="credit_code", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("reference_month").is_not_null())
            .then(pl.col("headcount").fill_null(0))
            .otherwise(pl.lit(None, dtype=pl.Int64))
            .alias("headcount"),
            *(pl.col(c) for c in FLAG_COLUMNS.values()),
        )
    )


# --- conditions ------------------------------------------------------------------------------------------------


def _type_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("unit_type").is_in(sorted(p["covered_unit_types"]))


def _dereg_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("deregistered_on").is_null() | (pl.col("deregistered_on") > as_of)


def _affected_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("affected_basis").is_not_null()


def _size_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    covered = p["covered_size_categories"]
    if covered >= set(C.SIZE_CATEGORIES):
        return pl.lit(True)
    return pl.col("size_category").is_in(sorted(covered))  # null category: unknown


def _insured_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("headcount") > 0  # null (no reference month): not judged


CONDITIONS: tuple[Condition, ...] = (
    Condition(
        C.TYPE_NOT_COVERED,
        None,
        {"zh": gettext_noop("单位类型"), "en": "unit type"},
        ("unit_type",),
        ("covered_unit_types",),
        _type_test,
        "unit_type is required by validation; never unknown",
        {
            "zh": {
                "pass": "单位类型“{unit_type}”在补助范围内",
                "fail": "单位类型“{unit_type}”不在补助范围内（机关、事业单位等不纳入；范围：{covered}）",
                "unknown": "单位类型不明",
            },
            "en": {
                "pass": "unit type '{unit_type}' is covered",
                "fail": "unit type '{unit_type}' is not covered (agencies and public institutions are not; "
                "covered: {covered})",
                "unknown": "the unit type is not known",
            },
        },
    ),
    Condition(
        C.DEREGISTERED,
        None,
        {"zh": gettext_noop("注销"), "en": "deregistration"},
        ("deregistered_on",),
        (),
        _dereg_test,
        "no deregistration date means registered; never unknown",
        {
            "zh": {
                "pass": "比对日 {as_of} 未注销",
                "fail": "已于 {deregistered_on} 注销（发放前，不晚于比对日 {as_of}）",
                "unknown": "注销状态不明",
            },
            "en": {
                "pass": "not deregistered on {as_of}",
                "fail": "deregistered on {deregistered_on}, before payment (on or before {as_of})",
                "unknown": "the registration status is not known",
            },
        },
    ),
    REFUND_CONDITION_BY_CODE[
        C.SERIOUS_DISHONESTY
    ],  # the refund's own condition: the same test, the same words
    Condition(
        C.NOT_AFFECTED,
        None,
        {"zh": gettext_noop("受疫情影响"), "en": "affected area or industry"},
        ("affected_basis", "risk_since", "industry"),
        ("risk_levels", "hardship_industries", "hardship_reference_month"),
        _affected_test,
        "no risk area and not a hardship industry means not affected; never unknown",
        {
            "zh": {
                "pass": "{affected_phrase}",
                "fail": "{year} 年截至比对日 {as_of} 本统筹地区无中高风险地区，且行业 {industry} 不属于特困行业{hardship_note}",
                "unknown": "是否受疫情影响不明",
            },
            "en": {
                "pass": "{affected_phrase}",
                "fail": "no medium- or high-risk area in the city in {year} up to {as_of}, and industry {industry} "
                "is not a hardship industry{hardship_note}",
                "unknown": "whether the unit was affected is not known",
            },
        },
    ),
    Condition(
        C.SIZE_NOT_COVERED,
        C.SIZE_UNKNOWN,
        {"zh": gettext_noop("企业规模范围"), "en": "size covered"},
        ("unit_type", "size_class", "size_basis", "size_category"),
        ("covered_size_categories", "non_enterprise_size_category", "size_headcount_fallback"),
        _size_test,
        "unknown (SIZE_UNKNOWN) for an enterprise of unknown size while large enterprises are not covered",
        {
            "zh": {
                "pass": "{size_phrase}，在补助范围内（{covered_sizes}）",
                "fail": "{size_phrase}，比对日 {as_of} 不在补助范围内（{covered_sizes}）",
                "unknown": "企业规模无法确定，而大型企业比对日不在补助范围内",
            },
            "en": {
                "pass": "{size_phrase}: covered ({covered_sizes})",
                "fail": "{size_phrase}: not covered on {as_of} ({covered_sizes})",
                "unknown": "the enterprise size cannot be determined while large enterprises are not covered",
            },
        },
    ),
    Condition(
        C.NO_INSURED,
        None,
        {"zh": gettext_noop("参保职工人数"), "en": "insured employees"},
        ("reference_month", "headcount"),
        ("headcount_rule", "min_insured_months"),
        _insured_test,
        "not judged without a reference month (the unit is not affected)",
        {
            "zh": {
                "pass": "{reference_month_name}计人 {headcount} 人（{rule_phrase}）",
                "fail": "{reference_month_name}无可计人数（{rule_phrase}）",
                "unknown": "无参考月份，不计人数",
            },
            "en": {
                "pass": "{headcount} counted in {reference_month_name} ({rule_phrase})",
                "fail": "nobody counted in {reference_month_name} ({rule_phrase})",
                "unknown": "no reference month, nobody counted",
            },
        },
    ),
)
CONDITION_BY_CODE: dict[str, Condition] = {c.code: c for c in CONDITIONS}


def in_force(params: ResolvedParams) -> tuple[Condition, ...]:
    return tuple(c for c in CONDITIONS if c.code in params.conditions)


def _size(lf: pl.LazyFrame, params: ResolvedParams) -> pl.LazyFrame:
    lf = classify(
        lf.with_columns(pl.col("headcount").alias("base_headcount")),
        headcount_fallback=params["size_headcount_fallback"],
    ).drop("base_headcount")
    category = (
        pl.when(pl.col("unit_type") != "enterprise")
        .then(pl.lit(params["non_enterprise_size_category"]))
        .when(pl.col("size_class") == "large")
        .then(pl.lit("large"))
        .when(pl.col("size_class").is_not_null())
        .then(pl.lit("sme"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    return lf.with_columns(category.alias("size_category"))


def judge(facts: pl.LazyFrame, params: ResolvedParams, as_of: date) -> pl.LazyFrame:
    lf = _size(facts, params)
    active = in_force(params)
    passes = {c.code: f"_pass_{c.code}" for c in active}
    lf = lf.with_columns(*[c.test(params, as_of).alias(passes[c.code]) for c in active])
    failed = [(c.code, pl.col(passes[c.code]).not_().fill_null(False)) for c in active]
    unknown = [
        (c.unknown_code, pl.col(passes[c.code]).is_null()) for c in active if c.unknown_code is not None
    ]
    decision = (
        pl.when(pl.any_horizontal(pl.lit(False), *(holds for _, holds in failed)))
        .then(pl.lit(C.INELIGIBLE))
        .when(pl.any_horizontal(pl.lit(False), *(holds for _, holds in unknown)))
        .then(pl.lit(C.MANUAL_REVIEW))
        .otherwise(pl.lit(C.ELIGIBLE))
    )
    per_head = int(params["per_head"])
    payable = pl.col("decision").is_in(C.RETENTION_PAYABLE) & pl.col("headcount").is_not_null()
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
            pl.lit(params["headcount_rule"]).alias("headcount_rule"),
            pl.lit(per_head, dtype=pl.Int64).alias("per_head_fen"),
        )
        .with_columns(
            pl.when(payable)
            .then(pl.col("headcount") * pl.col("per_head_fen"))
            .otherwise(pl.lit(0, dtype=pl.Int64))
            .alias("amount_fen")
        )
        .drop(passes.values())
    )


def evaluate(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.DataFrame:
    """Every unit of ``tables["units"]``, sorted by unit_id, with its facts, outcomes, decision and amount."""
    check_as_of(params, as_of)
    return judge(derive_facts(tables, params, as_of), params, as_of).collect()


def decisions(evaluated: pl.DataFrame) -> pl.DataFrame:
    """The public columns of the family's decisions file (docs/policy.md), in order, sorted by unit_id."""
    return evaluated.select(C.RETENTION_DECISION_COLUMNS).sort("unit_id")


def screen(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.DataFrame:
    check_as_of(params, as_of)
    lf = judge(derive_facts(tables, params, as_of), params, as_of)
    return lf.select(C.RETENTION_DECISION_COLUMNS).sort("unit_id").collect()
