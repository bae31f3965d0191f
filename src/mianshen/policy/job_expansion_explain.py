"""Explanations of the job-expansion family in plain words (zh, en), from the evidence values alone.

``render(evidence_row, params, lang)`` takes one row of ``job_expansion.evaluate`` as a plain dict (dates as
``date`` or ISO text): every condition in force with its outcome, the values behind it and its citation; how many
hires were left out and why; the amount; the parameter versions used. Nothing is recomputed. Person ids are not
shown (pseudonyms mean nothing to a reader; the back office has them in the evidence).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mianshen.core.money import format_yuan

from . import codes as C
from .explain import DECISIONS, LANGS, UNIT_TYPES, _value_text, condition_lines
from .job_expansion import CONDITIONS, REASON_COLUMNS
from .parameters import ResolvedParams
from .retention_explain import _day

CATEGORY = {
    "zh": {"graduate": "高校毕业生", "unemployed_youth": "登记失业青年"},
    "en": {"graduate": "graduates", "unemployed_youth": "registered-unemployed youth"},
}
REASONS = {
    "zh": {
        C.NOT_REGISTERED: "不在毕业生/失业青年名册",
        C.CATEGORY_NOT_COVERED: "人员类别、毕业年度或年龄不符",
        C.HIRED_OUTSIDE_WINDOW: "招用时间不在补助期内",
        C.NO_CONTRACT: "未签订劳动合同",
        C.SHORT_CONTRIBUTIONS: "缴纳失业保险费月数不足",
        C.HIRING_SUBSIDY: "已享受一次性吸纳就业补贴",
        C.ALREADY_PAID: "已发放过一次性扩岗补助",
        C.UNIT_EXCLUDED: "本单位不符合条件",
        C.COUNTED_ELSEWHERE: "已计入更早招用的单位（每人只计一家企业一次）",
    },
    "en": {
        C.NOT_REGISTERED: "not in the graduate / unemployed-youth register",
        C.CATEGORY_NOT_COVERED: "category, graduation year or age not covered",
        C.HIRED_OUTSIDE_WINDOW: "hired outside the window",
        C.NO_CONTRACT: "no labour contract",
        C.SHORT_CONTRIBUTIONS: "too few contribution months",
        C.HIRING_SUBSIDY: "received the one-off hiring subsidy",
        C.ALREADY_PAID: "already paid this subsidy",
        C.UNIT_EXCLUDED: "the unit is excluded",
        C.COUNTED_ELSEWHERE: "counted for an earlier employer (one enterprise per person, once)",
    },
}
TEXT = {
    "zh": {
        "header": "单位 {unit_id}（统一社会信用代码 {credit_code}）：{decision}",
        "policy": "政策 {policy_id}《{title}》；比对日 {as_of}；参数集 {hash}",
        "conditions": "条件：",
        "basis": "。依据：",
        "end": "",
        "left_out": "未计入的招用人员：",
        "reason": "  {reason} {count} 人（{code}）",
        "amount": "补助金额：{amount} 元（{persons} 人 × 每人 {per_person} 元）",
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
        "left_out": "hires not counted:",
        "reason": "  {reason}: {count} ({code})",
        "amount": "amount: {amount} yuan ({persons} × {per_person} yuan a person)",
        "amount_none": "amount: 0.00 yuan (not eligible)",
        "params": "parameters (versions):",
        "param": "  {name} = {value} (from {start}; {basis})",
    },
}


def rule_phrase(p: ResolvedParams, lang: str) -> str:
    """The year's rule for a hire, in one phrase."""
    zh = lang == "zh"
    sep = "、" if zh else ", "
    y, back = p.data_year, int(p["graduation_years_back"])
    cats = sep.join(CATEGORY[lang][c] for c in sorted(p["person_categories"]))
    grads = str(y) if back == 0 else f"{y - back}–{y}"
    youth = f"{p['youth_min_age']}–{p['youth_max_age']}"
    window, months = f"{p['hire_from']}–{p['hire_until']}", p["min_contribution_months"]
    if zh:
        text = f"{cats}；毕业年度 {grads}"
        if "unemployed_youth" in p["person_categories"]:
            text += f"；失业青年 {youth} 岁"
        return f"{text}；{window} 招用，签订劳动合同，缴费满 {months} 个月"
    text = f"{cats}; graduating {grads}"
    if "unemployed_youth" in p["person_categories"]:
        text += f"; youth aged {youth}"
    return f"{text}; hired {window}, with a labour contract and {months}+ contribution months"


def fields(e: Mapping[str, Any], p: ResolvedParams, lang: str) -> dict[str, str]:
    sep = "、" if lang == "zh" else ", "
    unit_type = str(e.get("unit_type"))
    return {
        "unit_type": UNIT_TYPES[lang].get(unit_type, unit_type),
        "covered": sep.join(UNIT_TYPES[lang][t] for t in sorted(p["covered_unit_types"])),
        "as_of": p.resolved_on.isoformat(),
        "deregistered_on": _day(e["deregistered_on"]) if e.get("deregistered_on") is not None else "",
        "serious_dishonesty_since": _day(e["serious_dishonesty_since"])
        if e.get("serious_dishonesty_since") is not None
        else "",
        "hires": str(e.get("hires")),
        "eligible_persons": str(e.get("eligible_persons")),
        "rule_phrase": rule_phrase(p, lang),
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
    left_out = [(code, int(e.get(col) or 0)) for code, col in REASON_COLUMNS.items()]
    if any(n for _, n in left_out):
        lines.append(t["left_out"])
        lines += [
            t["reason"].format(reason=REASONS[lang][code], count=n, code=code) for code, n in left_out if n
        ]
    if decision != C.ELIGIBLE:
        lines.append(t["amount_none"])
    else:
        lines.append(
            t["amount"].format(
                amount=format_yuan(int(e["amount_fen"])),
                persons=e["eligible_persons"],
                per_person=format_yuan(int(e["per_person_fen"])),
            )
        )
    lines.append(t["params"])
    for name, version in sorted(params.values.items()):
        basis = "--set" if version.override else version.basis
        lines.append(
            t["param"].format(name=name, value=_value_text(version.text), start=version.start, basis=basis)
        )
    return "\n".join(lines) + "\n"
