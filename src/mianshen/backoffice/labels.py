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
