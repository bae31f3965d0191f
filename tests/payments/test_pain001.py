"""pain.001.001.09: every rendered file validates against the official XSD and parses back to the same data."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from mianshen.payments.formats import (
    PAIN001,
    BadMessage,
    BankFile,
    CreditTransfer,
    PaymentBlock,
    SchemaInvalid,
    parse_pain001,
    render_pain001,
    sha256_hex,
    validate,
)
from mianshen.payments.formats.pain001 import build_pain001
from mianshen.payments.formats.schemas import namespace, validate_tree

from .builders import AGENCY, CJK, CST, FUND_NAME, bank_file, branch, random_bank_file

NS = {"p": namespace(PAIN001)}


def xpath(data: bytes, path: str) -> list[str]:
    return [str(v) for v in etree.fromstring(data).xpath(path, namespaces=NS)]


def test_rendered_file_is_valid_utf8_with_declaration() -> None:
    data = render_pain001(bank_file(3))
    assert data.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">'
    )
    validate(data, PAIN001)
    assert "北京第1号科技有限公司" in data.decode("utf-8")


def test_layout_follows_payments_md() -> None:
    data = render_pain001(bank_file(2))
    tx = "/p:Document/p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf"
    assert xpath(data, "//p:PmtInf/p:PmtMtd/text()") == ["TRF"]
    assert xpath(data, "//p:PmtInf/p:ReqdExctnDt/p:Dt/text()") == ["2026-12-01"]
    assert xpath(data, "//p:DbtrAcct/p:Id/p:Othr/p:Id/text()") == ["11001020000000001"]
    assert xpath(data, "//p:DbtrAgt/p:FinInstnId/p:ClrSysMmbId/p:ClrSysId/p:Cd/text()") == ["CNAPS"]
    assert xpath(data, f"{tx}/p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId/text()") == [
        branch("102", 0),
        branch("102", 1),
    ]
    assert xpath(data, f"{tx}/p:CdtrAcct/p:Id/p:Othr/p:Id/text()") == [
        "6222102000000000000",
        "6222102000000000001",
    ]
    assert xpath(data, f"{tx}/p:Amt/p:InstdAmt/@Ccy") == ["CNY", "CNY"]
    assert xpath(data, f"{tx}/p:Amt/p:InstdAmt/text()") == ["100.00", "100.01"]
    assert xpath(data, "//p:IBAN") == []
    assert xpath(data, "//p:GrpHdr/p:NbOfTxs/text()") == ["2"]
    assert xpath(data, "//p:GrpHdr/p:CtrlSum/text()") == ["200.01"]
    assert xpath(data, "//p:GrpHdr/p:CreDtTm/text()") == ["2026-11-30T09:00:00+08:00"]
    assert xpath(data, "//p:GrpHdr/p:InitgPty/p:Nm/text()") == [AGENCY]
    assert xpath(data, f"{tx}/p:RmtInf/p:Ustrd/text()")[0] == "稳岗返还/C2026-00000000/91110108MA01ABCD2X"


def test_markup_characters_in_names_are_escaped() -> None:
    f = bank_file(1)
    odd = "北京A&B<有限>公司 \"引号\" 'x' &amp;"
    tx = replace(f.blocks[0].transfers[0], creditor_name=odd, remittance="a<b>&c")
    g = replace(
        f,
        initiating_party="人社局&<>",
        blocks=(replace(f.blocks[0], debtor_name="基金&<>", transfers=(tx,)),),
    )
    data = render_pain001(g)
    assert b"&amp;amp;" in data and b"&lt;" in data
    assert parse_pain001(data) == g


def test_same_snapshot_same_bytes() -> None:
    a, b = render_pain001(bank_file(50, blocks=3)), render_pain001(bank_file(50, blocks=3))
    assert a == b and sha256_hex(a) == sha256_hex(b)


def test_xsd_counts_characters_not_bytes() -> None:
    """Max140Text: 140 Chinese characters (420 UTF-8 bytes) pass; 141 fail the official XSD itself."""
    f = bank_file(1)
    long_ok = replace(
        f,
        blocks=(
            replace(f.blocks[0], transfers=(replace(f.blocks[0].transfers[0], creditor_name="名" * 140),)),
        ),
    )
    validate(render_pain001(long_ok), PAIN001)
    root = build_pain001(long_ok)
    root.find(".//{*}Cdtr/{*}Nm").text = "名" * 141  # bypass the snapshot's own check
    with pytest.raises(SchemaInvalid, match="Nm"):
        validate_tree(root, PAIN001)


def test_parse_refuses_wrong_control_sums() -> None:
    data = render_pain001(bank_file(3))
    wrong_sum = data.replace(b"<CtrlSum>300.03</CtrlSum>", b"<CtrlSum>300.04</CtrlSum>", 1)
    with pytest.raises(
        BadMessage, match=re.escape("CtrlSum is 300.04 but the amounts add up to 300.03")
    ) as err:
        parse_pain001(wrong_sum)
    assert err.value.reason_code == "AM10"
    wrong_count = data.replace(b"<NbOfTxs>3</NbOfTxs>", b"<NbOfTxs>4</NbOfTxs>", 1)
    with pytest.raises(BadMessage, match="NbOfTxs is 4 but 3 transactions follow") as err:
        parse_pain001(wrong_count)
    assert err.value.reason_code == "AM18"


def test_parse_refuses_other_currency_and_fractions_of_fen() -> None:
    data = render_pain001(bank_file(1))
    with pytest.raises(BadMessage, match="'EUR' is not supported"):
        parse_pain001(data.replace(b'Ccy="CNY"', b'Ccy="EUR"'))
    frac = data.replace(b">100.00<", b">100.001<").replace(b">100.00<", b">100.001<")
    with pytest.raises(BadMessage, match="more than 2 decimals"):
        parse_pain001(frac)


def test_parse_refuses_schema_invalid_files() -> None:
    data = render_pain001(bank_file(1)).replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>XXX</PmtMtd>")
    with pytest.raises(SchemaInvalid) as err:
        parse_pain001(data)
    assert err.value.reason_code == "FF01"


# ------------------------------------------------------------------------------------------- properties

names = st.text(alphabet=st.sampled_from(CJK), min_size=1, max_size=140).map(str.strip).filter(bool)
transfers = st.builds(
    CreditTransfer,
    end_to_end_id=st.from_regex(r"[A-Za-z0-9-]{1,35}", fullmatch=True),
    amount_fen=st.integers(min_value=1, max_value=9_999_999_999),
    creditor_name=names,
    creditor_account=st.from_regex(r"[0-9]{8,19}", fullmatch=True),
    creditor_branch_code=st.from_regex(r"[0-9]{12}", fullmatch=True),
    remittance=names,
)


@st.composite
def bank_files(draw: st.DrawFn) -> BankFile:
    txs = draw(st.lists(transfers, min_size=1, max_size=40, unique_by=lambda t: t.end_to_end_id))
    n_blocks = draw(st.integers(min_value=1, max_value=min(3, len(txs))))
    cut = (
        sorted(
            draw(
                st.lists(
                    st.integers(1, len(txs) - 1), min_size=n_blocks - 1, max_size=n_blocks - 1, unique=True
                )
            )
        )
        if n_blocks > 1
        else []
    )
    bounds = [0, *cut, len(txs)]
    offset = draw(st.integers(min_value=-12 * 60, max_value=14 * 60))
    return BankFile(
        msg_id=draw(st.from_regex(r"[A-Za-z0-9-]{1,35}", fullmatch=True)),
        created_at=datetime(2026, 11, 30, 9, 0, 5, tzinfo=timezone(timedelta(minutes=offset))),
        initiating_party=draw(names),
        blocks=tuple(
            PaymentBlock(
                pmt_inf_id=f"PI-{k}",
                execution_date=draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31))),
                debtor_name=FUND_NAME,
                debtor_account=draw(st.from_regex(r"[0-9]{8,19}", fullmatch=True)),
                debtor_branch_code=branch("102"),
                transfers=tuple(txs[bounds[k] : bounds[k + 1]]),
            )
            for k in range(n_blocks)
        ),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bank_files())
@example(bank_file(1))
def test_property_valid_round_trip_totals_deterministic(f: BankFile) -> None:
    data = render_pain001(f)  # validates against the XSD before returning
    validate(data, PAIN001)  # and the serialised bytes validate too
    assert parse_pain001(data) == f
    assert render_pain001(f) == data
    assert xpath(data, "//p:GrpHdr/p:CtrlSum/text()") == [_yuan(sum(t.amount_fen for t in f.transfers()))]
    assert xpath(data, "//p:PmtInf/p:CtrlSum/text()") == [_yuan(b.ctrl_sum_fen) for b in f.blocks]
    assert xpath(data, "//p:PmtInf/p:NbOfTxs/text()") == [str(len(b.transfers)) for b in f.blocks]


@settings(max_examples=4, deadline=None)
@given(n=st.sampled_from([1, 999, 2500, 5000]), seed=st.integers(min_value=0, max_value=2**32))
@example(n=5000, seed=1)
def test_property_large_files(n: int, seed: int) -> None:
    f = random_bank_file(random.Random(seed), n)
    data = render_pain001(f)
    back = parse_pain001(data)
    assert back == f
    assert back.ctrl_sum_fen == sum(t.amount_fen for t in f.transfers())
    assert xpath(data, "/p:Document/p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs/text()") == [str(n)]


def test_max_amounts_and_140_character_names() -> None:
    rnd = random.Random(1)
    f = random_bank_file(rnd, 3)
    big = replace(
        f,
        blocks=(
            replace(
                f.blocks[0],
                transfers=tuple(
                    replace(t, amount_fen=9_999_999_999, creditor_name="京" * 140)
                    for t in f.blocks[0].transfers
                ),
            ),
        ),
    )
    data = render_pain001(big)
    assert xpath(data, "//p:GrpHdr/p:CtrlSum/text()") == ["299999999.97"]
    assert parse_pain001(data) == big
    assert CST.utcoffset(None) == timedelta(hours=8)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"
