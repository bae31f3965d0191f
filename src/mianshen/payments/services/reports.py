"""Turn a parsed pain.002 or camt.054 into keyed lines with the fact each one states, checking it against what
we sent. Anything that does not fit refuses the whole file (:class:`Refused`, then quarantine): an unknown
OrgnlMsgId or EndToEndId, an amount that differs from the instruction, an unknown status code, a booking on
another account. Reads the database (under the caller's locks), writes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Q

from mianshen.core.bulkdb import one_parameter

from ..banks import fund_account
from ..formats.amounts import fen_to_text
from ..formats.camt054 import CREDIT, DEBIT, Entry, EntryTransaction, Notification
from ..formats.pain002 import StatusReport
from ..lifecycle import Summary, fact_booking, fact_return, fact_status
from ..models import BankFile, BookingKind, Instruction, LineOutcome
from ..reasons import status_info

IMPLICIT_FROM = frozenset({"ACCP", "PART", "ACSP", "ACSC", "ACCC"})  # receipts of reject-only banks
DUPLICATE_FILE = frozenset({"DU01"})


class Refused(Exception):
    """The file contradicts what we sent: refused whole, stored in quarantine with this reason."""

    def __init__(self, reason: str, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass
class Inst:
    """An instruction as ingest needs it (loaded under lock)."""

    pk: int
    e2e: str
    status: str
    amount_fen: int
    bank_id: str
    bank_file_id: int | None
    payment_id: int
    case_id: int
    summary: Summary
    superseded: bool = False
    action: str = ""


@dataclass
class Line:
    seq: int
    kind: str  # tx, implicit, group, debit, return, entry
    e2e: str = ""
    status: str = ""
    codes: tuple[str, ...] = ()
    amount_fen: int | None = None
    booking_date: date | None = None
    fact: Summary | None = None
    outcome: str = ""


@dataclass
class Plan:
    """What one inbound file says, ready to apply."""

    kind: str
    msg_id: str
    original_msg_id: str = ""
    bank_file: BankFile | None = None
    lines: list[Line] = field(default_factory=list)
    insts: dict[str, Inst] = field(default_factory=dict)
    file_rejected: bool = False
    du01_alert: bool = False
    answered_files: set[int] = field(default_factory=set)


FIELDS = ("pk", "end_to_end_id", "status", "amount_fen", "bank_id", "bank_file_id", "payment_id", "case_id",
          "bank_status", "rejected", "reject_codes", "booked_on", "returned_on", "return_reason", "action",
          "payment__current_id")  # fmt: skip


def load_instructions(rows: Iterable[tuple[Any, ...]]) -> dict[str, Inst]:
    insts: dict[str, Inst] = {}
    for (
        pk,
        e2e,
        status,
        amount,
        bank,
        bf,
        pay,
        case,
        bs,
        rej,
        codes,
        booked,
        returned,
        rr,
        action,
        cur,
    ) in rows:
        summary = Summary(
            bank_status=str(bs), reject_codes=frozenset(str(codes).split()), rejected=bool(rej),
            booked_on=booked, returned_on=returned, return_reason=str(rr),
        )  # fmt: skip
        insts[str(e2e)] = Inst(
            int(pk), str(e2e), str(status), int(amount), str(bank), bf, int(pay), int(case),
            summary, superseded=cur != pk, action=str(action),
        )  # fmt: skip
    return insts


def _known_status(code: str | None, where: str, *, group: bool = False) -> str:
    info = status_info(code)
    if not code:
        raise Refused(f"{where}: status missing", "FF01")
    if not info.known or (info.group_only and not group):
        raise Refused(f"{where}: unknown status code {code!r}", "FF01")
    return code


def plan_pain002(report: StatusReport, *, bank_code: str) -> Plan:
    bf = (
        BankFile.objects.select_for_update(of=("self",))
        .select_related("bank")
        .filter(msg_id=report.original_msg_id)
        .first()
    )
    where = f"pain.002 {report.msg_id}"
    if bf is None:
        raise Refused(f"{where}: unknown OrgnlMsgId {report.original_msg_id!r} (no file of ours has it)")
    if bank_code and bf.bank_id != bank_code:
        raise Refused(f"{where}: came from bank {bank_code} but {bf.msg_id} was sent to bank {bf.bank_id}")
    if report.original_ctrl_sum_fen is not None and report.original_ctrl_sum_fen != bf.ctrl_sum_fen:
        raise Refused(
            f"{where}: amount mismatch: OrgnlCtrlSum {report.original_ctrl_sum_fen} fen, "
            f"{bf.msg_id} holds {bf.ctrl_sum_fen} fen"
        )
    if report.original_nb_of_txs is not None and report.original_nb_of_txs != bf.nb_of_txs:
        raise Refused(f"{where}: OrgnlNbOfTxs {report.original_nb_of_txs}, {bf.msg_id} holds {bf.nb_of_txs}")
    group = _known_status(report.group_status, f"{where} GrpSts", group=True) if report.group_status else ""
    rows = (
        Instruction.objects.select_for_update(of=("self",))
        .filter(bank_file=bf)
        .order_by("pk")
        .values_list(*FIELDS)
    )
    plan = Plan("pain.002", report.msg_id, bf.msg_id, bf, insts=load_instructions(rows))
    plan.answered_files.add(bf.pk)
    listed: set[str] = set()
    seq = 0
    for block in report.blocks:
        if block.original_pmt_inf_id != bf.pmt_inf_id:
            raise Refused(
                f"{where}: unknown OrgnlPmtInfId {block.original_pmt_inf_id!r} (not in {bf.msg_id})"
            )
        block_status = _known_status(block.status, f"{where} PmtInfSts", group=True) if block.status else ""
        for tx in block.transactions:
            e2e = tx.original_end_to_end_id or ""
            if e2e not in plan.insts:
                raise Refused(f"{where}: unknown EndToEndId {e2e!r} (not in {bf.msg_id})")
            status = _known_status(tx.status, f"{where} TxSts of {e2e}")
            seq += 1
            listed.add(e2e)
            plan.lines.append(
                Line(seq, "tx", e2e, status, tx.reason_codes, fact=fact_status(status, tx.reason_codes))
            )
        if block_status and not block.transactions:
            seq = _all_lines(plan, seq, "group", block_status, block.reason_codes, listed)
    reject_only = bf.bank.reports_only_rejects
    codes = report.group_reason_codes
    if group == "RJCT" and not listed:
        if DUPLICATE_FILE & set(codes):
            plan.du01_alert = bf.upload_attempts <= 1  # a DU01 answering a retried hand-over fails nothing
            plan.lines.append(Line(seq + 1, "group", "", group, codes, outcome=LineOutcome.IGNORED))
        else:
            plan.file_rejected = True
            _all_lines(plan, seq, "group", "RJCT", codes or ("FF01",), listed)
    elif group and reject_only and group in IMPLICIT_FROM:
        _all_lines(plan, seq, "implicit", "ACCP" if group == "PART" else group, (), listed)
    elif group and group != "RJCT" and not listed and not report.blocks:
        _all_lines(plan, seq, "group", group, codes, listed)
    return plan


def _all_lines(plan: Plan, seq: int, kind: str, status: str, codes: tuple[str, ...], listed: set[str]) -> int:
    """The same status for every instruction of the file not listed on a line of its own."""
    for e2e in plan.insts:
        if e2e not in listed:
            seq += 1
            listed.add(e2e)
            plan.lines.append(Line(seq, kind, e2e, status, codes, fact=fact_status(status, codes)))
    return seq


def plan_camt054(notification: Notification, *, bank_code: str) -> Plan:
    """Every booked entry must add up at every level (entry = sum of its transactions, transaction = the
    instructed amount, CNY, a debit for a payment and a credit for a return) and name our own file (``Refs``):
    anything else refuses the whole file."""
    where = f"camt.054 {notification.msg_id}"
    fund = fund_account().account
    for ntf in notification.notifications:
        if ntf.account != fund:
            raise Refused(f"{where}: notification for account {ntf.account!r}, not the fund's account")
    wanted = sorted(
        {tx.end_to_end_id for _, _, tx in notification.lines() if tx is not None and tx.end_to_end_id}
    )
    plan = Plan("camt.054", notification.msg_id)
    rows = (
        Instruction.objects.select_for_update(of=("self",))
        .filter(end_to_end_id__in=one_parameter(wanted))  # one parameter however many lines the file has
        .order_by("pk")
        .values_list(*FIELDS)
    )
    plan.insts.update(load_instructions(rows))
    files = _carrying_files(plan.insts)
    seq = 0
    for ntf in notification.notifications:
        for entry in ntf.entries:
            booked = entry.status == "BOOK"
            if booked:
                _check_booked_entry(entry, where)
            for tx in entry.transactions or (None,):
                seq += 1
                if booked:
                    plan.lines.append(
                        _booking_line(seq, entry, tx, plan, files, where=where, bank_code=bank_code)
                    )
                else:
                    plan.lines.append(Line(seq, "entry", tx.end_to_end_id or "" if tx else "", entry.status,
                                           outcome=LineOutcome.INFO))  # fmt: skip
    _check_booked_once(plan, where)
    return plan


def _check_booked_once(plan: Plan, where: str) -> None:
    """One file books a payment (or its return) at most once: a second debit of the same EndToEndId in the same
    statement is money paid twice, not a repeat of a statement, so the whole file is refused."""
    seen: set[tuple[str, str]] = set()
    for line in plan.lines:
        if line.kind in (BookingKind.DEBIT, BookingKind.RETURN):
            if (line.e2e, line.kind) in seen:
                raise Refused(f"{where}: {line.e2e} is booked twice ({line.kind}) in this one file")
            seen.add((line.e2e, line.kind))


def _check_booked_entry(entry: Entry, where: str) -> None:
    """One booked ``Ntry``: not a reversal; its amount is the sum of its transactions' (one or several), each
    transaction states its amount (a single one may leave it to the entry) and goes the entry's way."""
    ref = entry.entry_ref or entry.account_servicer_ref or "?"
    if entry.reversal:
        raise Refused(f"{where}: reversal entry {ref}: not supported, needs a person")
    if not entry.transactions:
        return
    if any(t.amount_fen is None for t in entry.transactions):
        raise Refused(
            f"{where}: entry {ref} holds {len(entry.transactions)} transactions, not all with an amount"
        )
    total = sum(t.amount_fen or 0 for t in entry.transactions)
    if total != entry.amount_fen:
        raise Refused(
            f"{where}: entry {ref} books {fen_to_text(entry.amount_fen)} CNY but its "
            f"{len(entry.transactions)} transaction(s) add up to {fen_to_text(total)} CNY"
        )
    for t in entry.transactions:
        if t.credit_debit != entry.credit_debit:
            raise Refused(
                f"{where}: entry {ref} is {entry.credit_debit} but its transaction {t.end_to_end_id or '?'} "
                f"is {t.credit_debit}"
            )


def _booking_line(
    seq: int,
    entry: Entry,
    tx: EntryTransaction | None,
    plan: Plan,
    files: dict[int, tuple[str, str]],
    *,
    where: str,
    bank_code: str,
) -> Line:
    """The line of one transaction of a booked entry, checked against the instruction it names."""
    e2e = tx.end_to_end_id if tx is not None else None
    if tx is None or not e2e:
        if entry.credit_debit == CREDIT and not entry.is_return:
            return Line(seq, "entry", "", "BOOK", amount_fen=entry.amount_fen, booking_date=entry.booking_date,
                        outcome=LineOutcome.NOT_OURS)  # fmt: skip
        raise Refused(f"{where}: booked entry {entry.entry_ref or '?'} without an EndToEndId")
    inst = plan.insts.get(e2e)
    if inst is None:
        raise Refused(f"{where}: unknown EndToEndId {e2e!r}")
    if inst.status in ("created", "cancelled") or inst.bank_file_id is None:
        raise Refused(f"{where}: booking for {e2e}, which was never handed over")
    if bank_code and inst.bank_id != bank_code:
        raise Refused(f"{where}: {e2e} was paid through bank {inst.bank_id}, the file came from {bank_code}")
    _check_references(tx, inst, files, where)
    amount = tx.amount_fen if tx.amount_fen is not None else entry.amount_fen
    if amount != inst.amount_fen:
        raise Refused(
            f"{where}: amount mismatch for {e2e}: booked {amount} fen, instructed {inst.amount_fen}"
        )
    if entry.booking_date is None:
        raise Refused(f"{where}: booked entry for {e2e} without a booking date")
    if entry.credit_debit == DEBIT and not tx.is_return:
        kind, fact = BookingKind.DEBIT, fact_booking(entry.booking_date)
    elif entry.credit_debit == CREDIT and tx.is_return:
        kind, fact = BookingKind.RETURN, fact_return(entry.booking_date, tx.return_reason)
    else:
        raise Refused(
            f"{where}: {entry.credit_debit} entry for {e2e} "
            f"{'with' if tx.is_return else 'without'} return information is not what we expect"
        )
    plan.answered_files.add(inst.bank_file_id)
    codes = (tx.return_reason,) if tx.return_reason else ()
    return Line(seq, kind.value, e2e, "BOOK", codes, amount, entry.booking_date, fact)


def _carrying_files(insts: dict[str, Inst]) -> dict[int, tuple[str, str]]:
    """``{bank file id: (MsgId, PmtInfId)}`` of the files that carried these instructions."""
    ids = sorted({i.bank_file_id for i in insts.values() if i.bank_file_id is not None})
    rows = BankFile.objects.filter(pk__in=ids).values_list("pk", "msg_id", "pmt_inf_id")
    return {pk: (mid, pid) for pk, mid, pid in rows}


def _check_references(
    tx: EntryTransaction, inst: Inst, files: dict[int, tuple[str, str]], where: str
) -> None:
    """A transaction's ``Refs/MsgId`` and ``Refs/PmtInfId``, when given, name the file that carried it."""
    assert inst.bank_file_id is not None
    msg_id, pmt_inf_id = files[inst.bank_file_id]
    for what, named, ours in (("MsgId", tx.msg_id, msg_id), ("PmtInfId", tx.pmt_inf_id, pmt_inf_id)):
        if not named or named == ours:
            continue
        if not BankFile.objects.filter(Q(msg_id=named) if what == "MsgId" else Q(pmt_inf_id=named)).exists():
            raise Refused(f"{where}: {inst.e2e} refers to {what} {named!r}, which names no file of ours")
        raise Refused(f"{where}: {inst.e2e} refers to {what} {named!r}, but it went out in {ours}")
