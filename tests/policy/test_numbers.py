"""Exact numbers: ratio text <-> basis points, half-up rounding, the contract's decimal formats."""

from __future__ import annotations

import pytest

from mianshen.policy import numbers as N
from mianshen.policy import reference


@pytest.mark.parametrize(
    ("text", "bp"), [("0.06", 600), ("0.055", 550), ("0.20", 2000), ("0.3", 3000), ("1.00", 10000), ("0", 0)]
)
def test_parse_bp(text: str, bp: int) -> None:
    assert N.parse_bp(text) == bp


@pytest.mark.parametrize("text", ["0.00005", "6%", "-0.06", "1e-2", "", ".5", "0,06", "０.06"])
def test_parse_bp_refuses(text: str) -> None:
    with pytest.raises(N.NumberError):
        N.parse_bp(text)


@pytest.mark.parametrize(
    ("bp", "text"),
    [
        (600, "0.06"),
        (550, "0.055"),
        (2000, "0.20"),
        (3000, "0.30"),
        (5000, "0.50"),
        (9000, "0.90"),
        (10000, "1.00"),
        (1, "0.0001"),
        (12345, "1.2345"),
        (0, "0.00"),
    ],
)
def test_format_bp(bp: int, text: str) -> None:
    assert N.format_bp(bp) == text
    assert reference.decimal_text(bp) == text


@pytest.mark.parametrize(
    ("value", "text"), [(711, "0.0711"), (0, "0.0000"), (10000, "1.0000"), (600, "0.0600")]
)
def test_format_e4(value: int, text: str) -> None:
    assert N.format_e4(value) == text


def test_percentages() -> None:
    assert [N.percent_bp(b) for b in (600, 550, 2000, 10000, 5)] == ["6%", "5.5%", "20%", "100%", "0.05%"]
    assert [N.percent_e4(v) for v in (711, 0, 10000, 5)] == ["7.11%", "0.00%", "100.00%", "0.05%"]


@pytest.mark.parametrize(
    ("n", "d", "q"), [(1, 2, 1), (1, 3, 0), (2, 3, 1), (18 * 10000, 253, 711), (5, 10, 1)]
)
def test_half_up_div(n: int, d: int, q: int) -> None:
    assert N.half_up_div(n, d) == q


def test_amount_rounding() -> None:
    assert [
        reference.amount_fen(b, r) for b, r in ((12345, 3000), (5001, 6000), (12344, 6000), (1, 3000))
    ] == [
        3704,
        3001,
        7406,
        0,
    ]
    assert reference.layoff_rate_e4(253, 18) == 711
    assert reference.layoff_rate_e4(0, 0) == 0
    assert reference.layoff_rate_e4(20000, 1) == 1  # 0.00005 -> half up
