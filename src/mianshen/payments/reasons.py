"""ISO 20022 status and reason codes, and what each one makes the system do (payments.md, "Reason codes").

- :func:`reason_info` maps a reason code (``StsRsnInf/Rsn/Cd`` in pain.002, ``RtrInf/Rsn/Cd`` in camt.054) to an
  :class:`Action` and a "what to do next" text for the unit, in Chinese and English. Unknown, proprietary
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

_NEXT_STEP: dict[Action, tuple[str, str]] = {
    Action.NEEDS_CORRECTION: (
        "请核对并更正单位登记的银行账户信息；更正经复核后将重新拨付，无需重新申请。",
        "Check and correct the bank account registered for your unit; once the correction is approved the "
        "refund is paid again. No application is needed.",
    ),
    Action.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT: (
        "该账户已销户，不能再向其付款：请登记一个新的有效对公账户，经复核后重新拨付。",
        "This account is closed and will not be paid again: register a new, valid account for your unit; "
        "after review the refund is paid to it.",
    ),
    Action.HELD_FOR_REVIEW: (
        "该账户被冻结或止付：请联系开户银行解除限制，或登记其他账户；经办人员复核后再处理。",
        "This account is blocked: ask your bank to lift the block or register another account; staff will "
        "review the payment before it is sent again.",
    ),
    Action.DUPLICATE_ALERT: (
        "银行认为这是一笔重复付款。系统不会再次拨付，经办人员正在核查首笔是否已到账，无需您操作。",
        "The bank treated this as a duplicate payment. It will not be paid twice; staff are checking whether "
        "the first payment arrived. Nothing for you to do.",
    ),
    Action.OUR_DEFECT_RESEND: (
        "这是经办机构付款文件的问题，与您的账户无关；将以新的交易编号重新发送，无需您操作。",
        "This was a problem in the agency's payment file, not with your account; it is sent again with new "
        "references. Nothing for you to do.",
    ),
    Action.TREASURY_INCIDENT: (
        "基金付款账户暂时无法扣款，由经办机构处理后重新拨付，无需您操作。",
        "The fund's account could not be debited; the agency resolves this and pays again. Nothing for you "
        "to do.",
    ),
    Action.MANUAL_TRIAGE: (
        "银行未说明具体原因，经办人员将人工核查，必要时与您联系。",
        "The bank gave no specific reason; staff will look into it and contact you if needed.",
    ),
}


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    code: str
    meaning_zh: str
    meaning_en: str
    action: Action
    known: bool = True

    @property
    def next_step_zh(self) -> str:
        return _NEXT_STEP[self.action][0]

    @property
    def next_step_en(self) -> str:
        return _NEXT_STEP[self.action][1]


def _r(code: str, zh: str, en: str, action: Action) -> tuple[str, ReasonInfo]:
    return code, ReasonInfo(code, zh, en, action)


_A = Action
REASONS: dict[str, ReasonInfo] = dict(
    [
        _r("AC01", "账号错误", "Account number is incorrect", _A.NEEDS_CORRECTION),
        _r("AC03", "收款账号无效或缺失", "Creditor account number invalid or missing", _A.NEEDS_CORRECTION),
        _r("AC04", "账户已销户", "Account closed", _A.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT),
        _r("AC07", "收款账户已销户", "Creditor account closed", _A.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT),
        _r("AC06", "账户被冻结或止付", "Account blocked", _A.HELD_FOR_REVIEW),
        _r("BE01", "户名与账号不符", "Name and account do not match", _A.NEEDS_CORRECTION),
        _r("BE06", "银行无此客户", "Customer unknown to the bank", _A.NEEDS_CORRECTION),
        _r("AM05", "重复付款", "Duplicate payment", _A.DUPLICATE_ALERT),
        _r("DU01", "报文标识重复", "Duplicate message id (MsgId)", _A.DUPLICATE_ALERT),
        _r("DU02", "批次标识重复", "Duplicate payment information id (PmtInfId)", _A.DUPLICATE_ALERT),
        _r("DU03", "交易重复", "Duplicate transaction", _A.DUPLICATE_ALERT),
        _r("DU04", "端到端标识重复", "Duplicate EndToEndId", _A.DUPLICATE_ALERT),
        _r("DU05", "指令标识重复", "Duplicate instruction id", _A.DUPLICATE_ALERT),
        _r("DUPL", "重复付款", "Duplicate payment", _A.DUPLICATE_ALERT),
        _r("AM10", "控制总额错误", "Control sum is wrong", _A.OUR_DEFECT_RESEND),
        _r("AM16", "报文控制总额错误", "Group control sum is wrong", _A.OUR_DEFECT_RESEND),
        _r("AM17", "批次控制总额错误", "Payment-information control sum is wrong", _A.OUR_DEFECT_RESEND),
        _r("AM18", "笔数错误", "Number of transactions is wrong", _A.OUR_DEFECT_RESEND),
        _r("AM19", "报文笔数错误", "Group number of transactions is wrong", _A.OUR_DEFECT_RESEND),
        _r(
            "AM20",
            "批次笔数错误",
            "Payment-information number of transactions is wrong",
            _A.OUR_DEFECT_RESEND,
        ),
        _r("FF01", "文件格式错误", "File format is invalid", _A.OUR_DEFECT_RESEND),
        _r("FF08", "端到端标识无效", "EndToEndId is invalid", _A.OUR_DEFECT_RESEND),
        _r("AM04", "付款账户余额不足", "Insufficient funds on the fund's account", _A.TREASURY_INCIDENT),
        _r("AG07", "付款账户无法扣款", "The fund's account cannot be debited", _A.TREASURY_INCIDENT),
        _r("MS03", "未说明原因", "Reason not specified", _A.MANUAL_TRIAGE),
        _r("NARR", "原因见附言", "Reason given as narrative text", _A.MANUAL_TRIAGE),
    ]
)


def reason_info(code: str | None) -> ReasonInfo:
    """What ``code`` means and what to do; anything not in the table is manual triage (``known=False``)."""
    info = REASONS.get(code or "")
    if info is not None:
        return info
    shown = code or "(none)"
    return ReasonInfo(
        shown, f"未知原因代码 {shown}", f"Unknown reason code {shown}", Action.MANUAL_TRIAGE, False
    )


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
    meaning_zh: str
    meaning_en: str
    rank: int  # forward-only order; -1 for unknown codes
    final: bool = False
    group_only: bool = False
    known: bool = True

    @property
    def is_reject(self) -> bool:
        return self.code == "RJCT"


def _s(code: str, zh: str, en: str, rank: int, **kw: bool) -> tuple[str, StatusInfo]:
    return code, StatusInfo(code, zh, en, rank, **kw)


STATUSES: dict[str, StatusInfo] = dict(
    [
        _s("RCVD", "银行已接收", "Received by the bank", 10),
        _s("PDNG", "待处理", "Pending", 15),
        _s("ACTC", "格式校验通过", "Accepted: technical validation (syntax) passed", 20),
        _s("ACCP", "客户信息校验通过", "Accepted: customer profile checked", 30),
        _s("ACWC", "修改后接受", "Accepted with change", 30),
        _s("ACWP", "接受但未入账", "Accepted without posting", 30),
        _s("PART", "部分接受", "Partly accepted (some transactions rejected)", 30, group_only=True),
        _s("ACSP", "已接受，清算中", "Accepted, settlement in progress", 40),
        _s("ACSC", "清算完成（付款方）", "Settlement completed on the debtor's account", 50, final=True),
        _s("ACCC", "清算完成（收款方）", "Settlement completed on the creditor's account", 60, final=True),
        _s("RJCT", "已拒绝", "Rejected", 100, final=True),
    ]
)


def status_info(code: str | None) -> StatusInfo:
    info = STATUSES.get(code or "")
    if info is not None:
        return info
    shown = code or "(none)"
    return StatusInfo(shown, f"未知状态 {shown}", f"Unknown status {shown}", -1, known=False)


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
