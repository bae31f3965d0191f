"""ISO 20022 status and reason codes, and what each one makes the system do (payments.md, "Reason codes").

- :func:`reason_info` maps a reason code (``StsRsnInf/Rsn/Cd`` in pain.002, ``RtrInf/Rsn/Cd`` in camt.054) to an
  :class:`Action` and a "what to do next" text for the unit: gettext messages (Chinese source text, English in the
  project's catalogue), read in either language (``meaning`` follows the active one; ``meaning_zh`` /
  ``meaning_en`` for a notice written in both). Unknown, proprietary
  (``PRTRY:…``) or missing codes go to :attr:`Action.MANUAL_TRIAGE`.
- :func:`action_for` picks one action for a line with several codes: the most cautious one wins (a duplicate
  is never re-issued, an unknown code is looked at by a person before anything is re-sent).
- :func:`status_info` / :func:`status_move` rank group and transaction statuses so a report never moves a payment
  backwards; a contradiction (e.g. ACSC after RJCT) is reported as such, for the hold queue and an alert.

A DU01 that answers a retried hand-over of the very same bytes fails nothing (the bank already has the file);
telling that apart needs the stored file hash, so it is the ingest's decision, not this table's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mianshen.core.errors import CHINESE, ENGLISH, Message, render

StrOrPromise = str | Promise


def _in(language: str, message: StrOrPromise, params: tuple[tuple[str, Any], ...] = ()) -> str:
    with translation.override(language):
        return render(message, dict(params))


class Action(StrEnum):
    NEEDS_CORRECTION = "needs_correction"
    NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT = "needs_correction_no_retry_same_account"
    HELD_FOR_REVIEW = "held_for_review"
    DUPLICATE_ALERT = "duplicate_alert"
    OUR_DEFECT_RESEND = "our_defect_resend"
    TREASURY_INCIDENT = "treasury_incident"
    MANUAL_TRIAGE = "manual_triage"


# most cautious first: action_for() returns the first of these present among a line's codes
ACTION_PRECEDENCE: tuple[Action, ...] = (
    Action.DUPLICATE_ALERT,
    Action.MANUAL_TRIAGE,
    Action.TREASURY_INCIDENT,
    Action.OUR_DEFECT_RESEND,
    Action.HELD_FOR_REVIEW,
    Action.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT,
    Action.NEEDS_CORRECTION,
)

_NEXT_STEP: dict[Action, StrOrPromise] = {
    Action.NEEDS_CORRECTION: _("请核对并更正单位登记的银行账户信息；更正经复核后将重新拨付，无需重新申请。"),
    Action.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT: _(
        "该账户已销户，不能再向其付款：请登记一个新的有效对公账户，经复核后重新拨付。"
    ),
    Action.HELD_FOR_REVIEW: _(
        "该账户被冻结或止付：请联系开户银行解除限制，或登记其他账户；经办人员复核后再处理。"
    ),
    Action.DUPLICATE_ALERT: _(
        "银行认为这是一笔重复付款。系统不会再次拨付，经办人员正在核查首笔是否已到账，无需您操作。"
    ),
    Action.OUR_DEFECT_RESEND: _(
        "这是经办机构付款文件的问题，与您的账户无关；将以新的交易编号重新发送，无需您操作。"
    ),
    Action.TREASURY_INCIDENT: _("基金付款账户暂时无法扣款，由经办机构处理后重新拨付，无需您操作。"),
    Action.MANUAL_TRIAGE: _("银行未说明具体原因，经办人员将人工核查，必要时与您联系。"),
}


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    code: str
    message: StrOrPromise  # what the code means (a gettext message)
    action: Action
    known: bool = True
    params: tuple[tuple[str, Any], ...] = ()  # the message's parameters

    @property
    def meaning(self) -> str:
        """What the code means, in the active language."""
        return render(self.message, dict(self.params))

    @property
    def meaning_zh(self) -> str:
        return _in(CHINESE, self.message, self.params)

    @property
    def meaning_en(self) -> str:
        return _in(ENGLISH, self.message, self.params)

    @property
    def next_step(self) -> str:
        """What the unit is told to do, in the active language."""
        return str(_NEXT_STEP[self.action])

    @property
    def meaning_message(self) -> Message:
        """What the code means, rendered when shown (a parameter of another message)."""
        return Message(self.message, **dict(self.params))

    @property
    def next_step_message(self) -> StrOrPromise:
        return _NEXT_STEP[self.action]

    @property
    def next_step_zh(self) -> str:
        return _in(CHINESE, _NEXT_STEP[self.action])

    @property
    def next_step_en(self) -> str:
        return _in(ENGLISH, _NEXT_STEP[self.action])


def _r(code: str, meaning: StrOrPromise, action: Action) -> tuple[str, ReasonInfo]:
    return code, ReasonInfo(code, meaning, action)


_A = Action
REASONS: dict[str, ReasonInfo] = dict(
    [
        _r("AC01", _("账号错误"), _A.NEEDS_CORRECTION),
        _r("AC03", _("收款账号无效或缺失"), _A.NEEDS_CORRECTION),
        _r("AC04", _("账户已销户"), _A.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT),
        _r("AC07", _("收款账户已销户"), _A.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT),
        _r("AC06", _("账户被冻结或止付"), _A.HELD_FOR_REVIEW),
        _r("BE01", _("户名与账号不符"), _A.NEEDS_CORRECTION),
        _r("BE06", _("银行无此客户"), _A.NEEDS_CORRECTION),
        _r("AM05", _("重复付款"), _A.DUPLICATE_ALERT),
        _r("DU01", _("报文标识重复"), _A.DUPLICATE_ALERT),
        _r("DU02", _("批次标识重复"), _A.DUPLICATE_ALERT),
        _r("DU03", _("交易重复"), _A.DUPLICATE_ALERT),
        _r("DU04", _("端到端标识重复"), _A.DUPLICATE_ALERT),
        _r("DU05", _("指令标识重复"), _A.DUPLICATE_ALERT),
        _r("DUPL", _("重复付款"), _A.DUPLICATE_ALERT),
        _r("AM10", _("控制总额错误"), _A.OUR_DEFECT_RESEND),
        _r("AM16", _("报文控制总额错误"), _A.OUR_DEFECT_RESEND),
        _r("AM17", _("批次控制总额错误"), _A.OUR_DEFECT_RESEND),
        _r("AM18", _("笔数错误"), _A.OUR_DEFECT_RESEND),
        _r("AM19", _("报文笔数错误"), _A.OUR_DEFECT_RESEND),
        _r(
            "AM20",
            _("批次笔数错误"),
            _A.OUR_DEFECT_RESEND,
        ),
        _r("FF01", _("文件格式错误"), _A.OUR_DEFECT_RESEND),
        _r("FF08", _("端到端标识无效"), _A.OUR_DEFECT_RESEND),
        _r("AM04", _("付款账户余额不足"), _A.TREASURY_INCIDENT),
        _r("AG07", _("付款账户无法扣款"), _A.TREASURY_INCIDENT),
        _r("MS03", _("未说明原因"), _A.MANUAL_TRIAGE),
        _r("NARR", _("原因见附言"), _A.MANUAL_TRIAGE),
    ]
)


def reason_info(code: str | None) -> ReasonInfo:
    """What ``code`` means and what to do; anything not in the table is manual triage (``known=False``)."""
    info = REASONS.get(code or "")
    if info is not None:
        return info
    shown = code or "(none)"
    return ReasonInfo(shown, _("未知原因代码 %(code)s"), Action.MANUAL_TRIAGE, False, (("code", shown),))


def action_for(codes: Iterable[str | None]) -> Action:
    """One action for a rejected line: the most cautious among its codes; no code at all -> manual triage."""
    actions = {reason_info(c).action for c in codes}
    if not actions:
        return Action.MANUAL_TRIAGE
    return next(a for a in ACTION_PRECEDENCE if a in actions)


# ------------------------------------------------------------------------------------------------ statuses


@dataclass(frozen=True, slots=True)
class StatusInfo:
    code: str
    message: StrOrPromise  # what the status means (a gettext message)
    rank: int  # forward-only order; -1 for unknown codes
    final: bool = False
    group_only: bool = False
    known: bool = True
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def meaning(self) -> str:
        return render(self.message, dict(self.params))

    @property
    def meaning_zh(self) -> str:
        return _in(CHINESE, self.message, self.params)

    @property
    def meaning_en(self) -> str:
        return _in(ENGLISH, self.message, self.params)

    @property
    def is_reject(self) -> bool:
        return self.code == "RJCT"


def _s(code: str, meaning: StrOrPromise, rank: int, **kw: Any) -> tuple[str, StatusInfo]:
    return code, StatusInfo(code, meaning, rank, **kw)


STATUSES: dict[str, StatusInfo] = dict(
    [
        _s("RCVD", _("银行已接收"), 10),
        _s("PDNG", pgettext_lazy("bank status", "待处理"), 15),
        _s("ACTC", _("格式校验通过"), 20),
        _s("ACCP", _("客户信息校验通过"), 30),
        _s("ACWC", _("修改后接受"), 30),
        _s("ACWP", _("接受但未入账"), 30),
        _s("PART", _("部分接受"), 30, group_only=True),
        _s("ACSP", _("已接受，清算中"), 40),
        _s("ACSC", _("清算完成（付款方）"), 50, final=True),
        _s("ACCC", _("清算完成（收款方）"), 60, final=True),
        _s("RJCT", _("已拒绝"), 100, final=True),
    ]
)


def status_info(code: str | None) -> StatusInfo:
    info = STATUSES.get(code or "")
    if info is not None:
        return info
    shown = code or "(none)"
    return StatusInfo(shown, _("未知状态 %(code)s"), -1, known=False, params=(("code", shown),))


class StatusMove(StrEnum):
    ADVANCE = "advance"  # apply it
    SAME = "same"  # repeated report: nothing to do
    STALE = "stale"  # older than what we know: never move backwards, keep the line as stale
    CONTRADICTION = "contradiction"  # e.g. ACSC after RJCT, RJCT after ACSC: hold queue + alert
    UNKNOWN = "unknown"  # status code not known: manual triage


def status_move(current: str | None, reported: str | None) -> StatusMove:
    """How a reported transaction status relates to the one we hold (``None``: nothing reported yet)."""
    new = status_info(reported)
    if not new.known:
        return StatusMove.UNKNOWN
    if current is None:
        return StatusMove.ADVANCE
    old = status_info(current)
    if not old.known:  # we never store an unknown status; if one is there, any known one replaces it
        return StatusMove.ADVANCE
    if old.code == new.code:
        return StatusMove.SAME
    if old.is_reject or (new.is_reject and old.final):
        return StatusMove.CONTRADICTION
    if new.rank > old.rank:
        return StatusMove.ADVANCE
    return StatusMove.STALE
