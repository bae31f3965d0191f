"""Money for people: integer fen as yuan text, and back. The one formatter of the project.

Money is an ``int`` number of fen everywhere (no float, no Decimal); this module only turns it into the text a
person reads and parses that text back exactly. One sign convention: the minus sign comes first, before any
currency symbol (``-1,234.56``, ``-¥1,234.56``, ``-1,234.56 元``); zero has no sign.

- ``format_yuan(123456)`` → ``1,234.56`` (tables, CSV-like reports, the back office's ``fen_yuan`` filter);
- ``format_yuan(123456, unit="symbol")`` → ``¥1,234.56`` (command-line lines and the demo);
- ``format_yuan(123456, unit="suffix")`` → ``1,234.56 元`` (a sentence in Chinese).

``parse_yuan`` reads every one of these back to the same fen: ``parse_yuan(format_yuan(f, unit=u)) == f``.

Not here: the ISO 20022 wire amount of a pain.001 file (``payments/formats``: ``1234.56``, no separators, no
sign, a dot always) is a bank format, not text for people; it has its own writer and reader there.
"""

from __future__ import annotations

import re
from typing import Literal

Unit = Literal["none", "symbol", "suffix"]

SYMBOL = "¥"
SUFFIX = " 元"

_TEXT = re.compile(r"(-?)(¥?)([0-9]{1,3}(?:,[0-9]{3})*)\.([0-9]{2})((?: 元)?)")


class MoneyTextError(ValueError):
    """Text that is not an amount written as ``format_yuan`` writes it (one line, for the user)."""


def format_yuan(fen: int, *, unit: Unit = "none") -> str:
    """Integer fen as yuan with thousands separators and two decimals, by integer arithmetic only.

    ``123456`` → ``1,234.56``; ``-5`` → ``-0.05``; ``0`` → ``0.00``. ``unit="symbol"`` puts ``¥`` after the
    sign (``-¥0.05``); ``unit="suffix"`` appends `` 元``. Anything but an ``int`` (a ``bool``, a float, a
    Decimal) is refused with ``TypeError``: money is never a binary fraction here.
    """
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"format_yuan takes integer fen, not {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    if unit == "symbol":
        return f"{sign}{SYMBOL}{whole:,}.{cents:02d}"
    if unit == "suffix":
        return f"{sign}{whole:,}.{cents:02d}{SUFFIX}"
    if unit == "none":
        return f"{sign}{whole:,}.{cents:02d}"
    raise ValueError(f"unit must be 'none', 'symbol' or 'suffix', not {unit!r}")


def parse_yuan(text: str) -> int:
    """The fen of an amount as ``format_yuan`` writes it (any ``unit``): ``"-¥1,234.56"`` → ``-123456``.

    Exact and strict: two decimals, thousands separators in their places, the sign first; ``"-0.00"`` is
    refused (zero has no sign). Anything else raises ``MoneyTextError``.
    """
    m = _TEXT.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise MoneyTextError(f"{text!r} is not an amount in yuan such as 1,234.56")
    sign, symbol, whole, cents, suffix = m.groups()
    if symbol and suffix:
        raise MoneyTextError(f"{text!r}: either ¥ before or 元 after, not both")
    if whole != "0" and whole.startswith("0"):
        raise MoneyTextError(f"{text!r} has a leading zero")
    fen = int(whole.replace(",", "")) * 100 + int(cents)
    if sign and fen == 0:
        raise MoneyTextError(f"{text!r}: zero has no sign")
    return -fen if sign else fen
