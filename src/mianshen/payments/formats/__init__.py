"""ISO 20022 bank files, pure and database-free: pain.001.001.09 out; pain.002 (.03, .12) and camt.054 (.02, .08)
in; the official XSDs in ``xsd/`` (sources and SHA-256 in ``xsd/SOURCES.md``); one hardened XML parser.

Renderers are pure functions of frozen snapshots (same input, same bytes); parsers return frozen dataclasses
and raise :class:`BadMessage` (or :class:`UnsafeXml` / :class:`SchemaInvalid`) with a one-line reason.
"""

from .amounts import fen_to_text, text_to_fen
from .camt054 import AccountNotification, Entry, EntryTransaction, Notification, parse_camt054, render_camt054
from .errors import BadMessage, SchemaInvalid, UnsafeXml
from .pain001 import parse_pain001, render_pain001, sha256_hex
from .pain002 import (
    PaymentBlockStatus,
    StatusReason,
    StatusReport,
    TransactionStatus,
    parse_pain002,
    render_pain002,
)
from .safexml import parse_xml
from .schemas import CAMT054_V02, CAMT054_V08, PAIN001, PAIN002_V03, PAIN002_V12, validate
from .types import BankFile, CreditTransfer, PaymentBlock, parse_remittance, remittance_text

__all__ = [
    "CAMT054_V02",
    "CAMT054_V08",
    "PAIN001",
    "PAIN002_V03",
    "PAIN002_V12",
    "AccountNotification",
    "BadMessage",
    "BankFile",
    "CreditTransfer",
    "Entry",
    "EntryTransaction",
    "Notification",
    "PaymentBlock",
    "PaymentBlockStatus",
    "SchemaInvalid",
    "StatusReason",
    "StatusReport",
    "TransactionStatus",
    "UnsafeXml",
    "fen_to_text",
    "parse_camt054",
    "parse_pain001",
    "parse_pain002",
    "parse_remittance",
    "parse_xml",
    "remittance_text",
    "render_camt054",
    "render_pain001",
    "render_pain002",
    "sha256_hex",
    "text_to_fen",
    "validate",
]
