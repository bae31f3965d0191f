"""The frozen snapshot a pain.001 file is rendered from (and parsed back to).

A :class:`BankFile` is built from rows selected under lock and stored before the first upload (design §3,
invariant 3); :func:`mianshen.payments.formats.pain001.render_pain001` is a pure function of it. Construction
validates everything the XSD and the bank need, so a bad snapshot fails with ``ValueError`` before any XML
exists:

- ``MsgId``, ``PmtInfId``, ``EndToEndId``: 1–35 characters of ``[A-Za-z0-9-]`` (payments.md, Identifiers);
- branch codes (行号): 12 ASCII digits (CNAPS member id, ``ClrSysMmbId/MmbId``);
- accounts: 1–34 ASCII letters/digits (``Othr/Id`` is ``Max34Text``; domestic accounts are not IBANs);
- names and remittance: 1–140 characters (``Max140Text`` counts characters, not bytes), no control
  characters, no leading/trailing blanks. Longer names are REFUSED, not truncated: a cut name no longer
  matches the account holder and the bank would reject the payment (BE01); the account on file must be fixed;
- amounts: integer fen, at least 1 fen (``fen_to_text`` limits the size).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from .amounts import MAX_FEN

ID_RE = re.compile(r"[A-Za-z0-9-]{1,35}")
BRANCH_RE = re.compile(r"[0-9]{12}")
ACCOUNT_RE = re.compile(r"[A-Za-z0-9]{1,34}")
USCC_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
# characters refused in names: C0/C1 controls, DEL, surrogates and the two XML non-characters
_BAD_TEXT_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
MAX_TEXT = 140
REMITTANCE_PREFIX = "稳岗返还"
# What the money is for, by policy family (``policy.families.RuleFamily.remittance_prefix``): the refund's, and
# the one-off retention training subsidy's and the one-off job-expansion subsidy's.
REMITTANCE_PREFIXES = (REMITTANCE_PREFIX, "留工培训补助", "扩岗补助")


def check_identifier(value: str, what: str = "identifier") -> str:
    """Return ``value`` if it is 1–35 chars of ``[A-Za-z0-9-]``, else raise ``ValueError``."""
    if not isinstance(value, str) or ID_RE.fullmatch(value) is None:
        raise ValueError(f"{what} must be 1-35 characters of [A-Za-z0-9-]: {value!r}")
    return value


def check_branch_code(value: str, what: str = "branch code") -> str:
    """A CNAPS bank number (行号): exactly 12 digits, the first 3 being the bank code."""
    if not isinstance(value, str) or BRANCH_RE.fullmatch(value) is None:
        raise ValueError(f"{what} must be a 12-digit CNAPS bank number: {value!r}")
    return value


def check_account(value: str, what: str = "account") -> str:
    if not isinstance(value, str) or ACCOUNT_RE.fullmatch(value) is None:
        raise ValueError(f"{what} must be 1-34 letters or digits: {value!r}")
    return value


def check_text(value: str, what: str = "text", *, max_chars: int = MAX_TEXT) -> str:
    """Max140Text as we use it: 1..max_chars characters, printable, no leading/trailing blanks."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must not be empty")
    if len(value) > max_chars:
        raise ValueError(f"{what} has {len(value)} characters, more than {max_chars}: refused, not truncated")
    if value != value.strip():
        raise ValueError(f"{what} must not start or end with blanks: {value!r}")
    if _BAD_TEXT_RE.search(value):
        raise ValueError(f"{what} contains a control or non-XML character: {value!r}")
    return value


def check_fen(value: int, what: str = "amount") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{what} must be integer fen, got {type(value).__name__}")
    if value < 1 or value > MAX_FEN:
        raise ValueError(f"{what} out of range: {value} fen")
    return value


def remittance_text(case_no: str, uscc: str, prefix: str = REMITTANCE_PREFIX) -> str:
    """``RmtInf/Ustrd``: ``<what for>/<case number>/<USCC>`` (the unit's 统一社会信用代码); ``稳岗返还`` for a
    refund, ``留工培训补助`` for the retention training subsidy, ``扩岗补助`` for the job-expansion subsidy
    (``REMITTANCE_PREFIXES``)."""
    if prefix not in REMITTANCE_PREFIXES:
        raise ValueError(f"unknown remittance prefix {prefix!r}")
    check_identifier(case_no, "case number")
    if USCC_RE.fullmatch(uscc) is None:
        raise ValueError(f"USCC must be 18 characters of the GB 32100 alphabet: {uscc!r}")
    return f"{prefix}/{case_no}/{uscc}"


def parse_remittance(text: str) -> tuple[str, str] | None:
    """Inverse of :func:`remittance_text`: ``(case_no, uscc)``, or ``None`` for other texts."""
    parts = text.split("/")
    if len(parts) != 3 or parts[0] not in REMITTANCE_PREFIXES:
        return None
    if ID_RE.fullmatch(parts[1]) is None or USCC_RE.fullmatch(parts[2]) is None:
        return None
    return parts[1], parts[2]


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """One ``CdtTrfTxInf``: a refund to one unit's account."""

    end_to_end_id: str  # PmtId/EndToEndId
    amount_fen: int  # Amt/InstdAmt (Ccy="CNY")
    creditor_name: str  # Cdtr/Nm (the unit's account_name, in Chinese)
    creditor_account: str  # CdtrAcct/Id/Othr/Id
    creditor_branch_code: str  # CdtrAgt/FinInstnId/ClrSysMmbId/MmbId (12 digits, ClrSysId/Cd = CNAPS)
    remittance: str  # RmtInf/Ustrd, see remittance_text()

    def __post_init__(self) -> None:
        check_identifier(self.end_to_end_id, "EndToEndId")
        check_fen(self.amount_fen, f"amount of {self.end_to_end_id}")
        check_text(self.creditor_name, f"creditor name of {self.end_to_end_id}")
        check_account(self.creditor_account, f"creditor account of {self.end_to_end_id}")
        check_branch_code(self.creditor_branch_code, f"creditor branch of {self.end_to_end_id}")
        check_text(self.remittance, f"remittance of {self.end_to_end_id}")


@dataclass(frozen=True, slots=True)
class PaymentBlock:
    """One ``PmtInf``: the fund's account at one bank, one requested execution date, its transfers."""

    pmt_inf_id: str  # PmtInfId
    execution_date: date  # ReqdExctnDt/Dt
    debtor_name: str  # Dbtr/Nm
    debtor_account: str  # DbtrAcct/Id/Othr/Id
    debtor_branch_code: str  # DbtrAgt/FinInstnId/ClrSysMmbId/MmbId
    transfers: tuple[CreditTransfer, ...]

    def __post_init__(self) -> None:
        check_identifier(self.pmt_inf_id, "PmtInfId")
        if not isinstance(self.execution_date, date) or isinstance(self.execution_date, datetime):
            raise ValueError(f"execution date of {self.pmt_inf_id} must be a date")
        check_text(self.debtor_name, "debtor name")
        check_account(self.debtor_account, "debtor account")
        check_branch_code(self.debtor_branch_code, "debtor branch")
        if not isinstance(self.transfers, tuple) or not self.transfers:
            raise ValueError(f"payment block {self.pmt_inf_id} needs a non-empty tuple of transfers")
        if self.ctrl_sum_fen > MAX_FEN:
            raise ValueError(f"control sum of {self.pmt_inf_id} exceeds 18 digits")

    @property
    def nb_of_txs(self) -> int:
        return len(self.transfers)

    @property
    def ctrl_sum_fen(self) -> int:
        return sum(t.amount_fen for t in self.transfers)


@dataclass(frozen=True, slots=True)
class BankFile:
    """One pain.001 file: one bank, one execution date (payments.md), one or more payment blocks."""

    msg_id: str  # GrpHdr/MsgId
    created_at: datetime  # GrpHdr/CreDtTm, timezone-aware (stored with the file: same bytes on retry)
    initiating_party: str  # GrpHdr/InitgPty/Nm
    blocks: tuple[PaymentBlock, ...]

    def __post_init__(self) -> None:
        check_identifier(self.msg_id, "MsgId")
        offset = self.created_at.utcoffset() if isinstance(self.created_at, datetime) else None
        if offset is None or offset.total_seconds() % 60:
            raise ValueError("created_at must be a timezone-aware datetime (offset in whole minutes)")
        check_text(self.initiating_party, "initiating party")
        if not isinstance(self.blocks, tuple) or not self.blocks:
            raise ValueError("a bank file needs a non-empty tuple of payment blocks")
        pmt_ids = [b.pmt_inf_id for b in self.blocks]
        if len(set(pmt_ids)) != len(pmt_ids):
            raise ValueError(f"duplicate PmtInfId in {self.msg_id}")
        e2e = [t.end_to_end_id for t in self.transfers()]
        if len(set(e2e)) != len(e2e):
            raise ValueError(f"duplicate EndToEndId in {self.msg_id}")
        if self.ctrl_sum_fen > MAX_FEN:
            raise ValueError(f"control sum of {self.msg_id} exceeds 18 digits")

    def transfers(self) -> Iterator[CreditTransfer]:
        for block in self.blocks:
            yield from block.transfers

    @property
    def nb_of_txs(self) -> int:
        return sum(b.nb_of_txs for b in self.blocks)

    @property
    def ctrl_sum_fen(self) -> int:
        return sum(b.ctrl_sum_fen for b in self.blocks)
