"""The shipped XSDs are the recorded ones, load, and give clear errors."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from mianshen.payments.formats import SchemaInvalid, validate
from mianshen.payments.formats.errors import BadMessage
from mianshen.payments.formats.safexml import parse_xml
from mianshen.payments.formats.schemas import MESSAGES, message_of, schema, xsd_bytes

XSD_DIR = Path(__file__).parents[2] / "src" / "mianshen" / "payments" / "formats" / "xsd"


def test_xsd_files_match_sources() -> None:
    table = (XSD_DIR / "SOURCES.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\S+\.xsd) \|.*\| ([0-9a-f]{64}) \|$", table, flags=re.M)
    assert sorted(name for name, _ in rows) == sorted(f"{m}.xsd" for m in MESSAGES)
    for name, sha in rows:
        assert hashlib.sha256((XSD_DIR / name).read_bytes()).hexdigest() == sha, name


@pytest.mark.parametrize("message", MESSAGES)
def test_every_schema_loads_from_package_data(message: str) -> None:
    assert xsd_bytes(message).startswith(b"<?xml")
    assert schema(message) is schema(message)  # cached


def test_validate_lists_the_first_problems() -> None:
    doc = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn>'
        b"<GrpHdr><MsgId>M1</MsgId></GrpHdr></CstmrCdtTrfInitn></Document>"
    )
    with pytest.raises(SchemaInvalid) as err:
        validate(doc, "pain.001.001.09")
    assert err.value.reason_code == "FF01"
    assert err.value.problems and "line 1" in err.value.problems[0]
    assert "\n" not in str(err.value)
    assert "CreDtTm" in str(err.value)


def test_wrong_namespace_is_a_bad_message() -> None:
    root = parse_xml(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"/>')
    with pytest.raises(
        BadMessage, match=re.escape("unsupported message namespace 'urn:iso:std:iso:20022:tech:xsd:pain.008")
    ):
        message_of(root, ("pain.002.001.03", "pain.002.001.12"))
    with pytest.raises(BadMessage, match="unsupported message namespace ''"):
        message_of(parse_xml(b"<Document/>"), ("pain.001.001.09",))
    with pytest.raises(BadMessage, match="expected 'Document'"):
        message_of(
            parse_xml(b'<Doc xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>'), ("pain.001.001.09",)
        )


def test_unknown_message_has_no_schema() -> None:
    with pytest.raises(ValueError, match="no XSD"):
        xsd_bytes("pain.001.001.03")
