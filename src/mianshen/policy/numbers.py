"""Exact numbers of the policy: ratios in basis points, money in fen, every rounding explicit.

A ratio is an ``int`` number of basis points (1 bp = 0.0001): ``0.06`` is 600, ``0.055`` is 550. Text such as
``"0.055"`` is parsed exactly (no binary fraction is ever involved) and refused when it does not fall on a whole
basis point. Money is an ``int`` number of fen. The only rounding is half-up, written out in integers. Money as
text for people is ``mianshen.core.money.format_yuan`` (the one formatter).
"""

from __future__ import annotations

import re
from fractions import Fraction

BP = 10_000  # basis points in 1
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


class NumberError(ValueError):
    """A value that is not an exact number of the expected shape (one line, for the user)."""


def parse_bp(text: str) -> int:
    """``"0.055"`` -> 550. Plain decimal text only (no sign, exponent or percent); whole basis points only."""
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text.strip()):
        raise NumberError(f"{text!r} is not a plain decimal number such as 0.06")
    scaled = Fraction(text.strip()) * BP
    if scaled.denominator != 1:
        raise NumberError(f"{text!r} is finer than a basis point (0.0001)")
    return int(scaled)


def parse_count(text: str) -> int:
    """``"30"`` -> 30. Plain ASCII digits only."""
    if not isinstance(text, str) or not text.strip().isascii() or not text.strip().isdigit():
        raise NumberError(f"{text!r} is not a whole number such as 30")
    return int(text.strip())


def half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for ``numerator >= 0 < denominator``."""
    return (2 * numerator + denominator) // (2 * denominator)


def format_bp(bp: int) -> str:
    """A ratio as a decimal with at least two decimals and no trailing zeros beyond them (contracts §2.2).

    600 -> ``0.06``, 550 -> ``0.055``, 2000 -> ``0.20``, 10000 -> ``1.00``.
    """
    whole, frac = divmod(bp, BP)
    digits = f"{frac:04d}".rstrip("0").ljust(2, "0")
    return f"{whole}.{digits}"


def format_e4(value_e4: int) -> str:
    """A number held in units of 0.0001 with exactly four decimals: 711 -> ``0.0711``."""
    whole, frac = divmod(value_e4, BP)
    return f"{whole}.{frac:04d}"


def percent_bp(bp: int) -> str:
    """A ratio as a percentage without trailing zeros: 600 -> ``6%``, 550 -> ``5.5%``, 2000 -> ``20%``."""
    whole, frac = divmod(bp, 100)
    digits = f"{frac:02d}".rstrip("0")
    return f"{whole}.{digits}%" if digits else f"{whole}%"


def percent_e4(value_e4: int) -> str:
    """A rate held in units of 0.0001 as a percentage with two decimals: 711 -> ``7.11%``."""
    whole, frac = divmod(value_e4, 100)
    return f"{whole}.{frac:02d}%"


_YUAN = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


def parse_fen(text: str) -> int:
    """An amount in yuan as plain decimal text -> integer fen: ``"500"`` -> 50000, ``"12.5"`` -> 1250.

    At most two decimals (a fen is the smallest unit): nothing is rounded."""
    if not isinstance(text, str) or not _YUAN.fullmatch(text.strip()):
        raise NumberError(f"{text!r} is not an amount in yuan such as 500 or 12.50")
    whole, _, frac = text.strip().partition(".")
    return int(whole) * 100 + int(frac.ljust(2, "0") or "0")
