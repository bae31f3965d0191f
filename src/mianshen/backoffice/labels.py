"""Display labels of the domain's codes, in Chinese (the source language), translated through Django i18n."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from mianshen.policy.conditions import CONDITIONS, ROUTES

from .roles import DISTRICTS, Role

STATES: dict[str, Promise] = {
    "identified": _("已识别"),
    "awaiting_confirmation": _("待用工单位确认"),
    "awaiting_application": _("待申请"),
    "under_review": _("人工审核中"),
    "rechecked": _("已复核"),
    "publicised": _("公示中"),
    "objected": _("有异议"),
    "approved": _("已核准"),
    "excluded": _("不予返还"),
    "released": _("拨付中"),
    "paid": _("已拨付"),
    "awaiting_correction": _("拨付未成功，待更正"),
    "payment_cancelled": _("已撤销拨付"),
}
DECISIONS: dict[str, Promise] = {
    "eligible": _("符合条件"),
    "ineligible": _("不符合条件"),
    "manual_review": _("转人工审核"),
    "pending_confirmation": _("待实际用工单位确认"),
}
CHECKPOINTS: dict[str, Promise] = {
    "initial": _("首轮比对"),
    "before_publicity": _("公示前比对（检查点一）"),
    "before_payment": _("拨付前比对（检查点三）"),
    "ad_hoc": _("临时比对"),
}
ROUND_STATUSES: dict[str, Promise] = {"running": _("运行中"), "completed": _("已完成"), "failed": _("失败")}
JOB_STATUSES: dict[str, Promise] = {
    "queued": _("排队中"),
    "running": _("运行中"),
    "done": _("完成"),
    "failed": _("失败"),
}
OUTCOMES: dict[str, Promise] = {
    "upheld": _("成立"),
    "rejected": _("不成立"),
    "withdrawn": _("撤回"),
    "approve": _("同意"),
    "reject": _("不同意"),
}
RAISED_BY: dict[str, Promise] = {"public": _("公众"), "unit": _("单位")}
ROLES: dict[str, Promise] = {str(r.value): r.label for r in Role}

# ---- payments (the codes of mianshen.payments: lifecycle, models, reasons) --------------------------------
INSTRUCTION_STATUSES: dict[str, Promise] = {
    "created": _("待生成文件"),
    "frozen": _("已冻结，待交付"),
    "uploaded": _("已交付银行，未答复"),
    "no_answer": _("银行超时未答复"),
    "accepted": _("银行已受理"),
    "settled": _("已入账"),
    "rejected": _("银行拒绝"),
    "returned": _("已退回"),
    "disputed": _("有争议，待核查"),
    "cancelled": _("已撤销"),
}
BUCKETS: dict[str, Promise] = {
    "settled": _("已入账"),
    "in_flight": _("在途"),
    "awaiting_correction": _("待更正"),
    "cancelled": _("已撤销"),
}
BANK_FILE_STATUSES: dict[str, Promise] = {
    "frozen": _("已冻结"),
    "uploading": _("交付中"),
    "uploaded": _("已交付，未答复"),
    "no_answer": _("超时未答复"),
    "answered": _("已答复"),
    "rejected": _("整体拒绝"),
}
INBOUND_STATUSES: dict[str, Promise] = {"applied": _("已应用"), "quarantined": _("已隔离")}
HOLD_KINDS: dict[str, Promise] = {
    "contradiction": _("矛盾的银行回执"),
    "late": _("重发后迟到的回执"),
    "duplicate": _("银行报重复"),
    "du01": _("未重发的文件被报重复"),
    "no_answer": _("超时未答复"),
    "review": _("账户冻结待复核"),
    "treasury": _("基金账户无法扣款"),
    "triage": _("原因不明待人工核查"),
    "repeat_booking": _("重复记账"),
    "our_defect": _("我方文件缺陷"),
}
# what a failure makes the system do (payments.reasons.Action), for staff
FAILURE_ACTIONS: dict[str, Promise] = {
    "needs_correction": _("需更正账户"),
    "needs_correction_no_retry_same_account": _("账户已销户：须登记新账户"),
    "held_for_review": _("账户冻结：复核后处理"),
    "duplicate_alert": _("重复警报：不得重发"),
    "our_defect_resend": _("我方文件缺陷：修正后整批重发"),
    "treasury_incident": _("基金账户问题"),
    "manual_triage": _("人工核查"),
}
CORRECTION_KINDS: dict[str, Promise] = {"account": _("更正账户"), "resend": _("原账户重发")}
APPROVAL_KINDS: dict[str, Promise] = {"cancel_payment": _("撤销拨付"), "reissue_file": _("缺陷文件重发")}
DECIDED: dict[str, Promise] = {"approved": _("已同意"), "refused": _("未同意"), "": _("待决定")}
BOOKING_KINDS: dict[str, Promise] = {"debit": _("付款记账"), "return": _("退回")}


def lang_code() -> str:
    """``zh`` or ``en``: the explanation language matching the active UI language."""
    return "en" if (get_language() or "").startswith("en") else "zh"


def code_title(code: str) -> str:
    """A condition or route code with its title in the active language (``ARREARS`` → ``ARREARS 欠费``)."""
    lang = lang_code()
    for c in CONDITIONS:
        if code == c.code:
            return f"{code} {c.title[lang]}"
        if code == c.unknown_code:
            return gettext("%(code)s %(title)s（无法判断）") % {"code": code, "title": c.title[lang]}
    for r in ROUTES:
        if code == r.code:
            return f"{code} {r.title[lang]}"
    return code


def district_name(code: str | None) -> str:
    if not code:
        return ""
    return DISTRICTS.get(code, code)


def failure_codes(*, reject_codes: str, return_reason: str, returned: bool) -> list[str]:
    """The reason codes of a failed instruction: its return reason if the money came back, else the codes of
    the rejection (``"AC01 BE01"`` → ``["AC01", "BE01"]``)."""
    if returned:
        return [return_reason] if return_reason else []
    return [c for c in reject_codes.split() if c]


def reason_meaning(code: str) -> str:
    """A reason code with what it means in the active language (``AC01`` → ``AC01 账号错误``)."""
    from mianshen.payments.reasons import reason_info

    info = reason_info(code or None)
    return f"{info.code} {info.meaning_en if lang_code() == 'en' else info.meaning_zh}"


def bank_status_meaning(code: str) -> str:
    """An ISO status code with its meaning (``ACSC`` → ``ACSC 清算完成（付款方）``); "" for none."""
    from mianshen.payments.reasons import status_info

    if not code:
        return ""
    info = status_info(code)
    return f"{info.code} {info.meaning_en if lang_code() == 'en' else info.meaning_zh}"


def next_step(action: str) -> str:
    """What the unit is told to do after a failure with this action (payments.reasons), in the active
    language; "" for no action."""
    from mianshen.payments.reasons import REASONS

    info = next((r for r in REASONS.values() if r.action.value == action), None)
    if info is None:
        return ""
    return info.next_step_en if lang_code() == "en" else info.next_step_zh


def mask_account(number: str | None) -> str:
    """An account number with all but its last four digits hidden (``6210500000000001`` → ``••••0001``): the
    full number is shown only in an audited panel."""
    if not number:
        return ""
    return "••••" + number[-4:]
