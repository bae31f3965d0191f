"""The one money formatter for people (core.money): integer fen in, exact text out, and back."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mianshen.core.money import MoneyTextError, format_yuan, parse_yuan

UNITS = ("none", "symbol", "suffix")
FEN = st.integers(min_value=-(10**30), max_value=10**30)


@pytest.mark.parametrize(
    ("fen", "plain", "symbol", "suffix"),
    [
        (0, "0.00", "¥0.00", "0.00 元"),
        (5, "0.05", "¥0.05", "0.05 元"),
        (99, "0.99", "¥0.99", "0.99 元"),
        (100, "1.00", "¥1.00", "1.00 元"),
        (123456, "1,234.56", "¥1,234.56", "1,234.56 元"),
        (98200000000, "982,000,000.00", "¥982,000,000.00", "982,000,000.00 元"),
        (-5, "-0.05", "-¥0.05", "-0.05 元"),
        (-150, "-1.50", "-¥1.50", "-1.50 元"),
        (-123456789, "-1,234,567.89", "-¥1,234,567.89", "-1,234,567.89 元"),
        (10**17 + 1, "1,000,000,000,000,000.01", "¥1,000,000,000,000,000.01", "1,000,000,000,000,000.01 元"),
    ],
)
def test_examples(fen: int, plain: str, symbol: str, suffix: str) -> None:
    assert format_yuan(fen) == plain
    assert format_yuan(fen, unit="none") == plain
    assert format_yuan(fen, unit="symbol") == symbol
    assert format_yuan(fen, unit="suffix") == suffix


@pytest.mark.parametrize("bad", [1.5, 1.0, Decimal("1.50"), True, False, "150", None])
def test_refuses_anything_but_integer_fen(bad: object) -> None:
    with pytest.raises(TypeError):
        format_yuan(bad)  # type: ignore[arg-type]


def test_refuses_an_unknown_unit() -> None:
    with pytest.raises(ValueError, match="unit"):
        format_yuan(1, unit="yen")  # type: ignore[arg-type]


@given(fen=FEN, unit=st.sampled_from(UNITS))
@example(fen=0, unit="symbol")
@example(fen=-1, unit="suffix")
@example(fen=10**30, unit="none")
def test_round_trip(fen: int, unit: str) -> None:
    assert parse_yuan(format_yuan(fen, unit=unit)) == fen  # type: ignore[arg-type]


@given(fen=FEN)
def test_the_text_is_the_integer_written_out(fen: int) -> None:
    """Independently of the formatter's arithmetic: the digits of ``abs(fen)``, padded to three, with a dot
    before the last two and a comma every three digits of the whole part; one minus sign first when negative."""
    text = format_yuan(fen)
    digits = str(abs(fen)).rjust(3, "0")
    assert text.replace("-", "").replace(",", "").replace(".", "") == digits
    assert text.startswith("-") == (fen < 0) and text.count("-") == (1 if fen < 0 else 0)
    assert re.fullmatch(r"-?[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2}", text)
    assert format_yuan(-fen) == (text[1:] if fen < 0 else ("-" + text if fen else text))


@given(a=FEN, b=FEN)
def test_order_and_sign_are_kept(a: int, b: int) -> None:
    """The one sign convention for every unit: the minus sign first, before ¥."""
    for unit in UNITS:
        ta, tb = format_yuan(a, unit=unit), format_yuan(b, unit=unit)  # type: ignore[arg-type]
        assert (ta == tb) == (a == b)
        assert ta.startswith("-") == (a < 0)
    assert not format_yuan(a, unit="symbol").startswith("¥-")


@pytest.mark.parametrize(
    "bad",
    ["", "1", "1.5", "1.505", "1234.56", "1,23.45", "01.00", "-0.00", "¥-1.00", "+1.00", "1,234.56元",
     "¥1.00 元", " 1.00", "1.00 ", "1e3", "１.００", "-", "¥", "1,000,0.00", None, 100],
)  # fmt: skip
def test_parse_refuses_what_the_formatter_never_writes(bad: object) -> None:
    with pytest.raises(MoneyTextError):
        parse_yuan(bad)  # type: ignore[arg-type]


@given(text=st.text(alphabet="0123456789,.-¥ 元", max_size=20))
def test_parse_accepts_exactly_the_formatters_texts(text: str) -> None:
    try:
        fen = parse_yuan(text)
    except MoneyTextError:
        return
    assert text in {format_yuan(fen, unit=u) for u in UNITS}  # type: ignore[arg-type]
