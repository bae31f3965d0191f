"""The catalogue of message kinds (contracts §4) and their texts, in both languages.

Each text is a Chinese msgid (the source text) translated to English in ``locale/en`` through gettext, the
project's one path for user-facing text; placeholders are ``str.format`` fields filled from the message's
parameters. A parameter that itself depends on the language (a reason in words) is given as
``{"zh": …, "en": …}``; so is the benefit's name (``{benefit}``, ``{benefit_full}``, ``{grant}``: ``benefit(policy_id)``),
so that one text serves the refund and the 2022 subsidies alike. Money is integer fen, formatted here (``core.money.format_yuan``, the one formatter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as marked  # a message marked _() (gettext_noop) where defined
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as _

from mianshen.core.money import format_yuan
from mianshen.policy.families import BenefitWords, words_of


class Channel(StrEnum):
    SMS = "sms"  # 短信: the unit's registered phone (registry.Unit.phone)
    EMAIL = "email"  # 电子邮件: where an address is known (a form, an officer)
    INBOX = "inbox"  # 站内消息: the unit's messages in the portal (address: the unit id)


CHANNEL_LABELS: dict[str, Promise] = {
    "sms": gettext_lazy("短信"),
    "email": gettext_lazy("电子邮件"),
    "inbox": gettext_lazy("站内消息"),
}


class Kind(StrEnum):
    OTP = "otp"
    LISTED = "listed"
    APPROVED = "approved"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    NO_ACCOUNT = "no_account"
    DROPPED = "dropped"
    MUST_APPLY = "must_apply"
    CONFIRM_DISPATCH = "confirm_dispatch"
    OBJECTION_OUTCOME = "objection_outcome"
    APPLICATION_RECEIVED = "application_received"
    APPLICATION_DECIDED = "application_decided"
    CALLBACK_RECEIVED = "callback_received"
    CALLBACK_REMINDER = "callback_reminder"
    CALLBACK_ESCALATED = "callback_escalated"


@dataclass(frozen=True)
class KindInfo:
    text: str  # the Chinese msgid
    sms_template: str  # the template code registered with the SMS provider
    secret: str = ""  # the parameter that is a secret (hidden in listings unless unmasked)
    quiet_hours: bool = True  # SMS of this kind waits for the end of quiet hours (not one-time codes)


KIND_LABELS: dict[str, Promise] = {
    "otp": gettext_lazy("验证码"),
    "listed": gettext_lazy("列入公示名单"),
    "approved": gettext_lazy("已核准"),
    "paid": gettext_lazy("已拨付"),
    "payment_failed": gettext_lazy("拨付未成功"),
    "no_account": gettext_lazy("无可用账户"),
    "dropped": gettext_lazy("移出名单"),
    "must_apply": gettext_lazy("须申请"),
    "confirm_dispatch": gettext_lazy("请确认派遣人员"),
    "objection_outcome": gettext_lazy("异议处理结果"),
    "application_received": gettext_lazy("申请已受理"),
    "application_decided": gettext_lazy("申请已审核"),
    "callback_received": gettext_lazy("呼我必回已受理"),
    "callback_reminder": gettext_lazy("呼我必回提醒"),
    "callback_escalated": gettext_lazy("呼我必回已升级"),
}

CATALOGUE: dict[Kind, KindInfo] = {
    Kind.OTP: KindInfo(
        _("【稳岗返还】验证码 {code}，10 分钟内有效，仅可使用一次，请勿告诉他人。"),
        "SMS_MS_OTP",
        "code",
        False,
    ),
    Kind.LISTED: KindInfo(
        _(
            "{unit_name}：贵单位已列入{benefit_full}公示名单，拟{grant} {amount} 元，无需申请。公示期 {start} 至 "
            "{end}。对名单有异议的，可在公示期内在 /objections/new/ 提出。"
        ),
        "SMS_MS_LISTED",
    ),
    Kind.APPROVED: KindInfo(
        _("{unit_name}：贵单位的{benefit} {amount} 元已核准，将拨付至登记的对公账户。"), "SMS_MS_APPROVED"
    ),
    Kind.PAID: KindInfo(
        _("{unit_name}：{benefit} {amount} 元已于 {date} 拨付至尾号 {last4} 的账户。"), "SMS_MS_PAID"
    ),
    Kind.PAYMENT_FAILED: KindInfo(
        _("{unit_name}：{benefit}款 {amount} 元{what}：{why}。{next_step} 进度可在 /lookup/ 查询。"),
        "SMS_MS_PAY_FAILED",
    ),
    Kind.NO_ACCOUNT: KindInfo(
        _(
            "{unit_name}：单位未登记可用的社保缴费银行账户，{benefit} {amount} 元暂无法拨付：请登记有效的对公账户，"
            "经复核后拨付，无需重新申请。进度可在 /lookup/ 查询。"
        ),
        "SMS_MS_NO_ACCOUNT",
    ),
    Kind.DROPPED: KindInfo(
        _(
            "{unit_name}：经公示后的比对，贵单位不再符合{benefit}条件（{why}）。说明可在 /lookup/ 查看，"
            "也可在 /callback/ 申请回电。"
        ),
        "SMS_MS_DROPPED",
    ),
    Kind.MUST_APPLY: KindInfo(
        _("{unit_name}：贵单位在重点监管名单上，{benefit}须主动申请：请在 /lookup/ 验证后于 /apply/ 提交。"),
        "SMS_MS_MUST_APPLY",
    ),
    Kind.CONFIRM_DISPATCH: KindInfo(
        _(
            "{unit_name}：劳务派遣单位{firm_name}申报向贵单位派遣了 {workers} 人，请在 /lookup/ 验证后于 /apply/ "
            "确认或提出异议，确认后该单位的{benefit}方可继续办理。"
        ),
        "SMS_MS_DISPATCH",
    ),
    Kind.OBJECTION_OUTCOME: KindInfo(
        _("{unit_name}：对贵单位的公示异议已处理：{outcome}。"), "SMS_MS_OBJECTION"
    ),
    Kind.APPLICATION_RECEIVED: KindInfo(
        _("您的申请（编号 {ref}）已收到，审核结果将另行通知。"), "SMS_MS_APP_RECEIVED"
    ),
    Kind.APPLICATION_DECIDED: KindInfo(_("您的申请（编号 {ref}）已审核：{outcome}。"), "SMS_MS_APP_DECIDED"),
    Kind.CALLBACK_RECEIVED: KindInfo(
        _("您的呼我必回请求（编号 {ref}）已收到，我们将在 {due} 前回电。"), "SMS_MS_CB_RECEIVED"
    ),
    Kind.CALLBACK_REMINDER: KindInfo(_("呼我必回 {ref} 待回电，截止时间 {due}。"), "SMS_MS_CB_REMIND"),
    Kind.CALLBACK_ESCALATED: KindInfo(
        _("呼我必回 {ref} 已超时未回电，已升级至 {level}。"), "SMS_MS_CB_ESCALATED"
    ),
}

LANGUAGES = ("zh-hans", "en")
# Words some texts use, as parameters in both languages.
WORDS: dict[str, str] = {
    "returned": _("已被退回"),
    "not_credited": _("未能入账"),
    "objection_rejected": _("异议不成立，继续公示"),
    "objection_withdrawn": _("异议已撤回，继续公示"),
    "objection_upheld": _("异议成立，不予{grant}"),
    "application_granted": _("准予，案件将在下一轮比对中继续办理"),
    "application_refused": _("不予准许，理由可在 /apply/ 查看"),
}


def word(name: str, words: BenefitWords | None = None) -> dict[str, str]:
    """A word of ``WORDS`` in both languages, as a parameter; one that names the benefit (``{grant}``,
    ``{benefit}``) is filled with ``words``, the words of the case's policy family."""
    out = both(WORDS[name])
    if words is not None:
        out = {lang: text.format_map(words.params(lang)) for lang, text in out.items()}
    return out


@cache
def benefit(policy_id: str) -> Mapping[str, dict[str, str]]:
    """The benefit's words of ``policy_id``'s family as message parameters (``{benefit}``, ``{benefit_full}``,
    ``{grant}`` … in both languages): every text about a case names the benefit it is about. One mapping per
    policy, shared by every message of it (spread into each message's parameters, never changed)."""
    return MappingProxyType(words_of(policy_id).both())


def both(msgid: str) -> dict[str, str]:
    """A Chinese msgid and its English translation, as a parameter in both languages."""
    with translation.override("en"):
        en = marked(msgid)
    return {"zh": msgid, "en": en}


def yuan(fen: int) -> str:
    """Integer fen written for people: ``1,234.56`` (yuan, two decimals)."""
    return format_yuan(int(fen))


def template(kind: Kind | str, language: str) -> str:
    """The text of ``kind`` in ``language`` (``zh-hans`` or ``en``)."""
    msgid = CATALOGUE[Kind(kind)].text
    if language.startswith("zh"):
        return msgid
    with translation.override(language):
        return marked(msgid)


def resolve(params: Mapping[str, Any], language: str) -> dict[str, Any]:
    lang = "zh" if language.startswith("zh") else "en"
    return {k: (v.get(lang, v.get("zh", "")) if isinstance(v, dict) else v) for k, v in params.items()}


def render(kind: Kind | str, params: Mapping[str, Any], language: str) -> str:
    """The message text of ``kind`` with ``params`` in ``language``."""
    return template(kind, language).format_map(resolve(params, language))


def templates(kind: Kind | str) -> tuple[str, str]:
    """(Chinese, English) texts of ``kind``: look them up once, then ``format_map`` per message (bulk)."""
    return template(kind, "zh-hans"), template(kind, "en")
