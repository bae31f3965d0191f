"""Bank answers written by hand for the tests (pain.002 .12/.03, camt.054 .08/.02), about our stored files."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone

from mianshen.payments.banks import fund_account
from mianshen.payments.formats import (
    AccountNotification,
    Entry,
    EntryTransaction,
    Notification,
    PaymentBlockStatus,
    StatusReason,
    StatusReport,
    TransactionStatus,
    render_camt054,
    render_pain002,
)
from mianshen.payments.models import BankFile, Instruction

CST = timezone(timedelta(hours=8))
_serial = itertools.count(1)


def _mid() -> str:
    return f"T-{next(_serial):08d}"


def _reason(code: str) -> StatusReason:
    if code.startswith("PRTRY:"):
        return StatusReason(proprietary=code.removeprefix("PRTRY:"))
    return StatusReason(code=code)


def status_report(
    bf: BankFile,
    lines: dict[str, tuple[str, tuple[str, ...]]] | None = None,
    *,
    group: str | None = None,
    group_codes: tuple[str, ...] = (),
    version: str = "pain.002.001.12",
    echo: bool = True,
    original_msg_id: str | None = None,
    pmt_inf_id: str | None = None,
) -> bytes:
    """A pain.002 about ``bf``: ``lines`` {EndToEndId: (TxSts, reason codes)}."""
    txs = tuple(
        TransactionStatus(e2e, sts, tuple(_reason(c) for c in codes))
        for e2e, (sts, codes) in (lines or {}).items()
    )
    blocks = (PaymentBlockStatus(pmt_inf_id or bf.pmt_inf_id, None, (), txs),) if txs else ()
    report = StatusReport(
        msg_id=_mid(), created_at=datetime(2026, 12, 1, 17, 0, tzinfo=CST),
        original_msg_id=original_msg_id or bf.msg_id, group_status=group,
        group_reasons=tuple(StatusReason(code=c) for c in group_codes), blocks=blocks,
        original_nb_of_txs=bf.nb_of_txs if echo else None, original_ctrl_sum_fen=bf.ctrl_sum_fen if echo else None,
        version=version,
    )  # fmt: skip
    return render_pain002(report)


def all_lines(
    bf: BankFile, status: str, codes: tuple[str, ...] = ()
) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        e2e: (status, codes) for e2e in bf.instructions.order_by("pk").values_list("end_to_end_id", flat=True)
    }


def bookings(
    instructions: Iterable[Instruction],
    *,
    day: date = date(2026, 12, 1),
    returned: str | None = None,
    amount: int | None = None,
    account: str | None = None,
    version: str = "camt.054.001.08",
) -> bytes:
    """A camt.054: a debit booking per instruction, or (``returned`` = reason code) a return credit."""
    entries = tuple(
        Entry(
            amount_fen=amount if amount is not None else i.amount_fen,
            credit_debit="CRDT" if returned else "DBIT", status="BOOK", booking_date=day, entry_ref=str(n),
            transactions=(
                EntryTransaction(
                    end_to_end_id=i.end_to_end_id, amount_fen=amount if amount is not None else i.amount_fen,
                    credit_debit="CRDT" if returned else "DBIT", creditor_name=i.creditor_name,
                    creditor_account=i.creditor_account, is_return=returned is not None, return_reason=returned,
                ),
            ),
        )
        for n, i in enumerate(instructions, start=1)
    )  # fmt: skip
    return camt054(entries, day=day, account=account, version=version)


def camt054(
    entries: Iterable[Entry],
    *,
    day: date = date(2026, 12, 1),
    account: str | None = None,
    version: str = "camt.054.001.08",
) -> bytes:
    """A camt.054 holding ``entries`` on the fund's account (or ``account``)."""
    mid = _mid()
    notification = Notification(
        msg_id=mid, created_at=datetime.combine(day, time(17), CST),
        notifications=(AccountNotification(f"{mid}-1", account or fund_account().account, tuple(entries)),),
        version=version,
    )  # fmt: skip
    return render_camt054(notification)


def debit_entry(
    *transactions: tuple[Instruction, int],
    amount: int | None = None,
    day: date = date(2026, 12, 1),
    ref: str = "1",
) -> Entry:
    """One booked DBIT ``Ntry`` of ``amount`` (default: the sum) over ``(instruction, amount)`` transactions."""
    return Entry(
        amount_fen=amount if amount is not None else sum(a for _, a in transactions), credit_debit="DBIT",
        status="BOOK", booking_date=day, entry_ref=ref,
        transactions=tuple(
            EntryTransaction(end_to_end_id=i.end_to_end_id, amount_fen=a, credit_debit="DBIT",
                             creditor_name=i.creditor_name, creditor_account=i.creditor_account)
            for i, a in transactions
        ),
    )  # fmt: skip
