"""The agency's payment configuration, with working defaults for the demo (payments.md, "Configuration").

Nothing here is read at import time. The bank registry and the holiday calendar are database tables
(:class:`~mianshen.payments.models.Bank`, :class:`~mianshen.payments.models.Holiday`) seeded from
:data:`DEFAULT_BANKS` by migration; everything else comes from the environment at call time, with defaults:

==============================  ===========================================  ==============================
variable                        meaning                                      default
==============================  ===========================================  ==============================
``MIANSHEN_FUND_NAME``          ``Dbtr/Nm``: the fund's account holder       北京市社会保险基金管理中心
``MIANSHEN_FUND_ACCOUNT``       ``DbtrAcct/Id/Othr/Id``                      0200000109000100001
``MIANSHEN_FUND_BRANCH``        ``DbtrAgt`` CNAPS bank number (12 digits)    102100000018
``MIANSHEN_INITIATING_PARTY``   ``GrpHdr/InitgPty/Nm``                       北京市人力资源和社会保障局
``MIANSHEN_PAYMENT_ID_PREFIX``  first part of every MsgId / EndToEndId       MS
``MIANSHEN_HOLIDAYS``           extra holidays: a file of ISO dates, or a    (none)
                                comma-separated list
``MIANSHEN_BANK_DIR``           the exchange folder (``<bank>/inbox|outbox``)  ``$MIANSHEN_VAR_DIR/bank``
``MIANSHEN_INBOUND_MAX_BYTES``  largest bank file accepted                   100 MB
``MIANSHEN_UPLOAD_LEASE_SECONDS``  how long a hand-over claim holds before     900 (15 minutes)
                                another process may take it over
==============================  ===========================================  ==============================
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from .formats.types import check_account, check_branch_code, check_text


@dataclass(frozen=True, slots=True)
class BankDefault:
    code: str  # 3-digit CNAPS bank code
    name: str
    cooperating: bool  # paid in the first batch
    reports_only_rejects: bool = False  # pain.002 lists only RJCT lines: silence on a line means accepted
    silence_days: int = 2  # working days without an answer before "no answer"


# payments.md: 16 cooperating banks; 314 and 402 are paid in a later batch.
DEFAULT_BANKS: tuple[BankDefault, ...] = (
    BankDefault("102", "中国工商银行", True),
    BankDefault("103", "中国农业银行", True),
    BankDefault("104", "中国银行", True),
    BankDefault("105", "中国建设银行", True),
    BankDefault("301", "交通银行", True),
    BankDefault("302", "中信银行", True),
    BankDefault("303", "中国光大银行", True),
    BankDefault("304", "华夏银行", True),
    BankDefault("305", "中国民生银行", True),
    BankDefault("306", "广发银行", True),
    BankDefault("307", "平安银行", True),
    BankDefault("308", "招商银行", True),
    BankDefault("309", "兴业银行", True),
    BankDefault("310", "上海浦东发展银行", True),
    BankDefault("313", "城市商业银行", True, reports_only_rejects=True),
    BankDefault("403", "中国邮政储蓄银行", True),
    BankDefault("314", "农村商业银行", False, reports_only_rejects=True),
    BankDefault("402", "农村信用合作社", False, reports_only_rejects=True),
)

DEFAULT_FUND_NAME = "北京市社会保险基金管理中心"
DEFAULT_FUND_ACCOUNT = "0200000109000100001"
DEFAULT_FUND_BRANCH = "102100000018"
DEFAULT_INITIATING_PARTY = "北京市人力资源和社会保障局"
DEFAULT_PREFIX = "MS"
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_UPLOAD_LEASE_SECONDS = 15 * 60
_PREFIX_RE = re.compile(r"[A-Za-z0-9]{1,6}")


@dataclass(frozen=True, slots=True)
class FundAccount:
    """The debtor of every file: the fund's account, its bank and the initiating party's name."""

    name: str
    account: str
    branch_code: str
    initiating_party: str


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def fund_account() -> FundAccount:
    """The configured fund account (environment at call time, else the demo defaults); checked like a file."""
    fund = FundAccount(
        name=_env("MIANSHEN_FUND_NAME", DEFAULT_FUND_NAME),
        account=_env("MIANSHEN_FUND_ACCOUNT", DEFAULT_FUND_ACCOUNT),
        branch_code=_env("MIANSHEN_FUND_BRANCH", DEFAULT_FUND_BRANCH),
        initiating_party=_env("MIANSHEN_INITIATING_PARTY", DEFAULT_INITIATING_PARTY),
    )
    check_text(fund.name, "MIANSHEN_FUND_NAME")
    check_account(fund.account, "MIANSHEN_FUND_ACCOUNT")
    check_branch_code(fund.branch_code, "MIANSHEN_FUND_BRANCH")
    check_text(fund.initiating_party, "MIANSHEN_INITIATING_PARTY")
    return fund


def id_prefix() -> str:
    """The first part of our MsgId / PmtInfId / EndToEndId (1–6 letters or digits)."""
    prefix = _env("MIANSHEN_PAYMENT_ID_PREFIX", DEFAULT_PREFIX)
    if _PREFIX_RE.fullmatch(prefix) is None:
        raise ValueError(f"MIANSHEN_PAYMENT_ID_PREFIX must be 1-6 letters or digits: {prefix!r}")
    return prefix


def bank_dir() -> Path:
    """The folder exchanged with the banks (the simulator's root in the demo)."""
    configured = os.environ.get("MIANSHEN_BANK_DIR", "").strip()
    if configured:
        return Path(configured)
    from django.conf import settings

    return Path(settings.VAR_DIR) / "bank"


def inbound_max_bytes() -> int:
    return int(_env("MIANSHEN_INBOUND_MAX_BYTES", str(DEFAULT_MAX_BYTES)))


def upload_lease() -> timedelta:
    """How long a claim to hand a file over holds (longer than the slowest hand-over of the largest file)."""
    text = _env("MIANSHEN_UPLOAD_LEASE_SECONDS", str(DEFAULT_UPLOAD_LEASE_SECONDS))
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"MIANSHEN_UPLOAD_LEASE_SECONDS must be a whole number of seconds, at least 1: {text!r}"
        )
    return timedelta(seconds=int(text))


def parse_holidays(text: str) -> frozenset[date]:
    """ISO dates separated by commas, blanks or new lines; ``#`` starts a comment. ``ValueError`` if bad."""
    days = set()
    for line in text.splitlines():
        for item in re.split(r"[,\s]+", line.split("#", 1)[0]):
            if item:
                days.add(date.fromisoformat(item))
    return frozenset(days)


def env_holidays() -> frozenset[date]:
    """``$MIANSHEN_HOLIDAYS``: a path to a file of dates, or the dates themselves."""
    configured = os.environ.get("MIANSHEN_HOLIDAYS", "").strip()
    if not configured:
        return frozenset()
    path = Path(configured)
    return parse_holidays(path.read_text(encoding="utf-8") if path.is_file() else configured)


def is_working_day(day: date, holidays: Iterable[date] = ()) -> bool:
    return day.weekday() < 5 and day not in set(holidays)


def next_working_day(day: date, holidays: frozenset[date] = frozenset()) -> date:
    """The first working day strictly after ``day`` (weekends and holidays skipped)."""
    day += timedelta(days=1)
    while day.weekday() >= 5 or day in holidays:
        day += timedelta(days=1)
    return day


def add_working_days(day: date, n: int, holidays: frozenset[date] = frozenset()) -> date:
    for _ in range(n):
        day = next_working_day(day, holidays)
    return day
