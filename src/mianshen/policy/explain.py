"""Explanations in plain words (zh, en), rendered only from the evidence values the engine produced.

``render(evidence_row, params, lang)`` takes one row of ``engine.evaluate`` as a plain dict (dates may be ``date``
objects or ISO text, as after a JSON round trip), so a stored round re-renders its explanations without
recomputing anything. Every condition in force and every route is listed with its outcome, the values behind it
and its citation; then the amount and the parameter versions used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from mianshen.core.money import format_yuan

from . import codes as C
from .conditions import CONDITIONS, ROUTES
from .numbers import percent_bp, percent_e4
from .parameters import ResolvedParams
from .sizeclass import ROWS

LANGS = ("zh", "en")

UNIT_TYPES: dict[str, dict[str, str]] = {
    "zh": {
        "enterprise": "企业",
        "social_organization": "社会团体",
        "foundation": "基金会",
        "social_service_institution": "社会服务机构",
        "law_firm": "律师事务所",
        "accounting_firm": "会计师事务所",
        "individual_business": "以单位形式参保的个体经济组织",
        "government_agency": "机关",
        "public_institution": "事业单位",
        "other": "其他",
    },
    "en": {
        "enterprise": "enterprise",
        "social_organization": "social organisation",
        "foundation": "foundation",
        "social_service_institution": "social-service institution",
        "law_firm": "law firm",
        "accounting_firm": "accounting firm",
        "individual_business": "individual business insured as a unit",
        "government_agency": "government agency",
        "public_institution": "public institution",
        "other": "other",
    },
}
SIZES = {
    "zh": {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"},
    "en": {"large": "large", "medium": "medium", "small": "small", "micro": "micro"},
}
CATEGORIES = {
    "zh": {"large": "大型企业", "sme": "中小微企业"},
    "en": {"large": "large-enterprise", "sme": "SME"},
}
DECISIONS = {
    "zh": {
        C.ELIGIBLE: "符合条件（免申即享）",
        C.INELIGIBLE: "不符合条件",
        C.MANUAL_REVIEW: "转人工审核",
        C.PENDING_CONFIRMATION: "待实际用工单位确认",
    },
    "en": {
        C.ELIGIBLE: "eligible (paid without application)",
        C.INELIGIBLE: "not eligible",
        C.MANUAL_REVIEW: "manual review",
        C.PENDING_CONFIRMATION: "pending the host employers' confirmation",
    },
}
MARKS = {
    "zh": {C.PASS: "通过", C.FAIL: "不通过", C.UNKNOWN: "无法判断", "applies": "适用", "clear": "不适用"},
    "en": {C.PASS: "pass", C.FAIL: "FAIL", C.UNKNOWN: "UNKNOWN", "applies": "APPLIES", "clear": "n/a"},
}
MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
TEXT = {
    "zh": {
        "header": "单位 {unit_id}（统一社会信用代码 {credit_code}）：{decision}",
        "policy": "政策 {policy_id}《{title}》；数据年度 {data_year}；比对日 {as_of}；参数集 {hash}",
        "conditions": "条件：",
        "routes": "分流：",
        "basis": "。依据：",
        "end": "",
        "amount": "返还金额：{amount} 元（{data_year} 年度实缴 {base} 元 × {ratio}，四舍五入到分）",
        "amount_none": "返还金额：0.00 元（不符合条件，不予返还）",
        "amount_no_ratio": "返还金额：0.00 元（企业规模未定，返还比例待定）",
        "params": "参数（版本）：",
        "param": "  {name} = {value}（自 {start}；{basis}）",
    },
    "en": {
        "header": "unit {unit_id} (credit code {credit_code}): {decision}",
        "policy": "policy {policy_id} ({title}); data year {data_year}; as of {as_of}; parameter set {hash}",
        "conditions": "conditions:",
        "routes": "routes:",
        "basis": ". Basis: ",
        "end": ".",
        "amount": "amount: {amount} yuan ({base} yuan paid for {data_year} × {ratio}, rounded half up to the fen)",
        "amount_none": "amount: 0.00 yuan (not eligible)",
        "amount_no_ratio": "amount: 0.00 yuan (the enterprise size, and so the ratio, is not known)",
        "params": "parameters (versions):",
        "param": "  {name} = {value} (from {start}; {basis})",
    },
}


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _month_name(ym: str, lang: str) -> str:
    year, month_no = ym.split("-")
    return f"{year}年{int(month_no)}月" if lang == "zh" else f"{MONTHS_EN[int(month_no) - 1]} {year}"


def _layoff_fields(e: Mapping[str, Any], p: ResolvedParams, lang: str) -> dict[str, str]:
    y, zh = p.data_year, lang == "zh"
    h0, h1, n = e.get("base_headcount"), e.get("end_headcount"), e.get("natural_attrition") or 0
    base_m = e.get("base_month")
    out: dict[str, str] = {}
    if h0 is not None:
        if base_m == f"{y - 1}-12":
            out["h0_phrase"] = f"上上年末参保 {h0} 人" if zh else f"{h0} insured at the end of {y - 1}"
        else:
            month_name = _month_name(str(base_m), lang)
            out["h0_phrase"] = (
                f"{month_name}（{y} 年内首个参保月）参保 {h0} 人"
                if zh
                else f"{h0} insured in {month_name}, the first month insured in {y}"
            )
    if h1 is not None:
        out["h1_phrase"] = f"上年末参保 {h1} 人" if zh else f"{h1} insured at the end of {y}"
    natural = p["natural_attrition_reasons"] == frozenset({"retirement", "death"})
    out["n_phrase"] = (
        f"自然减员 {n} 人" if zh else (f"{n} retired or died" if natural else f"{n} left for natural reasons")
    )
    if e.get("layoff_rate_e4") is not None:
        out["rate_pct"] = percent_e4(int(e["layoff_rate_e4"]))
    if e.get("layoff_limit_bp") is not None:
        out["limit_pct"] = percent_bp(int(e["layoff_limit_bp"]))
    small_by = h0 if p["small_unit_headcount_basis"] == "base" else h1
    small = small_by is not None and int(small_by) <= p.small_max_headcount
    max_n = p.small_max_headcount
    out["limit_note"] = (
        ("（{}人（含）以下单位的标准）" if zh else " (the limit for units of {} or fewer insured)").format(
            max_n
        )
        if small
        else ""
    )
    missing = []
    if h0 is None:
        since = "，且 {} 年内无参保记录" if zh else " nor for any month of {}"
        tail = since.format(y) if p["base_headcount_fallback"] == "first_month_in_year" else ""
        missing.append(
            f"缺少上上年末（{y - 1} 年 12 月）参保人数{tail}"
            if zh
            else f"no headcount for December {y - 1}{tail}"
        )
    if h1 is None:
        missing.append(f"缺少上年末（{y} 年 12 月）参保人数" if zh else f"no headcount for December {y}")
    out["missing_headcount"] = ("；" if zh else "; ").join(missing)
    return out


def _size_phrase(e: Mapping[str, Any], p: ResolvedParams, lang: str) -> str:
    zh, unit_type = lang == "zh", str(e.get("unit_type"))
    if unit_type != "enterprise":
        label = UNIT_TYPES[lang].get(unit_type, unit_type)
        return f"非企业单位（{label}）" if zh else f"not an enterprise ({label})"
    size = SIZES[lang].get(str(e.get("size_class")), str(e.get("size_class")))
    basis = e.get("size_basis")
    if basis == "indicators":
        row = ROWS[str(e.get("size_row"))]
        used = [
            (f"从业人员 {e['employees']} 人" if zh else f"{e['employees']} employees") if row.x else "",
            (f"营业收入 {e['revenue_yuan']:,} 元" if zh else f"revenue {e['revenue_yuan']:,} yuan")
            if row.y
            else "",
            (f"资产总额 {e['assets_yuan']:,} 元" if zh else f"assets {e['assets_yuan']:,} yuan")
            if row.z
            else "",
        ]
        values = ("，" if zh else ", ").join(u for u in used if u)
        how = (
            f"{values}，按《统计上大中小微型企业划分办法（2017）》{row.name}标准"
            if zh
            else f"{values}, by the 2017 size table, {row.name_en}"
        )
    elif basis == "declared":
        how = "按社保系统登记的企业划型" if zh else "as declared in the social-insurance system"
    elif e.get("employees") is not None:
        how = f"按从业人员 {e['employees']} 人" if zh else f"by {e['employees']} employees"
    else:
        h0 = e.get("base_headcount")
        how = f"按参保人数 {h0} 人（假设 A5）" if zh else f"by {h0} insured (assumption A5)"
    return f"企业规模：{size}（{how}）" if zh else f"enterprise size {size} ({how})"


def fields(e: Mapping[str, Any], p: ResolvedParams, lang: str) -> dict[str, str]:
    """Every value a message template may name, formatted for ``lang``."""
    zh = lang == "zh"
    as_of = p.resolved_on
    unit_type = str(e.get("unit_type"))
    dereg = e.get("deregistered_on")
    dispatch_on = e.get("dispatch_confirmed_on")
    track_review = p["abnormal_operation_track"] == "manual_review"
    category = e.get("ratio_category")
    out = {
        "unit_type": UNIT_TYPES[lang].get(unit_type, unit_type),
        "covered": ("、" if zh else ", ").join(UNIT_TYPES[lang][t] for t in sorted(p["covered_unit_types"])),
        "as_of": as_of.isoformat(),
        "as_of_month": f"{as_of.year:04d}-{as_of.month:02d}",
        "data_year": str(p.data_year),
        "deregistered_on": _day(dereg) if dereg is not None else "",
        "dereg_later": ""
        if dereg is None
        else (
            f"（注销日期 {_day(dereg)} 在比对日之后）"
            if zh
            else f" (deregistration on {_day(dereg)} is later)"
        ),
        "arrears_yuan": format_yuan(int(e.get("arrears_fen") or 0)),
        "base_yuan": format_yuan(int(e.get("base_fen") or 0)),
        "paid_cutoff": _day(e.get("paid_cutoff")),
        "full_paid_periods": str(e.get("full_paid_periods") or 0),
        "size_phrase": _size_phrase(e, p, lang),
        "category_label": CATEGORIES[lang].get(str(category), str(category)),
        "abnormal_effect": ("转人工审核（假设 A6）" if zh else "manual review (assumption A6)")
        if track_review
        else ("仅作记录" if zh else "noted only"),
        "dispatch_phrase": (
            (
                f"劳务派遣单位，实际用工单位已于 {_day(dispatch_on)} 确认"
                if zh
                else f"labour-dispatch unit, confirmed by the host employers on {_day(dispatch_on)}"
            )
            if e.get("dispatch") and dispatch_on is not None
            else ("非劳务派遣单位" if zh else "not a labour-dispatch unit")
        ),
    }
    for key in ("serious_dishonesty_since", "abnormal_operation_since", "commitment_breach_since"):
        out[key] = _day(e[key]) if e.get(key) is not None else ""
    out.update(_layoff_fields(e, p, lang))
    return out


def _value_text(text: Any) -> str:
    if isinstance(text, list):
        return ", ".join(text)
    if isinstance(text, dict):
        return ", ".join(f"{k}={v}" for k, v in text.items())
    return str(text)


def condition_lines(
    conditions: Sequence[Any], e: Mapping[str, Any], f: Mapping[str, Any], params: ResolvedParams, lang: str,
    t: Mapping[str, str],
) -> list[str]:  # fmt: skip
    """One line per condition in force (its outcome in ``e``): mark, code, words filled from ``f``, legal basis.
    Shared by every family's explanation (``t`` gives its ``basis`` and ``end`` words)."""
    lines = []
    for c in conditions:
        outcome = e.get(c.outcome_column)
        if outcome is None:
            continue  # not in force for this policy
        code = {C.FAIL: c.code, C.UNKNOWN: c.unknown_code}.get(str(outcome))
        mark = MARKS[lang][str(outcome)] + (f" {code}" if code else "")
        text = c.messages[lang][str(outcome)].format(**f)
        lines.append(f"  [{mark}] {text}{t['basis']}{params.citation(c.code)}{t['end']}")
    return lines


def render(evidence_row: Mapping[str, Any], params: ResolvedParams, lang: str = "zh") -> str:
    """The explanation of one unit's decision, from its evidence values. ``lang``: ``zh`` or ``en``.

    ``evidence_row`` is a row of ``engine.evaluate`` (or the same values after JSON): the unit columns, the facts,
    ``layoff_rate_e4``, ``layoff_limit_bp``, the size columns, ``ratio_category``, ``ratio_bp``, every
    ``outcome_<CODE>`` and ``route_<CODE>``, ``decision`` and ``amount_fen``. Nothing is recomputed.
    """
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use zh or en")
    e, t = evidence_row, TEXT[lang]
    f = fields(e, params, lang)
    decision = str(e["decision"])
    lines = [
        t["header"].format(
            unit_id=e["unit_id"], credit_code=e["credit_code"], decision=DECISIONS[lang][decision]
        ),
        t["policy"].format(
            policy_id=params.policy_id,
            title=params.policy.title,
            data_year=params.data_year,
            as_of=f["as_of"],
            hash=params.param_hash[:12],
        ),
        t["conditions"],
    ]
    lines += condition_lines(CONDITIONS, e, f, params, lang, t)
    lines.append(t["routes"])
    for r in ROUTES:
        applies = bool(e.get(r.column))
        mark = f"{MARKS[lang]['applies']} {r.code}" if applies else MARKS[lang]["clear"]
        text = r.messages[lang][C.FAIL if applies else C.PASS].format(**f)
        lines.append(f"  [{mark}] {text}{t['basis']}{params.citation(r.code)}{t['end']}")
    if decision == C.INELIGIBLE:
        lines.append(t["amount_none"])
    elif e.get("ratio_bp") is None:
        lines.append(t["amount_no_ratio"])
    else:
        lines.append(
            t["amount"].format(
                amount=format_yuan(int(e["amount_fen"])),
                data_year=params.data_year,
                base=f["base_yuan"],
                ratio=percent_bp(int(e["ratio_bp"])),
            )
        )
    lines.append(t["params"])
    for name, version in sorted(params.values.items()):
        basis = "--set" if version.override else version.basis
        lines.append(
            t["param"].format(name=name, value=_value_text(version.text), start=version.start, basis=basis)
        )
    return "\n".join(lines) + "\n"
