"""pain.002 .001.03 and .001.12: hand-written bank files and rendered ones, both validated and parsed."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mianshen.payments.formats import (
    PAIN002_V03,
    PAIN002_V12,
    BadMessage,
    PaymentBlockStatus,
    SchemaInvalid,
    StatusReason,
    StatusReport,
    TransactionStatus,
    parse_pain002,
    render_pain002,
    validate,
)

from .builders import CST, FIXTURES


def report(version: str = PAIN002_V12, **kw: object) -> StatusReport:
    base: dict[str, object] = {
        "msg_id": "SIM102-00000001",
        "created_at": datetime(2026, 12, 1, 17, tzinfo=CST),
        "original_msg_id": "MS-20261130-102-000000",
        "group_status": "PART",
        "group_reasons": (StatusReason(code="NARR", additional_info=("部分交易被拒绝",)),),
        "blocks": (
            PaymentBlockStatus(
                "PI-102-000000-0",
                "PART",
                (),
                (
                    TransactionStatus("E2E-1", "RJCT", (StatusReason("AC01", None, ("账号错误",)),)),
                    TransactionStatus("E2E-2", "ACSC"),
                    TransactionStatus(
                        "E2E-3", "RJCT", (StatusReason(proprietary="X9"), StatusReason("AC04"))
                    ),
                ),
            ),
        ),
        "original_nb_of_txs": 3,
        "original_ctrl_sum_fen": 30003,
        "version": version,
    }
    base.update(kw)
    return StatusReport(**base)  # type: ignore[arg-type]


def test_hand_written_v03_reject_only_report() -> None:
    path = FIXTURES / "pain.002.001.03-part.xml"
    validate(path.read_bytes(), PAIN002_V03)
    r = parse_pain002(path)
    assert r.version == PAIN002_V03
    assert (r.msg_id, r.original_msg_id, r.group_status) == (
        "ICBC20261201000123",
        "MS-20261201-102-0001",
        "PART",
    )
    assert r.created_at == datetime(2026, 12, 1, 16, 42, 7)  # no offset in the file: naive
    assert r.original_nb_of_txs == 4 and r.original_ctrl_sum_fen == 1_000_000
    lines = [
        (b.original_pmt_inf_id, t.original_end_to_end_id, t.status, t.reason_codes)
        for b, t in r.transactions()
    ]
    assert lines == [
        ("PI-20261201-102-1", "E2E-0000000001", "RJCT", ("AC04",)),
        ("PI-20261201-102-1", "E2E-0000000003", "RJCT", ("PRTRY:X123", "BE01")),
    ]
    assert r.blocks[0].transactions[0].reasons[0].additional_info == ("账户已销户",)


def test_hand_written_v12_full_report_with_prefix() -> None:
    r = parse_pain002(FIXTURES / "pain.002.001.12-full.xml")
    assert r.version == PAIN002_V12
    assert r.created_at.utcoffset() is not None and r.created_at.microsecond == 123000
    assert [(t.original_end_to_end_id, t.status, t.reason_codes) for _, t in r.transactions()] == [
        ("E2E-0000000101", "ACSC", ()),
        ("E2E-0000000102", "RJCT", ("AC01",)),
        ("E2E-0000000103", "ACSP", ()),
    ]
    assert r.blocks[0].transactions[0].original_instruction_id == "I-1"
    assert (
        r.original_ctrl_sum_fen == 300_000
    )  # "3000.000": a DecimalNumber, more places than fen, still exact


@pytest.mark.parametrize("version", [PAIN002_V03, PAIN002_V12])
def test_render_and_parse_both_versions(version: str) -> None:
    r = report(version)
    data = render_pain002(r)
    validate(data, version)
    assert parse_pain002(data) == r
    assert render_pain002(r) == data


def test_group_only_reject() -> None:
    r = report(group_status="RJCT", group_reasons=(StatusReason("DU01"),), blocks=())
    back = parse_pain002(render_pain002(r))
    assert back.group_reason_codes == ("DU01",) and back.blocks == ()


def test_v03_refuses_statuses_it_does_not_know() -> None:
    r = report(PAIN002_V03, group_status="ACCC")
    with pytest.raises(SchemaInvalid):
        render_pain002(r)
    assert parse_pain002(render_pain002(report(PAIN002_V12, group_status="ACCC"))).group_status == "ACCC"


def test_tampered_report_fails_the_xsd() -> None:
    data = render_pain002(report()).replace(b"<TxSts>ACSC</TxSts>", b"<TxSts>TOOLONG</TxSts>")
    with pytest.raises(SchemaInvalid, match=re.escape("pain.002.001.12")):
        parse_pain002(data)


@settings(max_examples=25, deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9-]{1,35}", fullmatch=True),
            st.sampled_from(["ACTC", "ACCP", "ACSP", "ACSC", "RJCT", "PDNG"]),
            st.lists(st.sampled_from(["AC01", "AC04", "AC06", "BE01", "AM05", "MS03"]), max_size=2),
        ),
        min_size=1,
        max_size=60,
    ),
    version=st.sampled_from([PAIN002_V03, PAIN002_V12]),
)
def test_property_round_trip(lines: list[tuple[str, str, list[str]]], version: str) -> None:
    txs = tuple(TransactionStatus(e, s, tuple(StatusReason(c) for c in codes)) for e, s, codes in lines)
    r = report(version, blocks=(PaymentBlockStatus("PI-1", None, (), txs),))
    assert parse_pain002(render_pain002(r)) == r


def _with_ctrl_sum(text: str, version: str = PAIN002_V12) -> bytes:
    data = render_pain002(report(version))
    return data.replace(
        b"<OrgnlCtrlSum>300.03</OrgnlCtrlSum>", f"<OrgnlCtrlSum>{text}</OrgnlCtrlSum>".encode()
    )


@pytest.mark.parametrize("version", [PAIN002_V03, PAIN002_V12])
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-300.03", "negative"),
        ("-0.01", "negative"),
        ("300.031", "not whole fen"),
        ("300.0300001", "not whole fen"),
    ],
)
def test_a_negative_or_fractional_echoed_control_sum_is_refused(
    version: str, text: str, problem: str
) -> None:
    """The XSD's DecimalNumber allows a sign and 17 decimals; neither can echo a total of ours in fen."""
    data = _with_ctrl_sum(text, version)
    validate(data, version)  # the schema lets it through: the reader must not
    with pytest.raises(BadMessage, match=f"OrgnlCtrlSum: '{re.escape(text)}' is {problem}"):
        parse_pain002(data)


@pytest.mark.parametrize(
    ("text", "fen"), [("300.03", 30003), ("300.030", 30003), ("+300.03000", 30003), ("0", 0)]
)
def test_an_echoed_control_sum_with_more_places_is_read_exactly(text: str, fen: int) -> None:
    assert parse_pain002(_with_ctrl_sum(text)).original_ctrl_sum_fen == fen
