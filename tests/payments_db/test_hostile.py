"""Hostile and wrong inputs: each refused with a clear error, quarantined (stored with the reason), audited, and
nothing of it applied."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mianshen.audit.models import AuditEvent
from mianshen.payments.formats import fen_to_text
from mianshen.payments.models import BankFile, Booking, HoldItem, InboundFile, Instruction, StatusLine
from mianshen.payments.services.ingest import inbound_file_ingest_path

from .factories import ingest as feed
from .factories import uploaded
from .messages import all_lines, bookings, camt054, debit_entry, status_report

pytestmark = pytest.mark.django_db
NS12 = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.12"


def _xxe(bf: BankFile) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f'<Document xmlns="{NS12}"><CstmrPmtStsRpt>&x;</CstmrPmtStsRpt></Document>').encode()  # fmt: skip


def _laughs(bf: BankFile) -> bytes:
    entities = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    return f'<?xml version="1.0"?><!DOCTYPE d [{entities}]><Document xmlns="{NS12}">&a9;</Document>'.encode()


def _external_dtd(bf: BankFile) -> bytes:
    return f'<?xml version="1.0"?><!DOCTYPE Document SYSTEM "http://bank.invalid/x.dtd"><Document xmlns="{NS12}"/>'.encode()


def _deep(bf: BankFile) -> bytes:
    return (
        f'<?xml version="1.0"?><Document xmlns="{NS12}">' + "<a>" * 200 + "</a>" * 200 + "</Document>"
    ).encode()


def _our_own_pain001(bf: BankFile) -> bytes:
    return bytes(bf.content)


def _camt053(bf: BankFile) -> bytes:
    return b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><X/></Document>'


def _unknown_e2e(bf: BankFile) -> bytes:
    lines = all_lines(bf, "ACSP")
    lines["MS-E9999999999-01"] = ("ACSP", ())  # valid lines first, then one that is not ours
    return status_report(bf, lines)


def _unknown_status(bf: BankFile) -> bytes:
    return status_report(bf, all_lines(bf, "ZZZZ"))


def _unknown_msg_id(bf: BankFile) -> bytes:
    return status_report(bf, all_lines(bf, "ACSP"), original_msg_id="MS-M20991231-102-0001", echo=False)


def _amount_mismatch(bf: BankFile) -> bytes:
    first = bf.instructions.order_by("pk").first()
    assert first is not None
    return bookings([first], amount=first.amount_fen + 1)


def _echo_mismatch(bf: BankFile) -> bytes:
    data = status_report(bf, all_lines(bf, "ACSP"))
    return data.replace(
        f">{fen_to_text(bf.ctrl_sum_fen)}<".encode(), f">{fen_to_text(bf.ctrl_sum_fen + 100)}<".encode()
    )


def _other_account(bf: BankFile) -> bytes:
    return bookings(bf.instructions.all(), account="6200000000000000001")


def _garbage(bf: BankFile) -> bytes:
    return b"\x00\x01not xml at all"


def _first_two(bf: BankFile) -> tuple[Instruction, Instruction]:
    one, two = bf.instructions.order_by("pk")[:2]
    return one, two


def _entry_bigger_than_its_one_transaction(bf: BankFile) -> bytes:
    """The attack of issue 9: Ntry/Amt 25,855.99 debited, its single TxDtls/Amt the instructed amount; after a
    good booking of another payment, so that nothing of the file may be applied."""
    one, two = _first_two(bf)
    return camt054(
        [debit_entry((one, one.amount_fen)), debit_entry((two, two.amount_fen), amount=2_585_599, ref="2")]
    )


def _entry_smaller_than_its_transactions(bf: BankFile) -> bytes:
    one, two = _first_two(bf)
    return camt054([debit_entry((one, one.amount_fen), (two, two.amount_fen), amount=one.amount_fen)])


def _transaction_without_amount_among_several(bf: BankFile) -> bytes:
    one, two = _first_two(bf)
    entry = debit_entry((one, one.amount_fen), (two, two.amount_fen))
    txs = (entry.transactions[0], replace(entry.transactions[1], amount_fen=None))
    return camt054([replace(entry, transactions=txs)])


def _credit_transaction_in_a_debit_entry(bf: BankFile) -> bytes:
    one, _ = _first_two(bf)
    entry = debit_entry((one, one.amount_fen))
    return camt054([replace(entry, transactions=(replace(entry.transactions[0], credit_debit="CRDT"),))])


def _payment_booked_as_a_credit(bf: BankFile) -> bytes:
    one, _ = _first_two(bf)
    entry = debit_entry((one, one.amount_fen))
    tx = replace(entry.transactions[0], credit_debit="CRDT")
    return camt054([replace(entry, credit_debit="CRDT", transactions=(tx,))])


def _return_booked_as_a_debit(bf: BankFile) -> bytes:
    one, _ = _first_two(bf)
    entry = debit_entry((one, one.amount_fen))
    tx = replace(entry.transactions[0], is_return=True, return_reason="AC04")
    return camt054([replace(entry, transactions=(tx,))])


def _in_dollars(bf: BankFile) -> bytes:
    one, _ = _first_two(bf)
    return camt054([debit_entry((one, one.amount_fen))]).replace(b'Ccy="CNY"', b'Ccy="USD"', 1)


def _refers_to_no_file_of_ours(bf: BankFile) -> bytes:
    one, _ = _first_two(bf)
    entry = debit_entry((one, one.amount_fen))
    tx = replace(entry.transactions[0], msg_id="XX-M20261130-102-0001", pmt_inf_id=bf.pmt_inf_id)
    return camt054([replace(entry, transactions=(tx,))])


def _refers_to_no_block_of_ours(bf: BankFile) -> bytes:
    one, _ = _first_two(bf)
    entry = debit_entry((one, one.amount_fen))
    tx = replace(entry.transactions[0], msg_id=bf.msg_id, pmt_inf_id=f"{bf.msg_id}-B9")
    return camt054([replace(entry, transactions=(tx,))])


def _negative_echoed_control_sum(bf: BankFile) -> bytes:
    data = status_report(bf, all_lines(bf, "ACSP"))
    return data.replace(
        f">{fen_to_text(bf.ctrl_sum_fen)}<".encode(), f">-{fen_to_text(bf.ctrl_sum_fen)}<".encode()
    )


def _with_amount_details(data: bytes, after: bytes, amounts: str) -> bytes:
    """``data`` with ``<AmtDtls>amounts</AmtDtls>`` inserted after the first match of ``after`` (a regex)."""
    added = re.sub(after, rb"\g<0><AmtDtls>" + amounts.encode() + b"</AmtDtls>", data, count=1, flags=re.S)
    assert added != data
    return added


def _transaction_amount_details_differ(bf: BankFile) -> bytes:
    """Red team: TxDtls/Amt is the instructed amount, its AmtDtls/TxAmt says 25,855.99 (the entry adds up)."""
    one, _ = _first_two(bf)
    data = camt054([debit_entry((one, one.amount_fen))])
    return _with_amount_details(
        data, rb"<TxDtls>.*?</CdtDbtInd>", '<TxAmt><Amt Ccy="CNY">25855.99</Amt></TxAmt>'
    )


def _instructed_amount_in_dollars(bf: BankFile) -> bytes:
    one, _ = _first_two(bf)
    data = camt054([debit_entry((one, one.amount_fen))])
    usd = f'<InstdAmt><Amt Ccy="USD">{fen_to_text(one.amount_fen)}</Amt></InstdAmt>'
    return _with_amount_details(data, rb"<TxDtls>.*?</CdtDbtInd>", usd)


def _entry_amount_details_differ(bf: BankFile) -> bytes:
    one, _ = _first_two(bf)
    data = camt054([debit_entry((one, one.amount_fen))])
    return _with_amount_details(data, rb"<BkTxCd/>", '<TxAmt><Amt Ccy="CNY">25855.99</Amt></TxAmt>')


def _booked_twice_in_one_file(bf: BankFile) -> bytes:
    """Red team: two entries of one statement debit the same payment (each adds up on its own)."""
    one, _ = _first_two(bf)
    return camt054([debit_entry((one, one.amount_fen)), debit_entry((one, one.amount_fen), ref="2")])


CASES: dict[str, tuple[Callable[[BankFile], bytes], str]] = {
    "xxe": (_xxe, "DOCTYPE refused"),
    "billion laughs": (_laughs, "DOCTYPE refused"),
    "external dtd": (_external_dtd, "DOCTYPE refused"),
    "deep nesting": (_deep, "nested deeper"),
    "wrong namespace (pain.001)": (_our_own_pain001, "unsupported message namespace"),
    "wrong namespace (camt.053)": (_camt053, "unsupported message namespace"),
    "unknown EndToEndId": (_unknown_e2e, "unknown EndToEndId 'MS-E9999999999-01'"),
    "unknown status code": (_unknown_status, "unknown status code 'ZZZZ'"),
    "unknown OrgnlMsgId": (_unknown_msg_id, "unknown OrgnlMsgId"),
    "amount mismatch (booking)": (_amount_mismatch, "amount mismatch"),
    "amount mismatch (echoed control sum)": (_echo_mismatch, "amount mismatch"),
    "another account": (_other_account, "not the fund's account"),
    "garbage": (_garbage, "not UTF-8"),
    "entry bigger than its one transaction": (_entry_bigger_than_its_one_transaction, "add up to"),
    "entry smaller than its transactions": (_entry_smaller_than_its_transactions, "add up to"),
    "a transaction without an amount among several": (
        _transaction_without_amount_among_several,
        "not all with an amount",
    ),
    "a credit transaction in a debit entry": (
        _credit_transaction_in_a_debit_entry,
        "is DBIT but its transaction",
    ),
    "a payment booked as a credit": (
        _payment_booked_as_a_credit,
        "without return information is not what we expect",
    ),
    "a return booked as a debit": (
        _return_booked_as_a_debit,
        "with return information is not what we expect",
    ),
    "another currency": (_in_dollars, "currency 'USD' is not supported"),
    "references no file of ours (MsgId)": (_refers_to_no_file_of_ours, "which names no file of ours"),
    "references no file of ours (PmtInfId)": (_refers_to_no_block_of_ours, "which names no file of ours"),
    "negative echoed control sum": (_negative_echoed_control_sum, "is negative"),
    "a transaction's AmtDtls/TxAmt differs from its Amt": (
        _transaction_amount_details_differ,
        "AmtDtls/TxAmt/Amt 25855.99 differs from Amt",
    ),
    "one payment booked twice in one file": (
        _booked_twice_in_one_file,
        "is booked twice (debit) in this one file",
    ),
    "a transaction's instructed amount in dollars": (_instructed_amount_in_dollars, "currency 'USD'"),
    "an entry's AmtDtls/TxAmt differs from its Amt": (
        _entry_amount_details_differ,
        "Ntry[1]/AmtDtls/TxAmt/Amt 25855.99 differs from Amt",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_quarantined_audited_nothing_applied(tmp_path: Path, case: str) -> None:
    make, expected = CASES[case]
    [bf] = uploaded(3, root=tmp_path)
    before = list(Instruction.objects.order_by("pk").values_list("status", "bank_status", "booked_on"))
    data = make(bf)
    result = feed(data, name=f"{case}.xml")
    assert result.quarantined and expected in result.reason, result.reason
    stored = InboundFile.objects.get(sha256=result.inbound.sha256)
    assert stored.status == "quarantined" and bytes(stored.content) == data and stored.reason == result.reason
    event = AuditEvent.objects.filter(object_type="inbound_file", object_id=stored.sha256).get()
    assert (
        event.after is not None and event.after["status"] == "quarantined" and event.reason == stored.reason
    )
    assert (
        list(Instruction.objects.order_by("pk").values_list("status", "bank_status", "booked_on")) == before
    )
    assert not StatusLine.objects.exists() and not Booking.objects.exists()
    bf.refresh_from_db()
    assert bf.answered_at is None
    [hold] = HoldItem.objects.all()  # the quarantine is a visible item of the hold queue, with its reason
    assert (hold.kind, hold.inbound_id, hold.resolved_at) == ("quarantined", stored.pk, None)
    assert stored.reason in hold.message and f"pay reprocess {stored.pk}" in hold.message
    again = feed(data, name="again.xml")
    assert again.duplicate and again.quarantined and InboundFile.objects.count() == 1
    assert HoldItem.objects.count() == 1


def test_oversized_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [bf] = uploaded(2, root=tmp_path)
    path = tmp_path / "huge.xml"
    data = status_report(bf, all_lines(bf, "ACSP"))
    path.write_bytes(data + b" " * 200_000)
    monkeypatch.setenv("MIANSHEN_INBOUND_MAX_BYTES", "100000")
    result = inbound_file_ingest_path(path=path, actor="system:test", bank_code="102")
    assert result.quarantined and "file too large" in result.reason
    assert result.inbound.truncated and result.inbound.size == path.stat().st_size
    assert len(bytes(result.inbound.content)) < path.stat().st_size
    assert set(bf.instructions.values_list("status", flat=True)) == {"uploaded"}
    assert AuditEvent.objects.filter(object_id=result.inbound.sha256).count() == 1


def test_a_booking_naming_another_file_of_ours_is_refused(tmp_path: Path) -> None:
    """Refs/MsgId and Refs/PmtInfId must name the file that carried the EndToEndId, not just any file of ours."""
    first, second = uploaded(2, root=tmp_path, banks=("102", "105"))
    one = first.instructions.get()
    for refs in ({"msg_id": second.msg_id}, {"pmt_inf_id": second.pmt_inf_id}):
        entry = debit_entry((one, one.amount_fen))
        data = camt054([replace(entry, transactions=(replace(entry.transactions[0], **refs),))])
        result = feed(data)
        assert (
            result.quarantined
            and f"but it went out in {first.msg_id if 'msg_id' in refs else first.pmt_inf_id}"
            in result.reason
        )
    one.refresh_from_db()
    assert not Booking.objects.exists() and one.status == "uploaded"


def test_a_quarantined_answer_processed_again_closes_its_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mianshen.payments.services.ingest import inbound_file_reprocess

    [bf] = uploaded(2, root=tmp_path)
    result = feed(bookings(bf.instructions.all(), account="110060000000000999"))
    hold = HoldItem.objects.get(kind="quarantined", inbound=result.inbound)
    assert inbound_file_reprocess(inbound_id=result.inbound.pk, actor="ops").quarantined  # still refused
    hold.refresh_from_db()
    assert hold.resolved_at is None
    monkeypatch.setenv("MIANSHEN_FUND_ACCOUNT", "110060000000000999")  # the fund's account, now configured
    assert not inbound_file_reprocess(inbound_id=result.inbound.pk, actor="ops").quarantined
    hold.refresh_from_db()
    assert hold.resolved_at is not None and hold.resolved_by == "ops"
    assert set(bf.instructions.values_list("status", flat=True)) == {"settled"}
