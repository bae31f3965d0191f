"""Money in bank files: integer fen in, decimal text with exactly two places out, and back.

No float is ever involved: ``123.45`` is read by splitting the string, and written from ``fen // 100`` and
``fen % 100``. Used for ``Amt/InstdAmt``, ``CtrlSum`` (pain.001), ``Ntry/Amt`` and ``TxDtls/Amt`` (camt.054).

This is the ISO 20022 wire format (``xs:decimal``: no thousands separators, no sign, no currency symbol), not
text for people: that is ``mianshen.core.money.format_yuan`` (``1,234.56``), deliberately a different function.
"""

from __future__ import annotations

import re

from .errors import BadMessage

CURRENCY = "CNY"

# xs:decimal lexical space (whitespace collapsed), non-negative: "12", "12.3", "12.34", "+12.", ".5"
_DECIMAL = re.compile(r"\+?([0-9]*)(?:\.([0-9]*))?")
# totalDigits 18 in ActiveOrHistoricCurrencyAndAmount_SimpleType and DecimalNumber: fen must stay below 10**18
MAX_FEN = 10**18 - 1


def fen_to_text(fen: int) -> str:
    """``12345`` -> ``"123.45"``; refuses negatives, bools and anything that is not an ``int``."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"amount must be integer fen, got {type(fen).__name__}")
    if fen < 0 or fen > MAX_FEN:
        raise ValueError(f"amount out of range: {fen} fen")
    return f"{fen // 100}.{fen % 100:02d}"


def text_to_fen(text: str | None, *, where: str = "amount") -> int:
    """``"123.45"`` -> ``12345`` exactly. Refuses more than two decimals, signs other than ``+``, exponents.

    Raises :class:`BadMessage` (code FF01) with ``where`` (the element path) in the reason.
    """
    raw = (text or "").strip()
    m = _DECIMAL.fullmatch(raw)
    if not raw or m is None or (not m.group(1) and not m.group(2)):
        raise BadMessage(f"{where}: not a decimal amount: {raw[:40]!r}", reason_code="FF01")
    whole, frac = m.group(1) or "0", m.group(2) or ""
    if len(frac) > 2:
        raise BadMessage(
            f"{where}: {raw!r} has more than 2 decimals; CNY amounts are whole fen", reason_code="FF01"
        )
    if len(whole.lstrip("0")) > 16:
        raise BadMessage(f"{where}: {raw[:40]!r} is too large", reason_code="FF01")
    return int(whole) * 100 + int(frac.ljust(2, "0"))


def check_currency(ccy: str | None, *, where: str) -> None:
    """Every amount we send or accept is in CNY (the ``Ccy`` attribute)."""
    if ccy != CURRENCY:
        raise BadMessage(f"{where}: currency {ccy!r} is not supported (only {CURRENCY})", reason_code="FF01")
