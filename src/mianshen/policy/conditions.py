"""The legal tests of the refund, one named object each: conditions (pass / fail / unknown) and routes.

A ``Condition`` holds its code, the code written in ``unknown`` when its inputs are missing, the evidence columns
it reads, the parameters it uses, a Polars test (True = pass, False = fail, null = unknown), what it does with
missing data, and message templates in Chinese and English for each outcome. Its citation is data: the family's
parameter file cites each code (``ResolvedParams.citation``). A ``Route`` is the same for a side track: its test
is True when the route applies. Every condition in force and every route is evaluated for every unit.

Templates are ``str.format`` strings over the fields that ``explain.fields`` builds from the evidence values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl

from . import codes as C
from .parameters import ResolvedParams


def gettext_noop(message: str) -> str:
    """Marks a Chinese display name for the project's message catalogue (``makemessages`` reads these calls);
    the layers above translate it there (``backoffice.display.code_title``), so the policy stays free of Django.
    A test checks that the catalogue's English is the ``en`` title beside it."""
    return message


Messages = dict[str, dict[str, str]]  # lang -> outcome -> template
Test = Callable[[ResolvedParams, date], pl.Expr]


@dataclass(frozen=True)
class Condition:
    code: str  # written in `failed`
    unknown_code: str | None  # written in `unknown`; None: the test is never unknown
    title: dict[str, str]
    inputs: tuple[str, ...]
    parameters: tuple[str, ...]
    test: Test
    on_missing: str
    messages: Messages

    @property
    def outcome_column(self) -> str:
        return f"outcome_{self.code}"


@dataclass(frozen=True)
class Route:
    code: str
    title: dict[str, str]
    inputs: tuple[str, ...]
    parameters: tuple[str, ...]
    test: Test
    messages: Messages  # lang -> {"fail": applies, "pass": does not apply, "unknown": cannot tell}

    @property
    def column(self) -> str:
        return f"route_{self.code}"


def _type_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("unit_type").is_in(sorted(p["covered_unit_types"]))


def _dereg_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("deregistered_on").is_null() | (pl.col("deregistered_on") > as_of)


def _dishonesty_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("serious_dishonesty_since").is_null()


def _arrears_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("arrears_fen") == 0


def _premium_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("base_fen") != 0


def _layoff_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    # exact: layoffs / H0 <= limit  <=>  layoffs * 10000 <= limit_bp * H0 (null when H0 or H1 is missing)
    return pl.col("layoffs") * 10_000 <= pl.col("layoff_limit_bp") * pl.col("base_headcount")


def _size_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    unknown = (pl.col("unit_type") == "enterprise") & pl.col("size_class").is_null()
    return pl.when(unknown).then(pl.lit(None, dtype=pl.Boolean)).otherwise(pl.lit(True))


def _full_payment_test(p: ResolvedParams, as_of: date) -> pl.Expr:
    return pl.col("full_paid_periods") == 12


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
                "pass": "单位类型“{unit_type}”在返还范围内",
                "fail": "单位类型“{unit_type}”不在返还范围内（范围：{covered}）",
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
                "pass": "比对日 {as_of} 未注销{dereg_later}",
                "fail": "已于 {deregistered_on} 注销（不晚于比对日 {as_of}）",
                "unknown": "注销状态不明",
            },
            "en": {
                "pass": "not deregistered on {as_of}{dereg_later}",
                "fail": "deregistered on {deregistered_on} (on or before {as_of})",
                "unknown": "the registration status is not known",
            },
        },
    ),
    Condition(
        C.SERIOUS_DISHONESTY,
        None,
        {"zh": gettext_noop("严重失信"), "en": "serious dishonesty"},
        ("serious_dishonesty_since",),
        (),
        _dishonesty_test,
        "no active listing means not listed; never unknown",
        {
            "zh": {
                "pass": "比对日 {as_of} 不在严重失信名单中",
                "fail": "自 {serious_dishonesty_since} 起列入严重失信名单，比对日 {as_of} 仍在名单中",
                "unknown": "严重失信名单状态不明",
            },
            "en": {
                "pass": "not on the serious-dishonesty list on {as_of}",
                "fail": "on the serious-dishonesty list since {serious_dishonesty_since}, still listed on {as_of}",
                "unknown": "the serious-dishonesty listing is not known",
            },
        },
    ),
    Condition(
        C.ARREARS,
        None,
        {"zh": gettext_noop("欠费"), "en": "arrears"},
        ("arrears_fen",),
        (),
        _arrears_test,
        "no contribution rows means no arrears; never unknown",
        {
            "zh": {
                "pass": "{as_of_month} 之前各期无欠缴失业保险费",
                "fail": "{as_of_month} 之前各期欠缴失业保险费 {arrears_yuan} 元",
                "unknown": "欠费情况不明",
            },
            "en": {
                "pass": "no unpaid premiums for periods before {as_of_month}",
                "fail": "unpaid premiums of {arrears_yuan} yuan for periods before {as_of_month}",
                "unknown": "arrears are not known",
            },
        },
    ),
    Condition(
        C.NO_PREMIUM,
        None,
        {"zh": gettext_noop("实缴保费"), "en": "premiums paid"},
        ("base_fen", "paid_cutoff"),
        ("base_paid_cutoff",),
        _premium_test,
        "no contribution rows means a base of 0 (fails); never unknown",
        {
            "zh": {
                "pass": "{data_year} 年度实缴失业保险费 {base_yuan} 元（{paid_cutoff} 前缴纳）",
                "fail": "{data_year} 年度无实缴失业保险费（{paid_cutoff} 前缴纳的为 0 元）",
                "unknown": "{data_year} 年度实缴失业保险费不明",
            },
            "en": {
                "pass": "{base_yuan} yuan of premiums for {data_year} paid by {paid_cutoff}",
                "fail": "no premiums for {data_year} paid by {paid_cutoff}",
                "unknown": "the premiums paid for {data_year} are not known",
            },
        },
    ),
    Condition(
        C.LAYOFF_RATE_EXCEEDED,
        C.HEADCOUNT_MISSING,
        {"zh": gettext_noop("裁员率"), "en": "layoff rate"},
        (
            "base_headcount",
            "base_month",
            "end_headcount",
            "natural_attrition",
            "layoff_rate_e4",
            "layoff_limit_bp",
        ),
        (
            "layoff_rate_limit",
            "small_unit_max_headcount",
            "small_unit_layoff_rate_limit",
            "small_unit_headcount_basis",
            "natural_attrition_reasons",
            "base_headcount_fallback",
        ),
        _layoff_test,
        "unknown (HEADCOUNT_MISSING) when H0 or H1 is missing; rate 0 when H0 = 0",
        {
            "zh": {
                "pass": "裁员率 {rate_pct}（{h1_phrase}，{n_phrase}，{h0_phrase}）不高于 {limit_pct}{limit_note}",
                "fail": "裁员率 {rate_pct}（{h1_phrase}，{n_phrase}，{h0_phrase}）高于 {limit_pct}{limit_note}",
                "unknown": "裁员率无法计算：{missing_headcount}",
            },
            "en": {
                "pass": "layoff rate {rate_pct} ({h1_phrase}, {n_phrase}, {h0_phrase}) is not above {limit_pct}{limit_note}",
                "fail": "layoff rate {rate_pct} ({h1_phrase}, {n_phrase}, {h0_phrase}) is above {limit_pct}{limit_note}",
                "unknown": "layoff rate unknown: {missing_headcount}",
            },
        },
    ),
    Condition(
        C.SIZE_UNKNOWN,
        C.SIZE_UNKNOWN,
        {"zh": gettext_noop("企业规模"), "en": "enterprise size"},
        ("unit_type", "size_class", "size_basis", "size_row", "employees", "revenue_yuan", "assets_yuan"),
        ("ratio_category", "non_enterprise_ratio_category", "size_headcount_fallback"),
        _size_test,
        "unknown (SIZE_UNKNOWN) for an enterprise with no indicators, declared size or headcount",
        {
            "zh": {
                "pass": "{size_phrase}，适用{category_label}返还比例",
                "fail": "企业规模不符合要求",
                "unknown": "企业规模无法确定：无划型指标、无申报规模、无人数",
            },
            "en": {
                "pass": "{size_phrase}; the {category_label} ratio applies",
                "fail": "the enterprise size does not qualify",
                "unknown": "the enterprise size cannot be determined: no indicators, no declared size, no headcount",
            },
        },
    ),
    Condition(
        C.FULL_PAYMENT_SHORT,
        None,
        {"zh": gettext_noop("足额缴费 12 个月"), "en": "12 months fully paid"},
        ("full_paid_periods",),
        ("conditions",),
        _full_payment_test,
        "a missing period counts as not fully paid; never unknown",
        {
            "zh": {
                "pass": "{data_year} 年 12 个月均足额缴纳失业保险费",
                "fail": "{data_year} 年 12 个月中仅 {full_paid_periods} 个月足额缴纳失业保险费",
                "unknown": "{data_year} 年缴费月数不明",
            },
            "en": {
                "pass": "premiums fully paid for all 12 months of {data_year}",
                "fail": "premiums fully paid for only {full_paid_periods} of the 12 months of {data_year}",
                "unknown": "the months paid in {data_year} are not known",
            },
        },
    ),
)

ROUTES: tuple[Route, ...] = (
    Route(
        C.COMMITMENT_BREACH,
        {"zh": gettext_noop("未履行承诺"), "en": "broken commitment"},
        ("commitment_breach_since",),
        (),
        lambda p, as_of: pl.col("commitment_breach_since").is_not_null(),
        {
            "zh": {
                "fail": "自 {commitment_breach_since} 起列入未履行稳就业承诺名单：须单位申请、人工审核、重点监管",
                "pass": "不在未履行稳就业承诺名单中",
                "unknown": "未履行承诺名单状态不明",
            },
            "en": {
                "fail": "listed since {commitment_breach_since} for a broken job-stabilisation commitment: "
                "the unit must apply, manual review, key supervision",
                "pass": "not listed for a broken job-stabilisation commitment",
                "unknown": "the commitment listing is not known",
            },
        },
    ),
    Route(
        C.ABNORMAL_OPERATION,
        {"zh": gettext_noop("经营异常"), "en": "abnormal operation"},
        ("abnormal_operation_since",),
        ("abnormal_operation_track",),
        lambda p, as_of: pl.col("abnormal_operation_since").is_not_null(),
        {
            "zh": {
                "fail": "自 {abnormal_operation_since} 起列入经营异常名录：{abnormal_effect}",
                "pass": "不在经营异常名录中",
                "unknown": "经营异常名录状态不明",
            },
            "en": {
                "fail": "on the abnormal-operation list since {abnormal_operation_since}: {abnormal_effect}",
                "pass": "not on the abnormal-operation list",
                "unknown": "the abnormal-operation listing is not known",
            },
        },
    ),
    Route(
        C.DISPATCH_UNCONFIRMED,
        {"zh": gettext_noop("劳务派遣确认"), "en": "dispatch confirmation"},
        ("dispatch", "dispatch_confirmed_on"),
        (),
        lambda p, as_of: pl.col("dispatch") & pl.col("dispatch_confirmed_on").is_null(),
        {
            "zh": {
                "fail": "劳务派遣单位，比对日 {as_of} 前尚无实际用工单位确认：待确认",
                "pass": "{dispatch_phrase}",
                "unknown": "是否劳务派遣单位不明",
            },
            "en": {
                "fail": "labour-dispatch unit without a host employers' confirmation by {as_of}: pending confirmation",
                "pass": "{dispatch_phrase}",
                "unknown": "whether the unit dispatches labour is not known",
            },
        },
    ),
)

CONDITION_BY_CODE: dict[str, Condition] = {c.code: c for c in CONDITIONS}
ROUTE_BY_CODE: dict[str, Route] = {r.code: r for r in ROUTES}


def in_force(params: ResolvedParams) -> tuple[Condition, ...]:
    """The conditions the parameter set puts in force, in registry order."""
    return tuple(c for c in CONDITIONS if c.code in params.conditions)
