"""camt.054 (BankToCustomerDebitCreditNotification): what the bank actually booked — .001.02 and .001.08.

Only a booking closes a payment, and a return reopens it (payments.md). Read by :func:`parse_camt054`
(version by namespace, validated against that version's XSD); written by :func:`render_camt054` (the simulator
books with .001.08; .001.02 is rendered for test fixtures). Paths below ``Document/BkToCstmrDbtCdtNtfctn``::

    GrpHdr/MsgId, GrpHdr/CreDtTm
    Ntfctn*/{Id, CreDtTm, Acct/Id/Othr/Id (or IBAN),
             Ntry*/{NtryRef, Amt[@Ccy], CdtDbtInd, RvslInd, Sts (.02: code; .08: Sts/Cd or Sts/Prtry),
                    BookgDt/Dt (or DtTm), AcctSvcrRef, BkTxCd/Domn/{Cd, Fmly/{Cd, SubFmlyCd}},
                    NtryDtls*/TxDtls*/{Refs/{MsgId, AcctSvcrRef, PmtInfId, InstrId, EndToEndId},
                                       Amt[@Ccy] + CdtDbtInd (.08 only), AmtDtls/{InstdAmt,TxAmt,CntrValAmt,
                                       AnncdPstngAmt}/Amt (each the same amount in CNY, also under Ntry),
                                       RltdPties/{Cdtr/Pty/Nm (.08) | Cdtr/Nm (.02), CdtrAcct/Id/Othr/Id},
                                       RmtInf/Ustrd, RtrInf/{Rsn/Cd | Rsn/Prtry, AddtlInf*}}}}

Amounts become integer fen exactly (more than two decimals or a currency other than CNY is refused with a
clear :class:`BadMessage`). A transaction with ``RtrInf`` is a return (``is_return``), its reason in
``return_reason`` (``PRTRY:<value>`` for a proprietary one). When an entry holds one transaction without its own
amount, the entry's amount is the transaction's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from lxml import etree

from .amounts import CURRENCY, check_currency, fen_to_text, text_to_fen
from .errors import BadMessage
from .safexml import DEFAULT_MAX_BYTES, parse_xml
from .schemas import CAMT054_V02, CAMT054_V08, message_of, validate_tree
from .types import check_identifier
from .xmlutil import Doc, format_datetime, parse_iso_date, parse_iso_datetime, serialize

VERSIONS = (CAMT054_V02, CAMT054_V08)
_DOCS = {v: Doc(v) for v in VERSIONS}
CREDIT, DEBIT = "CRDT", "DBIT"
DETAIL_AMOUNTS = (
    "InstdAmt",
    "TxAmt",
    "CntrValAmt",
    "AnncdPstngAmt",
)  # AmtDtls/*/Amt: each must be the amount


@dataclass(frozen=True, slots=True)
class EntryTransaction:
    """One ``TxDtls``: which of our payments (``Refs/EndToEndId``) this booking is about."""

    end_to_end_id: str | None
    amount_fen: int | None = None
    credit_debit: str | None = None
    msg_id: str | None = None
    pmt_inf_id: str | None = None
    instruction_id: str | None = None
    account_servicer_ref: str | None = None
    creditor_name: str | None = None
    creditor_account: str | None = None
    remittance: str | None = None
    is_return: bool = False  # RtrInf present
    return_reason: str | None = None  # RtrInf/Rsn/Cd, or PRTRY:<RtrInf/Rsn/Prtry>
    return_info: tuple[str, ...] = ()  # RtrInf/AddtlInf


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``Ntry``: a booking (or pending/info entry) on the fund's account."""

    amount_fen: int
    credit_debit: str  # CRDT | DBIT
    status: str  # BOOK | PDNG | INFO (or a proprietary status)
    booking_date: date | None = None
    entry_ref: str | None = None
    account_servicer_ref: str | None = None
    reversal: bool = False  # RvslInd
    bank_tx_code: tuple[str, str, str] | None = None  # BkTxCd/Domn: (Cd, Fmly/Cd, Fmly/SubFmlyCd)
    transactions: tuple[EntryTransaction, ...] = ()

    @property
    def is_booked(self) -> bool:
        return self.status == "BOOK"

    @property
    def is_return(self) -> bool:
        return any(t.is_return for t in self.transactions)


@dataclass(frozen=True, slots=True)
class AccountNotification:
    """One ``Ntfctn``: the entries of one account."""

    id: str
    account: str  # Acct/Id/Othr/Id (or Acct/Id/IBAN)
    entries: tuple[Entry, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A whole camt.054 message."""

    msg_id: str
    created_at: datetime
    notifications: tuple[AccountNotification, ...] = field(default=())
    version: str = CAMT054_V08

    def lines(self) -> Iterator[tuple[AccountNotification, Entry, EntryTransaction | None]]:
        """Every (account, entry, transaction) in file order; ``None`` for an entry without details."""
        for ntf in self.notifications:
            for entry in ntf.entries:
                if not entry.transactions:
                    yield ntf, entry, None
                for tx in entry.transactions:
                    yield ntf, entry, tx


# ---------------------------------------------------------------------------------------------- rendering


def _amount(d: Doc, parent: etree._Element, path: str, fen: int) -> None:
    d.chain(parent, path, fen_to_text(fen)).set("Ccy", CURRENCY)


def _tx(d: Doc, parent: etree._Element, tx: EntryTransaction, v08: bool) -> None:
    el = d.sub(parent, "TxDtls")
    refs = d.sub(el, "Refs")
    for name, value in (
        ("MsgId", tx.msg_id),
        ("AcctSvcrRef", tx.account_servicer_ref),
        ("PmtInfId", tx.pmt_inf_id),
        ("InstrId", tx.instruction_id),
        ("EndToEndId", tx.end_to_end_id),
    ):
        if value:
            d.sub(refs, name, value)
    if tx.amount_fen is not None:
        if v08:
            _amount(d, el, "Amt", tx.amount_fen)
            if tx.credit_debit:
                d.sub(el, "CdtDbtInd", tx.credit_debit)
        else:
            _amount(d, el, "AmtDtls/TxAmt/Amt", tx.amount_fen)
    if tx.creditor_name or tx.creditor_account:
        parties = d.sub(el, "RltdPties")
        if tx.creditor_name:
            d.chain(parties, "Cdtr/Pty/Nm" if v08 else "Cdtr/Nm", tx.creditor_name)
        if tx.creditor_account:
            d.chain(parties, "CdtrAcct/Id/Othr/Id", tx.creditor_account)
    if tx.remittance:
        d.chain(el, "RmtInf/Ustrd", tx.remittance)
    if tx.is_return:
        rtr = d.sub(el, "RtrInf")
        reason = tx.return_reason or ""
        if reason.startswith("PRTRY:"):
            d.chain(rtr, "Rsn/Prtry", reason[6:])
        elif reason:
            d.chain(rtr, "Rsn/Cd", reason)
        for info in tx.return_info:
            d.sub(rtr, "AddtlInf", info)


def _entry(d: Doc, parent: etree._Element, entry: Entry, v08: bool) -> None:
    el = d.sub(parent, "Ntry")
    if entry.entry_ref:
        d.sub(el, "NtryRef", entry.entry_ref)
    _amount(d, el, "Amt", entry.amount_fen)
    d.sub(el, "CdtDbtInd", entry.credit_debit)
    if entry.reversal:
        d.sub(el, "RvslInd", "true")
    d.chain(el, "Sts/Cd" if v08 else "Sts", entry.status)
    if entry.booking_date is not None:
        d.chain(el, "BookgDt/Dt", entry.booking_date.isoformat())
        d.chain(el, "ValDt/Dt", entry.booking_date.isoformat())
    if entry.account_servicer_ref:
        d.sub(el, "AcctSvcrRef", entry.account_servicer_ref)
    code = d.sub(el, "BkTxCd")
    if entry.bank_tx_code is not None:
        domain, family, sub_family = entry.bank_tx_code
        dom = d.sub(code, "Domn")
        d.sub(dom, "Cd", domain)
        fam = d.sub(dom, "Fmly")
        d.sub(fam, "Cd", family)
        d.sub(fam, "SubFmlyCd", sub_family)
    if entry.transactions:
        details = d.sub(el, "NtryDtls")
        for tx in entry.transactions:
            _tx(d, details, tx, v08)


def build_camt054(notification: Notification) -> etree._Element:
    if notification.version not in VERSIONS:
        raise ValueError(f"cannot render {notification.version!r}; versions: {', '.join(VERSIONS)}")
    d = _DOCS[notification.version]
    v08 = notification.version == CAMT054_V08
    check_identifier(notification.msg_id, "MsgId")
    root = d.root()
    msg = d.sub(root, "BkToCstmrDbtCdtNtfctn")
    hdr = d.sub(msg, "GrpHdr")
    d.sub(hdr, "MsgId", notification.msg_id)
    d.sub(hdr, "CreDtTm", format_datetime(notification.created_at))
    for ntf in notification.notifications:
        nel = d.sub(msg, "Ntfctn")
        d.sub(nel, "Id", ntf.id)
        d.sub(nel, "CreDtTm", format_datetime(ntf.created_at or notification.created_at))
        acct = d.sub(nel, "Acct")
        d.chain(acct, "Id/Othr/Id", ntf.account)
        d.sub(acct, "Ccy", CURRENCY)
        for entry in ntf.entries:
            _entry(d, nel, entry, v08)
    return root


def render_camt054(notification: Notification, *, validate: bool = True) -> bytes:
    """camt.054 bytes of ``notification.version`` (.001.08 by default), checked against that version's XSD."""
    root = build_camt054(notification)
    if validate:
        validate_tree(root, notification.version)
    return serialize(root)


# ------------------------------------------------------------------------------------------------ parsing
# One pass over the children of each Ntry and TxDtls, dispatching on the local name: a path lookup per field
# would cost several times more, and a bank's day can hold hundreds of thousands of entries.


def _text(el: etree._Element) -> str | None:
    return (el.text or "").strip() or None


def _fen_of(amt: etree._Element, where: str) -> int:
    check_currency(amt.get("Ccy"), where=where)
    return text_to_fen(amt.text, where=where)


class _Reader:
    def __init__(self, d: Doc) -> None:
        self.d = d
        self.cut = len(d.ns) + 2  # "{" + namespace + "}"

    def names(self, el: etree._Element) -> Iterator[tuple[str, etree._Element]]:
        cut = self.cut
        for child in el:
            yield child.tag[cut:], child

    def refs(self, el: etree._Element) -> dict[str, str | None]:
        return {name: _text(child) for name, child in self.names(el)}

    def transaction(self, el: etree._Element, where: str) -> EntryTransaction:
        d = self.d
        refs: dict[str, str | None] = {}
        amount = direction = name = account = remittance = reason = None
        rtr: etree._Element | None = None
        amt_el: etree._Element | None = None
        amt_details: etree._Element | None = None
        for tag, child in self.names(el):
            if tag == "Refs":
                refs = self.refs(child)
            elif tag == "Amt":
                amt_el = child
            elif tag == "CdtDbtInd":
                direction = _text(child)
            elif tag == "AmtDtls":
                amt_details = child
            elif tag == "RltdPties":
                name = d.text(child, "Cdtr/Pty/Nm") or d.text(child, "Cdtr/Nm") or None
                account = d.text(child, "CdtrAcct/Id/Othr/Id") or d.text(child, "CdtrAcct/Id/IBAN") or None
            elif tag == "RmtInf" and remittance is None:
                remittance = d.text(child, "Ustrd") or None
            elif tag == "RtrInf":
                rtr = child
        e2e = refs.get("EndToEndId")
        where = f"{where}TxDtls[{e2e or '?'}]/"
        amount = self.agreed_amount(amt_el, amt_details, where)
        info: tuple[str, ...] = ()
        if rtr is not None:
            code, prtry = d.text(rtr, "Rsn/Cd"), d.text(rtr, "Rsn/Prtry")
            reason = code or (f"PRTRY:{prtry}" if prtry else None)
            info = tuple(a.text or "" for a in d.findall(rtr, "AddtlInf"))
        return EntryTransaction(
            end_to_end_id=e2e,
            amount_fen=amount,
            credit_debit=direction,
            msg_id=refs.get("MsgId"),
            pmt_inf_id=refs.get("PmtInfId"),
            instruction_id=refs.get("InstrId"),
            account_servicer_ref=refs.get("AcctSvcrRef"),
            creditor_name=name,
            creditor_account=account,
            remittance=remittance,
            is_return=rtr is not None,
            return_reason=reason,
            return_info=info,
        )

    def entry(self, el: etree._Element, where: str) -> Entry:
        d = self.d
        ref = status = direction = servicer_ref = None
        amt_el: etree._Element | None = None
        booking: date | None = None
        reversal = False
        amt_details: etree._Element | None = None
        code: tuple[str, str, str] | None = None
        details: list[etree._Element] = []
        for tag, child in self.names(el):
            if tag == "NtryRef":
                ref = _text(child)
            elif tag == "Amt":
                amt_el = child
            elif tag == "CdtDbtInd":
                direction = _text(child)
            elif tag == "RvslInd":
                reversal = (_text(child) or "").lower() in ("true", "1")
            elif tag == "Sts":  # .02: the code itself; .08: Sts/Cd or Sts/Prtry
                status = _text(child[0]) if len(child) else _text(child)
            elif tag == "BookgDt" and len(child):
                booking = self.booking_date(child[0], f"{where}BookgDt")
            elif tag == "AcctSvcrRef":
                servicer_ref = _text(child)
            elif tag == "BkTxCd":
                dom = d.find(child, "Domn")
                if dom is not None:
                    code = (
                        d.text(dom, "Cd") or "",
                        d.text(dom, "Fmly/Cd") or "",
                        d.text(dom, "Fmly/SubFmlyCd") or "",
                    )
            elif tag == "AmtDtls":
                amt_details = child
            elif tag == "NtryDtls":
                details.extend(c for name, c in self.names(child) if name == "TxDtls")
        where = f"{where}Ntry[{ref or servicer_ref or '?'}]/"
        if amt_el is None or direction is None:  # pragma: no cover - both mandatory in the XSDs
            raise BadMessage(f"{where}Amt or CdtDbtInd is missing", reason_code="FF01")
        amount = self.agreed_amount(amt_el, amt_details, where)
        assert amount is not None
        txs = tuple(self.transaction(tx, where) for tx in details)
        if len(txs) == 1 and txs[0].amount_fen is None:
            txs = (replace(txs[0], amount_fen=amount),)
        txs = tuple(t if t.credit_debit else replace(t, credit_debit=direction) for t in txs)
        return Entry(
            amount_fen=amount,
            credit_debit=direction,
            status=status or "",
            booking_date=booking,
            entry_ref=ref,
            account_servicer_ref=servicer_ref,
            reversal=reversal,
            bank_tx_code=code,
            transactions=txs,
        )

    def agreed_amount(
        self, amt_el: etree._Element | None, amt_details: etree._Element | None, where: str
    ) -> int | None:
        """The amount of an entry or a transaction: its ``Amt`` and every amount of its ``AmtDtls`` (instructed,
        transaction, counter value, announced posting) in CNY and all the same, else the message contradicts
        itself (a ``TxAmt`` of 25,855.99 beside an ``Amt`` of 258.55 is refused, not ignored)."""
        found = [("Amt", amt_el)] if amt_el is not None else []
        for name in DETAIL_AMOUNTS:
            el = self.d.find(amt_details, f"{name}/Amt") if amt_details is not None else None
            if el is not None:
                found.append((f"AmtDtls/{name}/Amt", el))
        amounts = [(path, _fen_of(el, f"{where}{path}")) for path, el in found]
        for path, fen in amounts[1:]:
            if fen != amounts[0][1]:
                raise BadMessage(
                    f"{where}{path} {fen_to_text(fen)} differs from {amounts[0][0]} {fen_to_text(amounts[0][1])}",
                    reason_code="FF01",
                )
        return amounts[0][1] if amounts else None

    def booking_date(self, el: etree._Element, where: str) -> date | None:
        text = _text(el)
        if not text:
            return None
        if el.tag[self.cut :] == "DtTm":
            return parse_iso_datetime(text, f"{where}/DtTm").date()
        return parse_iso_date(text, f"{where}/Dt")


def parse_camt054(data: bytes | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Notification:
    """Read a camt.054.001.02 or .001.08 notification (safe parse, namespace, XSD of that version)."""
    root = parse_xml(data, max_bytes=max_bytes)
    version = message_of(root, VERSIONS)
    validate_tree(root, version)
    d = _DOCS[version]
    reader = _Reader(d)
    msg = d.find(root, "BkToCstmrDbtCdtNtfctn")
    if msg is None:  # pragma: no cover - excluded by the XSD
        raise BadMessage("BkToCstmrDbtCdtNtfctn is missing", reason_code="FF01")
    notifications = []
    for nel in d.findall(msg, "Ntfctn"):
        ntf_id = d.required(nel, "Id", "Ntfctn/")
        where = f"Ntfctn[{ntf_id}]/"
        account = d.text(nel, "Acct/Id/Othr/Id") or d.text(nel, "Acct/Id/IBAN") or ""
        created = d.text(nel, "CreDtTm")
        notifications.append(
            AccountNotification(
                id=ntf_id,
                account=account,
                entries=tuple(reader.entry(el, where) for name, el in reader.names(nel) if name == "Ntry"),
                created_at=parse_iso_datetime(created, f"{where}CreDtTm") if created else None,
            )
        )
    return Notification(
        msg_id=d.required(msg, "GrpHdr/MsgId"),
        created_at=parse_iso_datetime(d.required(msg, "GrpHdr/CreDtTm"), "GrpHdr/CreDtTm"),
        notifications=tuple(notifications),
        version=version,
    )
