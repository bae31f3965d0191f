"""Integer fen <-> decimal text, exactly, never through a float."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mianshen.payments.formats import BadMessage, fen_to_text, text_to_fen
from mianshen.payments.formats.amounts import MAX_FEN, check_currency


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (99, "0.99"),
        (100, "1.00"),
        (12345, "123.45"),
        (9_999_999_999, "99999999.99"),
    ],
)
def test_fen_to_text(fen: int, text: str) -> None:
    assert fen_to_text(fen) == text
    assert text_to_fen(text) == fen


@pytest.mark.parametrize(
    ("text", "fen"), [("1", 100), ("1.5", 150), ("+2.", 200), (".05", 5), (" 007.10 ", 710), ("0", 0)]
)
def test_text_to_fen_accepts_decimal_forms(text: str, fen: int) -> None:
    assert text_to_fen(text) == fen


@pytest.mark.parametrize("text", ["1.001", "0.000", "12.345"])
def test_more_than_two_decimals_is_refused(text: str) -> None:
    with pytest.raises(BadMessage, match="more than 2 decimals"):
        text_to_fen(text, where="Ntry/Amt")


@pytest.mark.parametrize("text", ["", "-1.00", "1e3", "1,00", "abc", ".", "NaN", "1.2.3", None])
def test_not_a_decimal_is_refused(text: str | None) -> None:
    with pytest.raises(BadMessage):
        text_to_fen(text)


def test_fen_to_text_refuses_floats_bools_and_negatives() -> None:
    with pytest.raises(TypeError):
        fen_to_text(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fen_to_text(True)
    with pytest.raises(ValueError):
        fen_to_text(-1)
    with pytest.raises(ValueError):
        fen_to_text(MAX_FEN + 1)


def test_currency_must_be_cny() -> None:
    check_currency("CNY", where="x")
    with pytest.raises(BadMessage, match="'USD' is not supported"):
        check_currency("USD", where="Ntry/Amt")


@given(st.integers(min_value=0, max_value=MAX_FEN))
def test_round_trip(fen: int) -> None:
    assert text_to_fen(fen_to_text(fen)) == fen
