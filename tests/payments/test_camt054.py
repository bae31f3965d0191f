"""camt.054 .001.02 and .001.08: bookings and returns read to integer fen, exactly."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from mianshen.payments.formats import (
    CAMT054_V02,
    CAMT054_V08,
    AccountNotification,
    BadMessage,
    Entry,
    EntryTransaction,
    Notification,
    parse_camt054,
    render_camt054,
    validate,
)

from .builders import CST, FIXTURES


def notification(version: str = CAMT054_V08) -> Notification:
    at = datetime(2026, 12, 2, 17, tzinfo=CST)
    debit = Entry(
        amount_fen=234560,
        credit_debit="DBIT",
        status="BOOK",
        booking_date=date(2026, 12, 2),
        entry_ref="1",
        bank_tx_code=("PMNT", "ICDT", "DMCT"),
        transactions=(
            EntryTransaction(
                "E2E-1",
                234560,
                "DBIT",
                "MS-1",
                "PI-1",
                creditor_name="北京某某科技有限公司",
                creditor_account="6222001",
            ),
        ),
    )
    ret = Entry(
        amount_fen=8800,
        credit_debit="CRDT",
        status="BOOK",
        booking_date=date(2026, 12, 9),
        entry_ref="2",
        bank_tx_code=("PMNT", "ICDT", "RRTN"),
        transactions=(
            EntryTransaction(
                "E2E-0", 8800, "CRDT", is_return=True, return_reason="AC04", return_info=("账户已销户",)
            ),
        ),
    )
    return Notification(
        "SIM105-00000009",
        at,
        (AccountNotification("SIM105-00000009-1", "11001050000000001", (debit, ret), at),),
        version,
    )


@pytest.mark.parametrize("version", [CAMT054_V02, CAMT054_V08])
def test_render_and_parse_both_versions(version: str) -> None:
    n = notification(version)
    data = render_camt054(n)
    validate(data, version)
    assert parse_camt054(data) == n
    assert render_camt054(n) == data


def test_hand_written_v02() -> None:
    n = parse_camt054(FIXTURES / "camt.054.001.02-booked.xml")
    assert n.version == CAMT054_V02
    lines = [
        (
            e.credit_debit,
            e.status,
            e.booking_date,
            t.end_to_end_id if t else None,
            t.amount_fen if t else None,
            t.is_return if t else None,
            t.return_reason if t else None,
        )
        for _, e, t in n.lines()
    ]
    assert lines == [
        ("DBIT", "BOOK", date(2026, 12, 2), "E2E-0000000201", 234560, False, None),
        ("CRDT", "BOOK", date(2026, 12, 2), "E2E-0000000199", 8800, True, "AC04"),
    ]
    first = n.notifications[0].entries[0]
    assert first.amount_fen == 234560 and first.transactions[0].creditor_name == "北京某某科技有限公司"
    assert n.notifications[0].account == "11001010100056000001"
    assert n.notifications[0].entries[1].is_return


def test_hand_written_v08() -> None:
    n = parse_camt054(FIXTURES / "camt.054.001.08-return.xml")
    assert n.version == CAMT054_V08
    pending, batch, ret = n.notifications[0].entries
    assert pending.status == "PDNG" and not pending.is_booked and pending.transactions == ()
    assert next(iter(n.lines()))[2] is None
    assert batch.amount_fen == 30001 and [t.amount_fen for t in batch.transactions] == [10000, 20001]
    assert sum(t.amount_fen or 0 for t in batch.transactions) == batch.amount_fen
    assert batch.transactions[1].creditor_name == "北京某某餐饮管理有限公司"
    assert ret.is_return and ret.transactions[0].return_reason == "PRTRY:R99"
    assert ret.transactions[0].msg_id == "MS-20261201-403-0001"


def test_more_than_two_decimals_is_refused_with_the_element_path() -> None:
    data = render_camt054(notification()).replace(b">2345.60<", b">2345.601<")
    with pytest.raises(BadMessage, match=r"Ntry\[1\]/Amt: '2345.601' has more than 2 decimals"):
        parse_camt054(data)


def test_other_currency_is_refused() -> None:
    data = render_camt054(notification()).replace(b'Ccy="CNY">88.00', b'Ccy="USD">88.00')
    with pytest.raises(BadMessage, match="'USD' is not supported"):
        parse_camt054(data)


def test_renderer_validates() -> None:
    n = notification()
    bad = replace(
        n,
        notifications=(
            replace(n.notifications[0], entries=(replace(n.notifications[0].entries[0], status="XXXXXX"),)),
        ),
    )
    with pytest.raises(BadMessage):
        render_camt054(bad)
