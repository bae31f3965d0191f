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
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mianshen.core.bulkdb import one_parameter
from mianshen.core.errors import Listing
from mianshen.registry.models import BankAccount, Snapshot
from mianshen.registry.selectors import unit_account_on_file, units_accounts_on_file

from ..models import Instruction, LineOutcome, Payment, StatusLine
from ..reasons import Action as Do
from .common import PaymentError

FIELDS = ("bank_code", "branch_code", "account_no", "account_name")
FIELD_NAMES = {
    "bank_code": pgettext_lazy("account field", "开户银行"),
    "branch_code": pgettext_lazy("account field", "开户行行号"),
    "account_no": pgettext_lazy("account field", "账号"),
    "account_name": pgettext_lazy("account field", "户名"),
}
ASK_UNIT = _("请告知单位到社保经办机构更新在用账户，待载有新账户的下一批数据导入后再更正")


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


@dataclass(frozen=True)
class OnFileBatch:
    """What a batch of corrections looks up together at its start instead of once per correction: its units'
    accounts on file (``None``: no snapshot lists the unit) and when each failed instruction's failure first
    reached us (``None``: no report of it kept)."""

    accounts: Mapping[str, tuple[Snapshot, BankAccount | None] | None]
    failed_at: Mapping[int, datetime | None]

    @classmethod
    def load(cls, *, unit_ids: Collection[str], failed_ids: Collection[int]) -> OnFileBatch:
        found = units_accounts_on_file(unit_ids=unit_ids)
        first = dict(
            StatusLine.objects.filter(instruction_id__in=one_parameter(sorted(set(failed_ids))))
            .filter(_FAILURE_REPORTED)
            .values("instruction_id")
            .annotate(at=Min("inbound__received_at"))
            .values_list("instruction_id", "at")
        )
        return cls({u: found.get(u) for u in unit_ids}, {i: first.get(i) for i in failed_ids})


def _lookup(unit: str, batch: OnFileBatch | None) -> tuple[Snapshot, BankAccount | None] | None:
    if batch is not None and unit in batch.accounts:
        return batch.accounts[unit]
    return unit_account_on_file(unit_id=unit)


# the lines that reported a failure (the first one's arrival is when the failure reached us)
_FAILURE_REPORTED = Q(outcome=LineOutcome.APPLIED) & (Q(status="RJCT") | Q(kind="return"))


def failure_recorded_at(
    payment: Payment, failed: Instruction | None, batch: OnFileBatch | None = None
) -> datetime:
    """When the failure reached us (module text: "failed when")."""
    if failed is None:
        return payment.released_at
    if batch is not None and failed.pk in batch.failed_at:
        first = batch.failed_at[failed.pk]
    else:
        first = (
            StatusLine.objects.filter(instruction=failed)
            .filter(_FAILURE_REPORTED)
            .aggregate(at=Min("inbound__received_at"))["at"]
        )
    return first or failed.created_at  # no report kept (never expected): the attempt itself


def correction_account_on_file(
    *,
    payment: Payment,
    failed: Instruction | None,
    entered: AccountLike,
    batch: OnFileBatch | None = None,
) -> OnFile:
    """The unit's account on file that ``entered`` matches, in a snapshot imported after the failure; else
    :class:`AccountNotOnFile` saying why and what to do. ``batch``: what a batch of corrections looked up
    together (:class:`OnFileBatch`)."""
    case_id, unit = payment.case_id, payment.case.unit_id
    since = failure_recorded_at(payment, failed, batch)
    found = _lookup(unit, batch)
    when = timezone.localtime(since).strftime("%Y-%m-%d %H:%M")
    if found is None or found[0].imported_at <= since:
        raise AccountNotOnFile(
            _(
                "案件 %(case_id)s：拨付失败（%(when)s）后尚未导入载有单位 %(unit)s 账户的数据；更正账户须为单位的社保在用账户：%(ask)s"
            ),
            case_id=case_id,
            when=when,
            unit=unit,
            ask=ASK_UNIT,
        )
    snapshot, row = found
    if row is None:
        raise _no_account(case_id, unit, snapshot)
    differs = differing_fields(entered, row)
    if differs:
        raise AccountNotOnFile(
            _(
                "案件 %(case_id)s：所录账户与单位 %(unit)s 在数据快照 %(snapshot)s（%(imported)s 导入）中的社保在用账户不一致（%(fields)s不同）：请按在用账户录入，或%(ask)s"
            ),
            case_id=case_id,
            unit=unit,
            snapshot=snapshot.pk,
            imported=_imported(snapshot),
            fields=Listing(FIELD_NAMES[f] for f in differs),
            ask=ASK_UNIT,
        )
    if (
        failed is not None
        and failed.action in _ON_THE_ACCOUNT
        and not differing_fields(_account_of(failed), row)
    ):
        raise AccountNotOnFile(
            _(
                "案件 %(case_id)s：单位 %(unit)s 在数据快照 %(snapshot)s 中的在用账户仍是拨付失败的账户（%(codes)s）：%(ask)s"
            ),
            case_id=case_id,
            unit=unit,
            snapshot=snapshot.pk,
            codes=failed.reject_codes or failed.return_reason,
            ask=ASK_UNIT,
        )
    return _on_file(snapshot, row)


def resend_account_on_file(
    *, payment: Payment, failed: Instruction, batch: OnFileBatch | None = None
) -> OnFile:
    """A re-send pays the failed account again: only while it is still the unit's account on file."""
    case_id, unit = payment.case_id, payment.case.unit_id
    found = _lookup(unit, batch)
    if found is None:
        raise AccountNotOnFile(
            _("案件 %(case_id)s：没有任何数据载有单位 %(unit)s，无法确认其社保在用账户：%(ask)s"),
            case_id=case_id,
            unit=unit,
            ask=ASK_UNIT,
        )
    snapshot, row = found
    if row is None:
        raise _no_account(case_id, unit, snapshot)
    if differing_fields(_account_of(failed), row):
        raise AccountNotOnFile(
            _(
                "案件 %(case_id)s：单位 %(unit)s 的社保在用账户已在数据快照 %(snapshot)s（%(imported)s 导入）中变更，原账户重发将拨付至非在用账户：请按在用账户登记更正"
            ),
            case_id=case_id,
            unit=unit,
            snapshot=snapshot.pk,
            imported=_imported(snapshot),
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
        _(
            "案件 %(case_id)s：最新数据（快照 %(snapshot)s，%(imported)s 导入）中单位 %(unit)s 没有在用账户：%(ask)s"
        ),
        case_id=case_id,
        snapshot=snapshot.pk,
        imported=_imported(snapshot),
        unit=unit,
        ask=ASK_UNIT,
    )
