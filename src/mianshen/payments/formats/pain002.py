"""pain.002 (CustomerPaymentStatusReport): what the bank says about our pain.001 — versions .001.03 and .001.12.

Read by :func:`parse_pain002` (version chosen by the namespace, then validated against that version's XSD);
written by :func:`render_pain002` (the simulator answers with .001.12; .001.03 is rendered for test fixtures).
Paths below ``Document/CstmrPmtStsRpt``::

    GrpHdr/MsgId, GrpHdr/CreDtTm
    OrgnlGrpInfAndSts/{OrgnlMsgId, OrgnlMsgNmId, OrgnlNbOfTxs, OrgnlCtrlSum, GrpSts, StsRsnInf*}
    OrgnlPmtInfAndSts*/{OrgnlPmtInfId, PmtInfSts, StsRsnInf*,
                        TxInfAndSts*/{OrgnlInstrId, OrgnlEndToEndId, TxSts, StsRsnInf*}}
    StsRsnInf = {Rsn/Cd | Rsn/Prtry, AddtlInf*}

A bank may list only the rejected transactions (group ``PART``/``ACCP`` with ``RJCT`` lines): reading what is
not listed is the ingest's job, per bank profile. Proprietary reasons (``Rsn/Prtry``) are reported as
``PRTRY:<value>`` in ``reason_codes`` so they never pass for an ISO code (they go to manual triage).
``OrgnlCtrlSum``, when present, is read as whole fen (``3000.000`` is ``300000``); a negative one, a fraction
of a fen or anything unreadable is refused (:class:`BadMessage`): it cannot be a total of ours.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from .amounts import fen_to_text, text_to_fen
from .errors import BadMessage
from .safexml import DEFAULT_MAX_BYTES, parse_xml
from .schemas import PAIN001, PAIN002_V03, PAIN002_V12, message_of, validate_tree
from .types import check_identifier
from .xmlutil import Doc, format_datetime, parse_iso_datetime, serialize

VERSIONS = (PAIN002_V03, PAIN002_V12)
_DOCS = {v: Doc(v) for v in VERSIONS}


@dataclass(frozen=True, slots=True)
class StatusReason:
    """One ``StsRsnInf``: ``Rsn/Cd`` (ISO ExternalStatusReason1Code) or ``Rsn/Prtry``, and ``AddtlInf``."""

    code: str | None = None
    proprietary: str | None = None
    additional_info: tuple[str, ...] = ()

    @property
    def key(self) -> str | None:
        if self.code:
            return self.code
        return f"PRTRY:{self.proprietary}" if self.proprietary else None


def _codes(reasons: tuple[StatusReason, ...]) -> tuple[str, ...]:
    return tuple(k for k in (r.key for r in reasons) if k)


@dataclass(frozen=True, slots=True)
class TransactionStatus:
    """One ``TxInfAndSts``: the status of one of our transfers, keyed by ``OrgnlEndToEndId``."""

    original_end_to_end_id: str | None
    status: str | None  # TxSts
    reasons: tuple[StatusReason, ...] = ()
    original_instruction_id: str | None = None

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return _codes(self.reasons)


@dataclass(frozen=True, slots=True)
class PaymentBlockStatus:
    """One ``OrgnlPmtInfAndSts``: status of one original ``PmtInf`` and of (some of) its transactions."""

    original_pmt_inf_id: str
    status: str | None = None  # PmtInfSts
    reasons: tuple[StatusReason, ...] = ()
    transactions: tuple[TransactionStatus, ...] = ()

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return _codes(self.reasons)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A whole pain.002: one original message, its group status, its blocks."""

    msg_id: str  # GrpHdr/MsgId
    created_at: datetime  # GrpHdr/CreDtTm (naive if the bank gave no offset)
    original_msg_id: str  # OrgnlGrpInfAndSts/OrgnlMsgId
    group_status: str | None = None  # OrgnlGrpInfAndSts/GrpSts
    group_reasons: tuple[StatusReason, ...] = ()
    blocks: tuple[PaymentBlockStatus, ...] = ()
    original_msg_name_id: str = PAIN001  # OrgnlGrpInfAndSts/OrgnlMsgNmId
    original_nb_of_txs: int | None = None
    original_ctrl_sum_fen: int | None = None
    version: str = PAIN002_V12

    @property
    def group_reason_codes(self) -> tuple[str, ...]:
        return _codes(self.group_reasons)

    def transactions(self) -> Iterator[tuple[PaymentBlockStatus, TransactionStatus]]:
        """Every transaction line with its block, in file order."""
        for block in self.blocks:
            for tx in block.transactions:
                yield block, tx


# ---------------------------------------------------------------------------------------------- rendering


def _reasons(d: Doc, parent: etree._Element, reasons: tuple[StatusReason, ...]) -> None:
    for r in reasons:
        el = d.sub(parent, "StsRsnInf")
        if r.code or r.proprietary:
            rsn = d.sub(el, "Rsn")
            if r.code:
                d.sub(rsn, "Cd", r.code)
            else:
                d.sub(rsn, "Prtry", r.proprietary)
        for info in r.additional_info:
            d.sub(el, "AddtlInf", info)


def build_pain002(report: StatusReport) -> etree._Element:
    if report.version not in VERSIONS:
        raise ValueError(f"cannot render {report.version!r}; versions: {', '.join(VERSIONS)}")
    d = _DOCS[report.version]
    check_identifier(report.msg_id, "MsgId")
    root = d.root()
    msg = d.sub(root, "CstmrPmtStsRpt")
    hdr = d.sub(msg, "GrpHdr")
    d.sub(hdr, "MsgId", report.msg_id)
    d.sub(hdr, "CreDtTm", format_datetime(report.created_at))
    grp = d.sub(msg, "OrgnlGrpInfAndSts")
    d.sub(grp, "OrgnlMsgId", report.original_msg_id)
    d.sub(grp, "OrgnlMsgNmId", report.original_msg_name_id)
    if report.original_nb_of_txs is not None:
        d.sub(grp, "OrgnlNbOfTxs", str(report.original_nb_of_txs))
    if report.original_ctrl_sum_fen is not None:
        d.sub(grp, "OrgnlCtrlSum", fen_to_text(report.original_ctrl_sum_fen))
    if report.group_status:
        d.sub(grp, "GrpSts", report.group_status)
    _reasons(d, grp, report.group_reasons)
    for block in report.blocks:
        bel = d.sub(msg, "OrgnlPmtInfAndSts")
        d.sub(bel, "OrgnlPmtInfId", block.original_pmt_inf_id)
        if block.status:
            d.sub(bel, "PmtInfSts", block.status)
        _reasons(d, bel, block.reasons)
        for tx in block.transactions:
            tel = d.sub(bel, "TxInfAndSts")
            if tx.original_instruction_id:
                d.sub(tel, "OrgnlInstrId", tx.original_instruction_id)
            if tx.original_end_to_end_id:
                d.sub(tel, "OrgnlEndToEndId", tx.original_end_to_end_id)
            if tx.status:
                d.sub(tel, "TxSts", tx.status)
            _reasons(d, tel, tx.reasons)
    return root


def render_pain002(report: StatusReport, *, validate: bool = True) -> bytes:
    """pain.002 bytes of ``report.version`` (.001.12 by default), checked against that version's XSD."""
    root = build_pain002(report)
    if validate:
        validate_tree(root, report.version)
    return serialize(root)


# ------------------------------------------------------------------------------------------------ parsing


class _Reader:
    """Child-by-child reading (one pass per element, no path lookups): 450,000 lines must stay fast."""

    def __init__(self, d: Doc) -> None:
        t = d.tag
        self.d = d
        self.sts_rsn_inf, self.rsn, self.cd, self.prtry, self.addtl = (
            t("StsRsnInf"),
            t("Rsn"),
            t("Cd"),
            t("Prtry"),
            t("AddtlInf"),
        )
        self.e2e, self.instr, self.tx_sts = t("OrgnlEndToEndId"), t("OrgnlInstrId"), t("TxSts")
        self.pmt_inf_id, self.pmt_inf_sts, self.tx = t("OrgnlPmtInfId"), t("PmtInfSts"), t("TxInfAndSts")

    def reason(self, el: etree._Element) -> StatusReason:
        code = prtry = None
        info: list[str] = []
        for child in el:
            if child.tag == self.rsn:
                for c in child:
                    if c.tag == self.cd:
                        code = (c.text or "").strip() or None
                    elif c.tag == self.prtry:
                        prtry = (c.text or "").strip() or None
            elif child.tag == self.addtl:
                info.append(child.text or "")
        return StatusReason(code, prtry, tuple(info))

    def transaction(self, el: etree._Element) -> TransactionStatus:
        e2e = instr = sts = None
        reasons: list[StatusReason] = []
        for child in el:
            tag = child.tag
            if tag == self.e2e:
                e2e = (child.text or "").strip() or None
            elif tag == self.tx_sts:
                sts = (child.text or "").strip() or None
            elif tag == self.sts_rsn_inf:
                reasons.append(self.reason(child))
            elif tag == self.instr:
                instr = (child.text or "").strip() or None
        return TransactionStatus(e2e, sts, tuple(reasons), instr)

    def block(self, el: etree._Element) -> PaymentBlockStatus:
        pmt_inf_id = ""
        sts = None
        reasons: list[StatusReason] = []
        txs: list[TransactionStatus] = []
        for child in el:
            tag = child.tag
            if tag == self.tx:
                txs.append(self.transaction(child))
            elif tag == self.pmt_inf_id:
                pmt_inf_id = (child.text or "").strip()
            elif tag == self.pmt_inf_sts:
                sts = (child.text or "").strip() or None
            elif tag == self.sts_rsn_inf:
                reasons.append(self.reason(child))
        return PaymentBlockStatus(pmt_inf_id, sts, tuple(reasons), tuple(txs))


_DECIMAL_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")


def _echoed_sum(text: str | None) -> int | None:
    """``OrgnlCtrlSum`` echoes our own total (``DecimalNumber``: more decimals are allowed, ``3000.000`` is
    ours ``3000.00``). Absent -> ``None``; a negative sum, a fraction of a fen or anything else that cannot
    be a total of ours is refused (``BadMessage``), like a total that differs from ours."""
    where = "OrgnlGrpInfAndSts/OrgnlCtrlSum"
    raw = (text or "").strip()
    if not raw:
        return None
    m = _DECIMAL_NUMBER.fullmatch(raw)
    if m is None or not (m.group(2) or m.group(3)):
        raise BadMessage(f"{where}: not a decimal number: {raw[:40]!r}", reason_code="FF01")
    sign, whole, frac = m.group(1), m.group(2) or "0", m.group(3) or ""
    if frac[2:].strip("0"):
        raise BadMessage(f"{where}: {raw!r} is not whole fen, so it is not our total", reason_code="FF01")
    fen = text_to_fen(f"{whole}.{frac[:2]}", where=where)
    if sign == "-" and fen:
        raise BadMessage(f"{where}: {raw!r} is negative, so it is not our total", reason_code="FF01")
    return fen


def parse_pain002(data: bytes | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> StatusReport:
    """Read a pain.002.001.03 or .001.12 report (safe parse, namespace, XSD of that version)."""
    root = parse_xml(data, max_bytes=max_bytes)
    version = message_of(root, VERSIONS)
    validate_tree(root, version)
    d = _DOCS[version]
    reader = _Reader(d)
    msg = d.find(root, "CstmrPmtStsRpt")
    grp = d.find(msg, "OrgnlGrpInfAndSts") if msg is not None else None
    if msg is None or grp is None:  # pragma: no cover - excluded by the XSD
        raise BadMessage("CstmrPmtStsRpt/OrgnlGrpInfAndSts is missing", reason_code="FF01")
    nb = d.text(grp, "OrgnlNbOfTxs")
    ctrl = d.text(grp, "OrgnlCtrlSum")
    return StatusReport(
        msg_id=d.required(msg, "GrpHdr/MsgId"),
        created_at=parse_iso_datetime(d.required(msg, "GrpHdr/CreDtTm"), "GrpHdr/CreDtTm"),
        original_msg_id=d.required(grp, "OrgnlMsgId"),
        original_msg_name_id=d.required(grp, "OrgnlMsgNmId"),
        group_status=d.text(grp, "GrpSts") or None,
        group_reasons=tuple(reader.reason(el) for el in d.findall(grp, "StsRsnInf")),
        blocks=tuple(reader.block(el) for el in d.findall(msg, "OrgnlPmtInfAndSts")),
        original_nb_of_txs=int(nb) if nb else None,
        original_ctrl_sum_fen=_echoed_sum(ctrl),
        version=version,
    )
