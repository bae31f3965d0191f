"""Bank profiles, account fate and the simulator's deterministic dice (no clock, no global random state).

Every outcome is a pure function of the seed and the payment's own data: ``roll(seed, *parts)`` hashes them to a
number in ``[0, 10000)`` (per ten-thousand), so the same seed and the same files always give the same answers.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

Fate = Callable[[str], str | None]
"""``fate(account_no) -> reason code or None``: how the bank treats an account (AC01 wrong, AC04 closed, …)."""


def roll(seed: int, *parts: object) -> int:
    """A number in ``[0, 10000)`` from the seed and ``parts`` (stable across runs and Python versions)."""
    text = "\x1f".join([str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % 10_000


@dataclass(frozen=True, slots=True)
class BankProfile:
    """How one simulated bank behaves. Rates are per mille (‰) and decided by :func:`roll`."""

    code: str  # 3-digit CNAPS bank code; also the folder name under the simulator's root
    name: str = ""
    reports_only_rejects: bool = False  # pain.002 lists only RJCT lines (group ACCP / PART)
    technical_ack: bool = False  # send a group-level ACTC report as soon as a file passes the XSD
    silence_per_mille: int = 0  # a received file is lost: no answer, nothing booked
    blocked_per_mille: int = 3  # AC06 for an accepted-looking payment
    return_per_mille: int = 5  # a settled payment comes back days later (camt.054 with RtrInf)
    return_after_days: tuple[int, int] = (1, 5)  # business days after booking, inclusive range

    def __post_init__(self) -> None:
        if len(self.code) != 3 or not self.code.isdigit():
            raise ValueError(f"bank code must be 3 digits: {self.code!r}")
        lo, hi = self.return_after_days
        if not 1 <= lo <= hi:
            raise ValueError("return_after_days must be (lo, hi) with 1 <= lo <= hi")


# The banks of payments.md: 16 cooperating ones plus 314 and 402 (paid in the later batch).
DEFAULT_PROFILES: dict[str, BankProfile] = {
    p.code: p
    for p in (
        BankProfile("102", "中国工商银行", technical_ack=True),
        BankProfile("103", "中国农业银行"),
        BankProfile("104", "中国银行", technical_ack=True),
        BankProfile("105", "中国建设银行"),
        BankProfile("301", "交通银行"),
        BankProfile("302", "中信银行"),
        BankProfile("303", "中国光大银行"),
        BankProfile("304", "华夏银行"),
        BankProfile("305", "中国民生银行", silence_per_mille=20),
        BankProfile("306", "广发银行"),
        BankProfile("307", "平安银行"),
        BankProfile("308", "招商银行", technical_ack=True),
        BankProfile("309", "兴业银行"),
        BankProfile("310", "上海浦东发展银行"),
        BankProfile("313", "城市商业银行", reports_only_rejects=True),
        BankProfile("314", "农村商业银行", reports_only_rejects=True, silence_per_mille=30),
        BankProfile("402", "农村信用合作社", reports_only_rejects=True, silence_per_mille=50),
        BankProfile("403", "中国邮政储蓄银行"),
    )
}

FATE_CODES = ("AC01", "AC04", "BE01")


@dataclass(frozen=True, slots=True)
class HashFate:
    """The default fate when the data generator offers none: ~1 % AC01, 0.5 % AC04, 0.5 % BE01 per account."""

    seed: int
    ac01_per_mille: int = 10
    ac04_per_mille: int = 5
    be01_per_mille: int = 5

    def __call__(self, account_no: str) -> str | None:
        r = roll(self.seed, "fate", account_no)
        for code, rate in zip(
            FATE_CODES, (self.ac01_per_mille, self.ac04_per_mille, self.be01_per_mille), strict=True
        ):
            if r < rate * 10:
                return code
            r -= rate * 10
        return None


def resolve_fate(seed: int, fate: Fate | None = None) -> Fate:
    """``fate`` if given; else the data generator's ``account_fate`` (so failures follow the demo data) if it
    exists; else :class:`HashFate`."""
    if fate is not None:
        return fate
    try:
        module = importlib.import_module("mianshen.datadrop.generate")
    except ImportError:
        return HashFate(seed)
    found = getattr(module, "account_fate", None)
    return found if callable(found) else HashFate(seed)


def business_day_on_or_after(day: date, holidays: frozenset[date] = frozenset()) -> date:
    while day.weekday() >= 5 or day in holidays:
        day += timedelta(days=1)
    return day


def add_business_days(day: date, n: int, holidays: frozenset[date] = frozenset()) -> date:
    for _ in range(n):
        day = business_day_on_or_after(day + timedelta(days=1), holidays)
    return day
