"""What the simulated bank sends back, as pure builders of :class:`StatusReport` (pain.002.001.12) and
:class:`Notification` (camt.054.001.08) values. The simulator renders them; no I/O here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from itertools import groupby

from mianshen.payments.formats.camt054 import (
    CREDIT,
    DEBIT,
    AccountNotification,
    Entry,
    EntryTransaction,
    Notification,
)
from mianshen.payments.formats.pain002 import (
    PaymentBlockStatus,
    StatusReason,
    StatusReport,
    TransactionStatus,
)
from mianshen.payments.formats.types import BankFile

from .state import Payment

CST = timezone(timedelta(hours=8), "CST")
NOT_PROVIDED = "NOTPROVIDED"  # OrgnlMsgId when a file is too broken to read its MsgId
BOOKING_CODE = ("PMNT", "ICDT", "DMCT")  # issued domestic credit transfer
RETURN_CODE = ("PMNT", "ICDT", "RRTN")  # returned credit transfer


def stamp(day: date) -> datetime:
    """The simulator's only notion of time: 17:00 China time on its business date."""
    return datetime.combine(day, time(17, 0), CST)


def _reason(code: str, info: str | None = None) -> StatusReason:
    return StatusReason(code=code, additional_info=(info[:105],) if info else ())


def file_reject(original_msg_id: str | None, code: str, info: str, *, msg_id: str, day: date) -> StatusReport:
    """Whole file rejected (FF01 schema, AM10/AM18 totals, DU01 duplicate MsgId): group RJCT, no lines."""
    return StatusReport(
        msg_id=msg_id,
        created_at=stamp(day),
        original_msg_id=original_msg_id or NOT_PROVIDED,
        group_status="RJCT",
        group_reasons=(_reason(code, info),),
    )


def technical_ack(bank_file: BankFile, *, msg_id: str, day: date) -> StatusReport:
    return StatusReport(
        msg_id=msg_id,
        created_at=stamp(day),
        original_msg_id=bank_file.msg_id,
        group_status="ACTC",
        original_nb_of_txs=bank_file.nb_of_txs,
        original_ctrl_sum_fen=bank_file.ctrl_sum_fen,
    )


def _summary(n_rejected: int, n_total: int, ok: str) -> str:
    if n_rejected == 0:
        return ok
    return "RJCT" if n_rejected == n_total else "PART"


def receipt(
    bank_file: BankFile,
    rejects: Mapping[str, str],
    *,
    executing: bool,
    only_rejects: bool,
    msg_id: str,
    day: date,
) -> StatusReport:
    """The business answer to an accepted file: RJCT lines with their codes; the others ACSP (booked today)
    or ACCP (execution date still ahead). A reject-only bank lists just the RJCT lines (group ACCP/PART)."""
    ok = "ACCP" if only_rejects or not executing else "ACSP"
    blocks = []
    for block in bank_file.blocks:
        lines = []
        for tx in block.transfers:
            code = rejects.get(tx.end_to_end_id)
            if code is not None:
                lines.append(TransactionStatus(tx.end_to_end_id, "RJCT", (_reason(code),)))
            elif not only_rejects:
                lines.append(TransactionStatus(tx.end_to_end_id, ok))
        n_rej = sum(1 for t in block.transfers if t.end_to_end_id in rejects)
        if lines or not only_rejects:
            status = _summary(n_rej, block.nb_of_txs, ok)
            blocks.append(PaymentBlockStatus(block.pmt_inf_id, status, (), tuple(lines)))
    return StatusReport(
        msg_id=msg_id,
        created_at=stamp(day),
        original_msg_id=bank_file.msg_id,
        group_status=_summary(len(rejects), bank_file.nb_of_txs, ok),
        blocks=tuple(blocks),
        original_nb_of_txs=bank_file.nb_of_txs,
        original_ctrl_sum_fen=bank_file.ctrl_sum_fen,
    )


def settlement(original_msg_id: str, payments: Sequence[Payment], *, msg_id: str, day: date) -> StatusReport:
    """ACSC for the payments of one original file booked today (full-report banks only)."""
    blocks = tuple(
        PaymentBlockStatus(
            pmt_inf_id, "ACSC", (), tuple(TransactionStatus(p.end_to_end_id, "ACSC") for p in group)
        )
        for pmt_inf_id, group in groupby(payments, key=lambda p: p.pmt_inf_id)
    )
    return StatusReport(msg_id=msg_id, created_at=stamp(day), original_msg_id=original_msg_id, blocks=blocks)


def _notification(payments: Sequence[Payment], *, msg_id: str, day: date, returned: bool) -> Notification:
    notifications = []
    for n, (account, group) in enumerate(groupby(payments, key=lambda p: p.debtor_account), start=1):
        entries = tuple(
            Entry(
                amount_fen=p.amount_fen,
                credit_debit=CREDIT if returned else DEBIT,
                status="BOOK",
                booking_date=day,
                entry_ref=str(i),
                bank_tx_code=RETURN_CODE if returned else BOOKING_CODE,
                transactions=(
                    EntryTransaction(
                        end_to_end_id=p.end_to_end_id,
                        amount_fen=p.amount_fen,
                        credit_debit=CREDIT if returned else DEBIT,
                        msg_id=p.msg_id,
                        pmt_inf_id=p.pmt_inf_id,
                        creditor_name=p.creditor_name,
                        creditor_account=p.creditor_account,
                        is_return=returned,
                        return_reason=p.return_reason if returned else None,
                    ),
                ),
            )
            for i, p in enumerate(group, start=1)
        )
        notifications.append(AccountNotification(f"{msg_id}-{n}", account, entries, stamp(day)))
    return Notification(msg_id=msg_id, created_at=stamp(day), notifications=tuple(notifications))


def bookings(payments: Sequence[Payment], *, msg_id: str, day: date) -> Notification:
    """camt.054 debit bookings (one entry per payment: the files ask for ``BtchBookg=false``)."""
    return _notification(
        sorted(payments, key=lambda p: p.debtor_account), msg_id=msg_id, day=day, returned=False
    )


def returns(payments: Sequence[Payment], *, msg_id: str, day: date) -> Notification:
    """camt.054 credit entries bringing settled payments back, each with ``RtrInf/Rsn/Cd``."""
    return _notification(
        sorted(payments, key=lambda p: p.debtor_account), msg_id=msg_id, day=day, returned=True
    )
