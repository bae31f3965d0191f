"""pain.001.001.09 (CustomerCreditTransferInitiationV09): the refunds we send, one file per bank and date.

Layout written by :func:`render_pain001` (paths below ``Document/CstmrCdtTrfInitn``)::

    GrpHdr/MsgId, GrpHdr/CreDtTm, GrpHdr/NbOfTxs, GrpHdr/CtrlSum, GrpHdr/InitgPty/Nm
    PmtInf (one per PaymentBlock)
        PmtInfId, PmtMtd=TRF, BtchBookg=false (one booking per transfer, so camt.054 reconciles per payment),
        NbOfTxs, CtrlSum, ReqdExctnDt/Dt, Dbtr/Nm, DbtrAcct/Id/Othr/Id, DbtrAcct/Ccy=CNY,
        DbtrAgt/FinInstnId/ClrSysMmbId/{ClrSysId/Cd=CNAPS, MmbId=<12-digit bank number>},
        ChrgBr=DEBT (the fund bears the charges: the unit receives the full refund)
        CdtTrfTxInf (one per CreditTransfer)
            PmtId/EndToEndId, Amt/InstdAmt[@Ccy=CNY], CdtrAgt/FinInstnId/ClrSysMmbId/{ClrSysId/Cd, MmbId},
            Cdtr/Nm, CdtrAcct/Id/Othr/Id, RmtInf/Ustrd

``CNAPS`` is the ISO ExternalClearingSystemIdentification1Code for China's National Advanced Payment System
(the XSD only bounds it to 1–5 characters). Amounts are ``fen // 100 . fen % 100`` — never a float. The bytes
are a pure function of the :class:`BankFile`, so a retried upload sends identical bytes (same SHA-256).
"""

from __future__ import annotations

import hashlib
import os

from lxml import etree

from .amounts import check_currency, fen_to_text, text_to_fen
from .errors import BadMessage
from .safexml import DEFAULT_MAX_BYTES, hardened_parser, parse_xml
from .schemas import PAIN001, message_of, validate_tree
from .types import BankFile, CreditTransfer, PaymentBlock
from .xmlutil import Doc, format_datetime, parse_iso_date, parse_iso_datetime

CLEARING_SYSTEM = "CNAPS"
D = Doc(PAIN001)

# The bytes are written from fixed templates (fast: 450,000 payments must build and validate in well under a
# minute) and then parsed back with the hardened parser and validated against the official XSD, so nothing the
# templates could get wrong leaves unnoticed. Text values are escaped by _esc; identifiers, accounts, bank
# numbers, dates and amounts are restricted by the snapshot types to characters that need no escaping.
_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{ns}">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>{msg_id}</MsgId>
      <CreDtTm>{created}</CreDtTm>
      <NbOfTxs>{nb}</NbOfTxs>
      <CtrlSum>{ctrl}</CtrlSum>
      <InitgPty>
        <Nm>{initiator}</Nm>
      </InitgPty>
    </GrpHdr>
"""
_BLOCK = """    <PmtInf>
      <PmtInfId>{pmt_inf_id}</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <BtchBookg>false</BtchBookg>
      <NbOfTxs>{nb}</NbOfTxs>
      <CtrlSum>{ctrl}</CtrlSum>
      <ReqdExctnDt>
        <Dt>{exec_date}</Dt>
      </ReqdExctnDt>
      <Dbtr>
        <Nm>{debtor}</Nm>
      </Dbtr>
      <DbtrAcct>
        <Id>
          <Othr>
            <Id>{account}</Id>
          </Othr>
        </Id>
        <Ccy>CNY</Ccy>
      </DbtrAcct>
      <DbtrAgt>
        <FinInstnId>
          <ClrSysMmbId>
            <ClrSysId>
              <Cd>CNAPS</Cd>
            </ClrSysId>
            <MmbId>{branch}</MmbId>
          </ClrSysMmbId>
        </FinInstnId>
      </DbtrAgt>
      <ChrgBr>DEBT</ChrgBr>
"""
_TX = """      <CdtTrfTxInf>
        <PmtId>
          <EndToEndId>{}</EndToEndId>
        </PmtId>
        <Amt>
          <InstdAmt Ccy="CNY">{}</InstdAmt>
        </Amt>
        <CdtrAgt>
          <FinInstnId>
            <ClrSysMmbId>
              <ClrSysId>
                <Cd>CNAPS</Cd>
              </ClrSysId>
              <MmbId>{}</MmbId>
            </ClrSysMmbId>
          </FinInstnId>
        </CdtrAgt>
        <Cdtr>
          <Nm>{}</Nm>
        </Cdtr>
        <CdtrAcct>
          <Id>
            <Othr>
              <Id>{}</Id>
            </Othr>
          </Id>
        </CdtrAcct>
        <RmtInf>
          <Ustrd>{}</Ustrd>
        </RmtInf>
      </CdtTrfTxInf>
"""
_BLOCK_END = "    </PmtInf>\n"
_TAIL = "  </CstmrCdtTrfInitn>\n</Document>\n"


def _esc(text: str) -> str:
    """Escape character data (control characters are already refused by the snapshot types)."""
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _block_text(block: PaymentBlock) -> list[str]:
    parts = [
        _BLOCK.format(
            pmt_inf_id=block.pmt_inf_id,
            nb=block.nb_of_txs,
            ctrl=fen_to_text(block.ctrl_sum_fen),
            exec_date=block.execution_date.isoformat(),
            debtor=_esc(block.debtor_name),
            account=block.debtor_account,
            branch=block.debtor_branch_code,
        )
    ]
    tx_format = _TX.format
    parts.extend(
        tx_format(
            tx.end_to_end_id,
            f"{tx.amount_fen // 100}.{tx.amount_fen % 100:02d}",
            tx.creditor_branch_code,
            _esc(tx.creditor_name),
            tx.creditor_account,
            _esc(tx.remittance),
        )
        for tx in block.transfers
    )
    parts.append(_BLOCK_END)
    return parts


def render_pain001(bank_file: BankFile, *, validate: bool = True) -> bytes:
    """pain.001.001.09 bytes (UTF-8, XML declaration) for ``bank_file``; pure and deterministic.

    With ``validate`` (the default) the bytes are parsed back and checked against the official XSD before they
    are returned, raising :class:`SchemaInvalid` otherwise: no invalid file ever leaves this function.
    """
    parts = [
        _HEAD.format(
            ns=D.ns,
            msg_id=bank_file.msg_id,
            created=format_datetime(bank_file.created_at),
            nb=bank_file.nb_of_txs,
            ctrl=fen_to_text(bank_file.ctrl_sum_fen),
            initiator=_esc(bank_file.initiating_party),
        )
    ]
    for block in bank_file.blocks:
        parts.extend(_block_text(block))
    parts.append(_TAIL)
    data = "".join(parts).encode("utf-8")
    if validate:
        validate_tree(etree.fromstring(data, hardened_parser()), PAIN001)
    return data


def build_pain001(bank_file: BankFile) -> etree._Element:
    """The ``Document`` tree of :func:`render_pain001` (not validated), for callers that want a tree."""
    return etree.fromstring(render_pain001(bank_file, validate=False), hardened_parser())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wrap(exc: ValueError, where: str) -> BadMessage:
    return BadMessage(f"{where}: {exc}", reason_code="FF01")


def _parse_transfer(el: etree._Element, where: str) -> CreditTransfer:
    e2e = D.required(el, "PmtId/EndToEndId", where)
    where = f"{where}CdtTrfTxInf[{e2e}]/"
    amt = D.find(el, "Amt/InstdAmt")
    if amt is None:
        raise BadMessage(
            f"{where}Amt/InstdAmt is missing (equivalent amounts are not accepted)", reason_code="FF01"
        )
    check_currency(amt.get("Ccy"), where=f"{where}Amt/InstdAmt")
    if (D.text(el, "CdtrAgt/FinInstnId/ClrSysMmbId/ClrSysId/Cd") or "") != CLEARING_SYSTEM:
        raise BadMessage(f"{where}CdtrAgt must be identified by its CNAPS member id", reason_code="FF01")
    try:
        return CreditTransfer(
            end_to_end_id=e2e,
            amount_fen=text_to_fen(amt.text, where=f"{where}Amt/InstdAmt"),
            creditor_name=D.required(el, "Cdtr/Nm", where),
            creditor_account=D.required(el, "CdtrAcct/Id/Othr/Id", where),
            creditor_branch_code=D.required(el, "CdtrAgt/FinInstnId/ClrSysMmbId/MmbId", where),
            remittance=D.required(el, "RmtInf/Ustrd", where),
        )
    except ValueError as exc:
        if isinstance(exc, BadMessage):
            raise
        raise _wrap(exc, where) from None


def _check_totals(where: str, nb_text: str | None, sum_text: str | None, count: int, total: int) -> None:
    if nb_text is not None and int(nb_text) != count:
        raise BadMessage(f"{where}NbOfTxs is {nb_text} but {count} transactions follow", reason_code="AM18")
    if sum_text is not None and text_to_fen(sum_text, where=f"{where}CtrlSum") != total:
        raise BadMessage(
            f"{where}CtrlSum is {sum_text} but the amounts add up to {fen_to_text(total)}", reason_code="AM10"
        )


def _parse_block(el: etree._Element) -> PaymentBlock:
    pmt_inf_id = D.required(el, "PmtInfId", "PmtInf/")
    where = f"PmtInf[{pmt_inf_id}]/"
    if D.text(el, "PmtMtd") != "TRF":
        raise BadMessage(f"{where}PmtMtd must be TRF", reason_code="FF01")
    if (D.text(el, "DbtrAgt/FinInstnId/ClrSysMmbId/ClrSysId/Cd") or "") != CLEARING_SYSTEM:
        raise BadMessage(f"{where}DbtrAgt must be identified by its CNAPS member id", reason_code="FF01")
    exec_text = D.required(el, "ReqdExctnDt/Dt", where)
    transfers = tuple(_parse_transfer(tx, where) for tx in D.findall(el, "CdtTrfTxInf"))
    _check_totals(
        where,
        D.text(el, "NbOfTxs"),
        D.text(el, "CtrlSum"),
        len(transfers),
        sum(t.amount_fen for t in transfers),
    )
    try:
        return PaymentBlock(
            pmt_inf_id=pmt_inf_id,
            execution_date=parse_iso_date(exec_text, f"{where}ReqdExctnDt/Dt"),
            debtor_name=D.required(el, "Dbtr/Nm", where),
            debtor_account=D.required(el, "DbtrAcct/Id/Othr/Id", where),
            debtor_branch_code=D.required(el, "DbtrAgt/FinInstnId/ClrSysMmbId/MmbId", where),
            transfers=transfers,
        )
    except ValueError as exc:
        if isinstance(exc, BadMessage):
            raise
        raise _wrap(exc, where) from None


def parse_pain001(data: bytes | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> BankFile:
    """Read a pain.001.001.09 file back into a :class:`BankFile` (the bank simulator's and the tests' view).

    Strict: safe parsing, namespace, XSD (``SchemaInvalid``, FF01), CNY only, whole fen, CNAPS agents, and
    both levels of control totals (``BadMessage`` with ``reason_code`` AM18 for ``NbOfTxs``, AM10 for
    ``CtrlSum``).
    """
    root = parse_xml(data, max_bytes=max_bytes)
    message_of(root, (PAIN001,))
    validate_tree(root, PAIN001)
    msg = D.find(root, "CstmrCdtTrfInitn")
    assert msg is not None  # guaranteed by the XSD
    msg_id = D.required(msg, "GrpHdr/MsgId")
    blocks = tuple(_parse_block(el) for el in D.findall(msg, "PmtInf"))
    _check_totals(
        "GrpHdr/",
        D.text(msg, "GrpHdr/NbOfTxs"),
        D.text(msg, "GrpHdr/CtrlSum"),
        sum(b.nb_of_txs for b in blocks),
        sum(b.ctrl_sum_fen for b in blocks),
    )
    created = parse_iso_datetime(D.required(msg, "GrpHdr/CreDtTm"), "GrpHdr/CreDtTm")
    try:
        return BankFile(
            msg_id=msg_id,
            created_at=created,
            initiating_party=D.required(msg, "GrpHdr/InitgPty/Nm"),
            blocks=blocks,
        )
    except ValueError as exc:
        if isinstance(exc, BadMessage):
            raise
        raise _wrap(exc, "GrpHdr/") from None


def read_msg_id(root: etree._Element) -> str | None:
    """``GrpHdr/MsgId`` of a parsed pain.001 tree, if present (used to answer even an XSD-invalid file)."""
    value = D.text(root, "CstmrCdtTrfInitn/GrpHdr/MsgId")
    return value or None


__all__ = ["CLEARING_SYSTEM", "build_pain001", "parse_pain001", "read_msg_id", "render_pain001", "sha256_hex"]
