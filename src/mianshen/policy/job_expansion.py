"""The job-expansion family (一次性扩岗补助, ``job-expansion-2022``/``-2023``/``-2025``): facts, conditions, decision.

A per-person amount for hires matched against an outside register (domain.md §6; docs/policy.md):

- every row of ``hires`` is judged on its own, in this order, and takes the first reason that holds
  (``codes.PERSON_REASONS``): the person is not in ``graduate_register`` (``NOT_REGISTERED``); the register's
  category is not covered that year, a graduate's graduation year is not between the data year minus
  ``graduation_years_back`` and the data year, or an unemployed youth's age (hire year − birth year) is not between
  ``youth_min_age`` and ``youth_max_age`` (``CATEGORY_NOT_COVERED``); the hire is not in the months
  ``hire_from``..``hire_until`` or is after the as-of date (``HIRED_OUTSIDE_WINDOW``); no labour contract started
  on or before the as-of date (``NO_CONTRACT``); fewer than ``min_contribution_months`` contribution months
  (``SHORT_CONTRIBUTIONS``); the person is on ``hiring_subsidy_recipients`` (``HIRING_SUBSIDY``); the person was
  paid this subsidy before (``paid_persons``, from the person ledger: ``ALREADY_PAID``); the hiring unit fails a
  unit condition (``UNIT_EXCLUDED``);
- a person counts for one enterprise once: of the person's hires that pass all of that, the earliest
  (``hired_on``, then the smaller ``unit_id``) counts, every other is ``COUNTED_ELSEWHERE``. The earliest hire is
  the employer that took the person from the register first; a unit that is excluded does not take the person
  away from a later employer that qualifies;
- the amount is eligible persons × ``per_person`` (integer fen, no rounding).

``paid_persons`` (person_id, optional unit_id) is not a drop table: the screening rounds pass the persons the
person ledger holds for this benefit (cases app), with the unit when the person was paid for under the same policy
id — that unit's own re-evaluation still counts the person, every other unit finds them ``ALREADY_PAID``; a drop
screened from the command line has none. Pure: no clock, no files, no Django.
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
from .facts import FLAG_COLUMNS, Frame, active_flags, source
from .parameters import ResolvedParams

INPUT_TABLES = ("units", "credit_flags", "hires", "graduate_register", "hiring_subsidy_recipients")
REQUIRED_TABLES = INPUT_TABLES
PAID_PERSONS = (
    "paid_persons"  # (person_id): persons the person ledger holds for this benefit; not a drop table
)

UNIT_COLUMNS: tuple[str, ...] = ("unit_id", "credit_code", "unit_type", "deregistered_on")
UNIT_CONDITIONS = (C.TYPE_NOT_COVERED, C.DEREGISTERED, C.SERIOUS_DISHONESTY)
REASON_COLUMNS: dict[str, str] = {r: f"n_{r.lower()}" for r in C.PERSON_REASONS}


def _table(tables: Mapping[str, Frame], name: str) -> pl.LazyFrame:
    found = tables.get(name)
    if found is None:
        raise ValueError(f"table {name!r} is required by the job-expansion family")
    return found.lazy().select(TABLES[name].column_names)


def _paid(tables: Mapping[str, Frame]) -> pl.LazyFrame:
    """(person_id, _paid_unit): a person paid for before, and the unit paid for the person under this very policy
    id (null: under another one), whose own re-evaluation still counts the person."""
    found = tables.get(PAID_PERSONS)
    if found is None:
        return pl.LazyFrame(schema={"person_id": pl.String, "_paid_unit": pl.String})
    lf = found.lazy()
    unit = pl.col("unit_id") if "unit_id" in lf.collect_schema().names() else pl.lit(None)
    return lf.select(pl.col("person_id").cast(pl.String), unit.cast(pl.String).alias("_paid_unit")).unique(
        "person_id", keep="first", maintain_order=True
    )


# --- conditions ------------------------------------------------------------------------------------------------


def _type_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("unit_type").is_in(sorted(p["covered_unit_types"]))


def _dereg_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("deregistered_on").is_null() | (pl.col("deregistered_on") > as_of)


def _hire_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("eligible_persons") > 0


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
                "fail": "单位类型“{unit_type}”不在补助范围内（范围：{covered}）",
                "unknown": "单位类型不明",
            },
            "en": {
                "pass": "unit type '{unit_type}' is covered",
                "fail": "unit type '{unit_type}' is not covered (covered: {covered})",
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
    REFUND_CONDITION_BY_CODE[C.SERIOUS_DISHONESTY],  # the refund's own condition: the same test and words
    Condition(
        C.NO_ELIGIBLE_HIRE,
        None,
        {"zh": gettext_noop("符合条件的招用人员"), "en": "eligible hires"},
        ("hires", "eligible_persons"),
        (
            "person_categories",
            "graduation_years_back",
            "youth_min_age",
            "youth_max_age",
            "hire_from",
            "hire_until",
            "min_contribution_months",
        ),
        _hire_test,
        "a unit without hires has no eligible person; never unknown",
        {
            "zh": {
                "pass": "招用 {hires} 人，其中 {eligible_persons} 人符合条件（{rule_phrase}）",
                "fail": "招用 {hires} 人，无人符合条件（{rule_phrase}）",
                "unknown": "符合条件的人数不明",
            },
            "en": {
                "pass": "{eligible_persons} of {hires} hires are eligible ({rule_phrase})",
                "fail": "none of {hires} hires is eligible ({rule_phrase})",
                "unknown": "the number of eligible hires is not known",
            },
        },
    ),
)
CONDITION_BY_CODE: dict[str, Condition] = {c.code: c for c in CONDITIONS}


def in_force(params: ResolvedParams) -> tuple[Condition, ...]:
    return tuple(c for c in CONDITIONS if c.code in params.conditions)


# --- persons ---------------------------------------------------------------------------------------------------


def _units(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.LazyFrame:
    """The units with their flags and the pass (True/False) of each unit condition in force."""
    flags = active_flags(source(tables, "credit_flags"), as_of)
    units = (
        _table(tables, "units")
        .select(UNIT_COLUMNS)
        .join(flags, on="credit_code", how="left")
        .with_columns(*(pl.col(c) for c in FLAG_COLUMNS.values()))
    )
    active = [c for c in in_force(params) if c.code in UNIT_CONDITIONS]
    tests = [c.test(params, as_of).fill_null(False) for c in active]
    return units.with_columns(pl.all_horizontal(pl.lit(True), *tests).alias("_unit_ok"))


def judge_hires(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.LazyFrame:
    """Every hire (unit_id, person_id, hired_on) with its ``reason`` (null: the hire counts), sorted by unit,
    person and day."""
    y = params.data_year
    back = int(params["graduation_years_back"])
    lo, hi = int(params["youth_min_age"]), int(params["youth_max_age"])
    categories = sorted(params["person_categories"])
    register = _table(tables, "graduate_register")
    recipients = _table(tables, "hiring_subsidy_recipients").select("person_id").unique()
    paid = _paid(tables)
    units = _units(tables, params, as_of).select("unit_id", "_unit_ok")
    hire_month = pl.col("hired_on").dt.strftime("%Y-%m")
    age = pl.col("hired_on").dt.year().cast(pl.Int64) - pl.col("birth_year")
    covered = pl.col("category").is_in(categories) & (
        pl.when(pl.col("category") == "graduate")
        .then(pl.col("graduation_year").is_between(y - back, y))
        .otherwise(age.is_between(lo, hi))
        .fill_null(False)
    )
    checks: list[tuple[str, pl.Expr]] = [
        (C.NOT_REGISTERED, pl.col("category").is_null()),
        (C.CATEGORY_NOT_COVERED, ~covered),
        (
            C.HIRED_OUTSIDE_WINDOW,
            (hire_month < params["hire_from"])
            | (hire_month > params["hire_until"])
            | (pl.col("hired_on") > as_of),
        ),
        (C.NO_CONTRACT, pl.col("contract_start").is_null() | (pl.col("contract_start") > as_of)),
        (C.SHORT_CONTRIBUTIONS, pl.col("contribution_months") < int(params["min_contribution_months"])),
        (C.HIRING_SUBSIDY, pl.col("_recipient")),
        (C.ALREADY_PAID, pl.col("_paid")),
        (C.UNIT_EXCLUDED, ~pl.col("_unit_ok")),
    ]
    reason = pl.lit(None, dtype=pl.String)
    for code, holds in reversed(checks):
        reason = pl.when(holds.fill_null(False)).then(pl.lit(code)).otherwise(reason)
    judged = (
        _table(tables, "hires")
        .join(register, on="person_id", how="left")
        .join(recipients.with_columns(pl.lit(True).alias("_recipient")), on="person_id", how="left")
        .join(paid.with_columns(pl.lit(True).alias("_paid")), on="person_id", how="left")
        .join(units, on="unit_id", how="left")
        .with_columns(
            pl.col("_recipient").fill_null(False),
            (pl.col("_paid").fill_null(False) & (pl.col("_paid_unit") != pl.col("unit_id")).fill_null(True)),
            pl.col("_unit_ok").fill_null(False),
        )
        .with_columns(reason.alias("reason"))
        .sort("person_id", "hired_on", "unit_id")
    )
    first = pl.int_range(pl.len()).over("person_id", "_ok") == 0
    return (
        judged.with_columns(pl.col("reason").is_null().alias("_ok"))
        .with_columns(
            pl.when(pl.col("_ok") & ~first)
            .then(pl.lit(C.COUNTED_ELSEWHERE))
            .otherwise(pl.col("reason"))
            .alias("reason")
        )
        .select("unit_id", "person_id", "hired_on", "reason")
        .sort("unit_id", "person_id", "hired_on")
    )


def counted_persons(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.DataFrame:
    """(unit_id, person_id) of every person counted, sorted: what the person ledger records when paid."""
    check_as_of(params, as_of)
    return (
        judge_hires(tables, params, as_of)
        .filter(pl.col("reason").is_null())
        .select("unit_id", "person_id")
        .sort("unit_id", "person_id")
        .collect()
    )


def derive_facts(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.LazyFrame:
    """One row per unit, sorted by unit_id: unit columns, flags, hires, eligible persons (and their ids), and the
    number of hires left out for each reason."""
    hires = judge_hires(tables, params, as_of)
    per_unit = hires.group_by("unit_id").agg(
        pl.len().cast(pl.Int64).alias("hires"),
        pl.col("reason").is_null().sum().cast(pl.Int64).alias("eligible_persons"),
        pl.col("person_id").filter(pl.col("reason").is_null()).sort().alias("persons"),
        *(
            (pl.col("reason") == code).sum().cast(pl.Int64).alias(column)
            for code, column in REASON_COLUMNS.items()
        ),
    )
    counts = ["hires", "eligible_persons", *REASON_COLUMNS.values()]
    return (
        _units(tables, params, as_of)
        .drop("_unit_ok")
        .sort("unit_id")
        .join(per_unit, on="unit_id", how="left", maintain_order="left")
        .with_columns(
            *(pl.col(c).fill_null(0) for c in counts),
            pl.col("persons").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
    )


def judge(facts: pl.LazyFrame, params: ResolvedParams, as_of: date) -> pl.LazyFrame:
    active = in_force(params)
    passes = {c.code: f"_pass_{c.code}" for c in active}
    lf = facts.with_columns(*[c.test(params, as_of).alias(passes[c.code]) for c in active])
    failed = [(c.code, pl.col(passes[c.code]).not_().fill_null(False)) for c in active]
    decision = (
        pl.when(pl.any_horizontal(pl.lit(False), *(holds for _, holds in failed)))
        .then(pl.lit(C.INELIGIBLE))
        .otherwise(pl.lit(C.ELIGIBLE))
    )
    per_person = int(params["per_person"])
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
            pl.lit(None, dtype=pl.String).alias("unknown"),
            pl.lit(per_person, dtype=pl.Int64).alias("per_person_fen"),
        )
        .with_columns(
            pl.when(pl.col("decision").is_in(C.JOB_PAYABLE))
            .then(pl.col("eligible_persons") * pl.col("per_person_fen"))
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
    return evaluated.select(C.JOB_DECISION_COLUMNS).sort("unit_id")


def screen(tables: Mapping[str, Frame], params: ResolvedParams, as_of: date) -> pl.DataFrame:
    check_as_of(params, as_of)
    lf = judge(derive_facts(tables, params, as_of), params, as_of)
    return lf.select(C.JOB_DECISION_COLUMNS).sort("unit_id").collect()
