"""A bank-file snapshot refuses what the XSD or the bank would refuse, before any XML exists."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from mianshen.payments.formats import (
    BankFile,
    CreditTransfer,
    PaymentBlock,
    parse_remittance,
    remittance_text,
)

from .builders import bank_file, transfer


@pytest.mark.parametrize("bad", ["", "A" * 36, "has space", "下划线", "a_b", "a/b", "é"])
def test_identifiers_are_35_chars_of_a_safe_alphabet(bad: str) -> None:
    with pytest.raises(ValueError, match=r"\[A-Za-z0-9-\]"):
        replace(transfer(1), end_to_end_id=bad)
    with pytest.raises(ValueError, match="MsgId"):
        replace(bank_file(), msg_id=bad)


def test_identifier_of_35_chars_is_fine() -> None:
    assert replace(transfer(1), end_to_end_id="A" * 35).end_to_end_id == "A" * 35


@pytest.mark.parametrize("bad", ["10210000001", "1021000000171", "10210000001X", "１０２１０００００００１"])
def test_branch_code_is_12_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="12-digit"):
        replace(transfer(1), creditor_branch_code=bad)


def test_names_over_140_characters_are_refused_not_truncated() -> None:
    assert replace(transfer(1), creditor_name="名" * 140).creditor_name == "名" * 140
    with pytest.raises(ValueError, match="141 characters, more than 140: refused, not truncated"):
        replace(transfer(1), creditor_name="名" * 141)


@pytest.mark.parametrize("bad", ["", "   ", " 前导空格", "尾随空格 ", "控制\x01字符", "换\n行", "\ud800"])
def test_names_must_be_printable_and_trimmed(bad: str) -> None:
    with pytest.raises(ValueError):
        replace(transfer(1), creditor_name=bad)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, 10**18])
def test_amount_is_positive_integer_fen(bad: object) -> None:
    with pytest.raises(ValueError):
        replace(transfer(1), amount_fen=bad)  # type: ignore[arg-type]


def test_account_is_not_an_iban_but_letters_and_digits() -> None:
    with pytest.raises(ValueError):
        replace(transfer(1), creditor_account="6222 0202")
    with pytest.raises(ValueError):
        replace(transfer(1), creditor_account="1" * 35)


def test_file_level_checks() -> None:
    f = bank_file(2)
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(f, created_at=datetime(2026, 11, 30, 9))
    with pytest.raises(ValueError, match="duplicate EndToEndId"):
        replace(f, blocks=(replace(f.blocks[0], transfers=(transfer(1), transfer(1))),))
    with pytest.raises(ValueError, match="duplicate PmtInfId"):
        replace(f, blocks=(f.blocks[0], f.blocks[0]))
    with pytest.raises(ValueError, match="non-empty"):
        replace(f, blocks=())
    with pytest.raises(ValueError, match="non-empty"):
        replace(f.blocks[0], transfers=())
    with pytest.raises(ValueError, match="must be a date"):
        replace(f.blocks[0], execution_date=datetime(2026, 12, 1))


def test_totals() -> None:
    f = bank_file(5, blocks=2)
    assert f.nb_of_txs == 5 == sum(b.nb_of_txs for b in f.blocks)
    assert f.ctrl_sum_fen == sum(t.amount_fen for t in f.transfers())
    assert isinstance(f.blocks[0], PaymentBlock) and isinstance(f, BankFile)
    assert isinstance(next(f.transfers()), CreditTransfer)
    assert f.blocks[0].execution_date == date(2026, 12, 1)


def test_remittance_text_round_trip() -> None:
    text = remittance_text("C2026-1", "91110108MA01ABCD2X")
    assert text == "稳岗返还/C2026-1/91110108MA01ABCD2X"
    assert parse_remittance(text) == ("C2026-1", "91110108MA01ABCD2X")
    assert parse_remittance("something else") is None
    with pytest.raises(ValueError, match="USCC"):
        remittance_text("C1", "91110108MA01ABCDIO")
