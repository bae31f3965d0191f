"""Explanations of the retention-training family in plain words (zh, en), from the evidence values alone.

``render(evidence_row, params, lang)`` takes one row of ``retention.evaluate`` as a plain dict (dates as ``date``
or ISO text): every condition in force with its outcome, the values behind it and its citation; the amount; the
parameter versions used. Nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from mianshen.core.money import format_yuan

from . import codes as C
from .explain import DECISIONS, LANGS, SIZES, UNIT_TYPES, _month_name, _value_text, condition_lines
from .parameters import ResolvedParams
from .retention import CONDITIONS

RULES = {
    "zh": {
        "month_of_risk": "当月参保职工，不含暂停、终止参保和退休人员",
        "insured_months": "当月参保且在本单位累计参保满 {n} 个月的职工",
        "single_unit_in_month": "当月参保职工，同月在两个及以上单位参保的人员不计",
    },
    "en": {
        "month_of_risk": "insured that month, not counting suspended, ended or retired",
        "insured_months": "insured that month and at the unit for {n} months or more",
        "single_unit_in_month": "insured that month; a person insured at two units that month counts for neither",
    },
}
SIZE_CATEGORY = {
    "zh": {"large": "大型企业", "sme": "中小微企业"},
    "en": {"large": "large enterprises", "sme": "SMEs"},
}
TEXT = {
    "zh": {
        "header": "单位 {unit_id}（统一社会信用代码 {credit_code}）：{decision}",
        "policy": "政策 {policy_id}《{title}》；比对日 {as_of}；参数集 {hash}",
        "conditions": "条件：",
        "basis": "。依据：",
        "end": "",
        "amount": "补助金额：{amount} 元（{headcount} 人 × 每人 {per_head} 元）",
        "amount_none": "补助金额：0.00 元（不符合条件，不予发放）",
        "params": "参数（版本）：",
        "param": "  {name} = {value}（自 {start}；{basis}）",
    },
    "en": {
        "header": "unit {unit_id} (credit code {credit_code}): {decision}",
        "policy": "policy {policy_id} ({title}); as of {as_of}; parameter set {hash}",
        "conditions": "conditions:",
        "basis": ". Basis: ",
        "end": ".",
        "amount": "amount: {amount} yuan ({headcount} × {per_head} yuan a head)",
        "amount_none": "amount: 0.00 yuan (not eligible)",
        "params": "parameters (versions):",
        "param": "  {name} = {value} (from {start}; {basis})",
    },
}


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _affected_phrase(e: Mapping[str, Any], p: ResolvedParams, lang: str) -> str:
    zh = lang == "zh"
    if e.get("affected_basis") == "risk_area":
        since = _day(e.get("risk_since"))
        return (
            f"本统筹地区自 {since} 起有中高风险地区（任一区县即计全市），参考月份 {e.get('reference_month')}"
            if zh
            else f"the city had a medium- or high-risk area from {since} (any district counts for the city); "
            f"reference month {e.get('reference_month')}"
        )
    return (
        f"行业 {e.get('industry')} 属于特困行业（31号扩围），本统筹地区无中高风险地区，参考月份 {e.get('reference_month')}"
        if zh
        else f"industry {e.get('industry')} is a hardship industry (the 31号 extension) and the city had no risk "
        f"area; reference month {e.get('reference_month')}"
    )


def _size_phrase(e: Mapping[str, Any], lang: str) -> str:
    zh, unit_type = lang == "zh", str(e.get("unit_type"))
    if unit_type != "enterprise":
        label = UNIT_TYPES[lang].get(unit_type, unit_type)
        return f"非企业单位（{label}）" if zh else f"not an enterprise ({label})"
    size = SIZES[lang].get(str(e.get("size_class")), str(e.get("size_class")))
    basis = str(e.get("size_basis"))
    return f"企业规模：{size}（依据：{basis}）" if zh else f"enterprise size {size} (by {basis})"


def fields(e: Mapping[str, Any], p: ResolvedParams, lang: str) -> dict[str, str]:
    zh = lang == "zh"
    sep = "、" if zh else ", "
    prefixes = list(p["hardship_industries"])
    ref = e.get("reference_month")
    unit_type = str(e.get("unit_type"))
    return {
        "unit_type": UNIT_TYPES[lang].get(unit_type, unit_type),
        "covered": sep.join(UNIT_TYPES[lang][t] for t in sorted(p["covered_unit_types"])),
        "as_of": p.resolved_on.isoformat(),
        "year": str(p.data_year),
        "deregistered_on": _day(e["deregistered_on"]) if e.get("deregistered_on") is not None else "",
        "serious_dishonesty_since": _day(e["serious_dishonesty_since"])
        if e.get("serious_dishonesty_since") is not None
        else "",
        "industry": str(e.get("industry")),
        "affected_phrase": _affected_phrase(e, p, lang) if e.get("affected_basis") else "",
        "hardship_note": (
            (f"（特困行业：{sep.join(prefixes)}）" if zh else f" (hardship industries: {sep.join(prefixes)})")
            if prefixes
            else (
                "（比对日未实施特困行业扩围）"
                if zh
                else " (no hardship-industry extension on the as-of date)"
            )
        ),
        "size_phrase": _size_phrase(e, lang),
        "covered_sizes": sep.join(SIZE_CATEGORY[lang][c] for c in sorted(p["covered_size_categories"])),
        "reference_month_name": _month_name(str(ref), lang) if ref else "",
        "headcount": str(e.get("headcount")),
        "rule_phrase": RULES[lang][p["headcount_rule"]].format(n=p["min_insured_months"]),
    }


def render(evidence_row: Mapping[str, Any], params: ResolvedParams, lang: str = "zh") -> str:
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
            as_of=f["as_of"],
            hash=params.param_hash[:12],
        ),
        t["conditions"],
    ]
    lines += condition_lines(CONDITIONS, e, f, params, lang, t)
    if decision == C.INELIGIBLE or e.get("headcount") is None:
        lines.append(t["amount_none"])
    else:
        lines.append(
            t["amount"].format(
                amount=format_yuan(int(e["amount_fen"])),
                headcount=e["headcount"],
                per_head=format_yuan(int(e["per_head_fen"])),
            )
        )
    lines.append(t["params"])
    for name, version in sorted(params.values.items()):
        basis = "--set" if version.override else version.basis
        lines.append(
            t["param"].format(name=name, value=_value_text(version.text), start=version.start, basis=basis)
        )
    return "\n".join(lines) + "\n"
