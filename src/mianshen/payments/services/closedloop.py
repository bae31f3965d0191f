"""Closed-loop corrections (资金闭环): the money goes only to the unit's social-insurance account in use.

A corrected account is never taken on a staff member's word. The unit fixes its account at the social-insurance
office; the next data drop carries it; only then may a correction name it. So a correction must be the unit's
account on file (``registry.selectors.unit_account_on_file``: the newest snapshot that lists the unit) in a
snapshot imported after the payment failed, and the payment is re-issued to the account exactly as on file.

- **failed when**: the time our system received the bank's report that first rejected or returned the failed
  instruction (the inbound file of its first applied ``RJCT`` or return line); for a payment that never had a
  usable account, its hand-over. The snapshot must have been imported (``Snapshot.imported_at``) strictly later.
- **match**: bank code and 12-digit branch code equal; account number equal once Unicode NFKC, white space and
  hyphens are removed and letters upper-cased (``6222 0200-0001`` = ``622202000001``); account name equal after
  NFKC with white space trimmed and runs of it made one space (``（`` = ``(``). The refusal names the fields that
  differ, never the account on file (reading it is a separate, audited view).
- A re-send to the failed account is allowed only while that account is still the one on file.

Refusals are :class:`AccountNotOnFile` (bilingual, with what to do); the caller records them in the audit trail.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db.models import Min, Q
from django.utils import timezone

from mianshen.registry.models import BankAccount, Snapshot
from mianshen.registry.selectors import unit_account_on_file

from ..models import Instruction, LineOutcome, Payment, StatusLine
from ..reasons import Action as Do
from .common import PaymentError

FIELDS = ("bank_code", "branch_code", "account_no", "account_name")
FIELD_NAMES = {
    "bank_code": ("bank code", "开户银行"),
    "branch_code": ("branch code", "开户行行号"),
    "account_no": ("account number", "账号"),
    "account_name": ("account name", "户名"),
}
ASK_UNIT_EN = (
    "ask the unit to update its account at the social-insurance office, and correct the payment once the next "
    "data drop carrying it is imported"
)
ASK_UNIT_ZH = "请告知单位到社保经办机构更新在用账户，待载有新账户的下一批数据导入后再更正"


class AccountLike(Protocol):
    @property
    def bank_code(self) -> str: ...
    @property
    def branch_code(self) -> str: ...
    @property
    def account_no(self) -> str: ...
    @property
    def account_name(self) -> str: ...


class AccountNotOnFile(PaymentError):
    """A correction or re-send refused: the account is not the unit's account in use (see the module text)."""


@dataclass(frozen=True)
class OnFile:
    """The unit's account as on file in ``snapshot_id``: what a re-issue pays to."""

    snapshot_id: int
    bank_code: str
    branch_code: str
    account_no: str
    account_name: str


def account_key(account: AccountLike) -> tuple[str, str, str, str]:
    """The account normalised for comparison (module text: "match")."""

    def nfkc(value: str) -> str:
        return unicodedata.normalize("NFKC", value or "")

    return (
        nfkc(account.bank_code).strip(),
        nfkc(account.branch_code).strip(),
        re.sub(r"[\s\-]+", "", nfkc(account.account_no)).upper(),
        " ".join(nfkc(account.account_name).split()),
    )


def differing_fields(entered: AccountLike, on_file: AccountLike) -> list[str]:
    pairs = zip(FIELDS, account_key(entered), account_key(on_file), strict=True)
    return [name for name, a, b in pairs if a != b]


def failure_recorded_at(payment: Payment, failed: Instruction | None) -> datetime:
    """When the failure reached us (module text: "failed when")."""
    if failed is None:
        return payment.released_at
    first: datetime | None = (
        StatusLine.objects.filter(instruction=failed, outcome=LineOutcome.APPLIED)
        .filter(Q(status="RJCT") | Q(kind="return"))
        .aggregate(at=Min("inbound__received_at"))["at"]
    )
    return first or failed.created_at  # no report kept (never expected): the attempt itself


def correction_account_on_file(
    *, payment: Payment, failed: Instruction | None, entered: AccountLike
) -> OnFile:
    """The unit's account on file that ``entered`` matches, in a snapshot imported after the failure; else
    :class:`AccountNotOnFile` saying why and what to do."""
    case_id, unit = payment.case_id, payment.case.unit_id
    since = failure_recorded_at(payment, failed)
    found = unit_account_on_file(unit_id=unit)
    when = timezone.localtime(since).strftime("%Y-%m-%d %H:%M")
    if found is None or found[0].imported_at <= since:
        raise AccountNotOnFile(
            f"case {case_id}: no data drop imported since the payment failed ({when}) carries an account for "
            f"unit {unit}; a corrected account must be the unit's social-insurance account on file: {ASK_UNIT_EN}",
            f"案件 {case_id}：拨付失败（{when}）后尚未导入载有单位 {unit} 账户的数据；更正账户须为单位的社保在用账户：{ASK_UNIT_ZH}",
        )
    snapshot, row = found
    if row is None:
        raise _no_account(case_id, unit, snapshot)
    differs = differing_fields(entered, row)
    if differs:
        en = ", ".join(FIELD_NAMES[f][0] for f in differs)
        zh = "、".join(FIELD_NAMES[f][1] for f in differs)
        raise AccountNotOnFile(
            f"case {case_id}: the account entered is not unit {unit}'s account on file in snapshot {snapshot.pk} "
            f"(imported {_imported(snapshot)}): the {en} {'differs' if len(differs) == 1 else 'differ'}; enter the "
            f"account as on file, or {ASK_UNIT_EN}",
            f"案件 {case_id}：所录账户与单位 {unit} 在数据快照 {snapshot.pk}（{_imported(snapshot)} 导入）中的社保在用账户"
            f"不一致（{zh}不同）：请按在用账户录入，或{ASK_UNIT_ZH}",
        )
    if (
        failed is not None
        and failed.action in _ON_THE_ACCOUNT
        and not differing_fields(_account_of(failed), row)
    ):
        raise AccountNotOnFile(
            f"case {case_id}: unit {unit}'s account on file in snapshot {snapshot.pk} is still the account that "
            f"failed ({failed.reject_codes or failed.return_reason}): {ASK_UNIT_EN}",
            f"案件 {case_id}：单位 {unit} 在数据快照 {snapshot.pk} 中的在用账户仍是拨付失败的账户"
            f"（{failed.reject_codes or failed.return_reason}）：{ASK_UNIT_ZH}",
        )
    return _on_file(snapshot, row)


def resend_account_on_file(*, payment: Payment, failed: Instruction) -> OnFile:
    """A re-send pays the failed account again: only while it is still the unit's account on file."""
    case_id, unit = payment.case_id, payment.case.unit_id
    found = unit_account_on_file(unit_id=unit)
    if found is None:
        raise AccountNotOnFile(
            f"case {case_id}: no data drop lists unit {unit}, so its account in use is unknown: {ASK_UNIT_EN}",
            f"案件 {case_id}：没有任何数据载有单位 {unit}，无法确认其社保在用账户：{ASK_UNIT_ZH}",
        )
    snapshot, row = found
    if row is None:
        raise _no_account(case_id, unit, snapshot)
    if differing_fields(_account_of(failed), row):
        raise AccountNotOnFile(
            f"case {case_id}: unit {unit}'s account on file changed in snapshot {snapshot.pk} (imported "
            f"{_imported(snapshot)}); a re-send would pay an account no longer in use: enter a correction with "
            "the account on file",
            f"案件 {case_id}：单位 {unit} 的社保在用账户已在数据快照 {snapshot.pk}（{_imported(snapshot)} 导入）中变更，"
            "原账户重发将拨付至非在用账户：请按在用账户登记更正",
        )
    return _on_file(snapshot, row)


# failures on the account itself: the unit must change it (a closed one is also refused earlier, by number)
_ON_THE_ACCOUNT = frozenset({Do.NEEDS_CORRECTION.value, Do.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT.value})


@dataclass(frozen=True)
class _Account:
    bank_code: str
    branch_code: str
    account_no: str
    account_name: str


def _account_of(inst: Instruction) -> _Account:
    return _Account(inst.bank_id, inst.creditor_branch_code, inst.creditor_account, inst.creditor_name)


def _on_file(snapshot: Snapshot, row: BankAccount) -> OnFile:
    return OnFile(snapshot.pk, row.bank_code, row.branch_code, row.account_no, row.account_name)


def _imported(snapshot: Snapshot) -> str:
    return timezone.localtime(snapshot.imported_at).strftime("%Y-%m-%d %H:%M")


def _no_account(case_id: int, unit: str, snapshot: Snapshot) -> AccountNotOnFile:
    return AccountNotOnFile(
        f"case {case_id}: the newest data drop (snapshot {snapshot.pk}, imported {_imported(snapshot)}) lists unit "
        f"{unit} without an account: {ASK_UNIT_EN}",
        f"案件 {case_id}：最新数据（快照 {snapshot.pk}，{_imported(snapshot)} 导入）中单位 {unit} 没有在用账户：{ASK_UNIT_ZH}",
    )
