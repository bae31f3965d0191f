"""Hostile inbound XML is refused with a one-line reason, before anything is expanded, fetched or read whole."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest
from lxml import etree

from mianshen.payments.formats import BadMessage, UnsafeXml, parse_camt054, parse_pain002, parse_xml
from mianshen.payments.formats.safexml import hardened_parser

XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document>&xxe;</Document>"""
XXE_HTTP = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/steal">]>
<Document>&xxe;</Document>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>"""
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE Document SYSTEM "http://127.0.0.1:9/evil.dtd"><Document/>'
PARAM_ENTITY = b'<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><d/>'
HIDDEN_DOCTYPE = (
    b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\n<!-- hello --><?pi x?>\n<!DOCTYPE d><d/>'
)


@pytest.mark.parametrize(
    "data",
    [XXE_FILE, XXE_HTTP, LAUGHS, EXTERNAL_DTD, PARAM_ENTITY, HIDDEN_DOCTYPE],
    ids=[
        "xxe-file",
        "xxe-http",
        "billion-laughs",
        "external-dtd",
        "parameter-entity",
        "doctype-after-comment",
    ],
)
def test_any_doctype_is_refused(data: bytes) -> None:
    with pytest.raises(UnsafeXml, match="DOCTYPE refused") as err:
        parse_xml(data)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("data", [XXE_FILE, LAUGHS])
def test_thehardened_parser_itself_expands_nothing(data: bytes) -> None:
    """Second line of defence: even past the prolog check, lxml resolves no entity and fetches nothing."""
    root = etree.fromstring(data, hardened_parser())
    text = etree.tostring(root)
    assert b"root:" not in text and b"lollollol" not in text


def test_markup_declaration_before_root_is_refused() -> None:
    with pytest.raises(UnsafeXml, match="markup declaration"):
        parse_xml(b'<!ENTITY x "y"><d/>')


def test_undefined_entity_reference_is_refused() -> None:
    with pytest.raises(BadMessage, match="Entity 'x' not defined"):
        parse_xml(b"<d>&x;</d>")


def test_huge_file_is_refused_by_size_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    with path.open("wb") as fh:  # 200 MB, sparse: written lazily, never held in memory
        fh.write(b'<?xml version="1.0" encoding="UTF-8"?><Document>')
        fh.truncate(200 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(UnsafeXml, match="file too large: 209715200 bytes, limit 104857600"):
            parse_xml(path)
        with pytest.raises(UnsafeXml, match="file too large"):
            parse_camt054(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_size_limit_is_configurable() -> None:
    doc = b"<d>" + b"x" * 2000 + b"</d>"
    assert parse_xml(doc, max_bytes=5000).tag == "d"
    with pytest.raises(UnsafeXml, match="limit 1000"):
        parse_xml(doc, max_bytes=1000)


def test_path_under_the_limit_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "ok.xml"
    path.write_bytes(b"<d><e/></d>")
    assert parse_xml(path).tag == "d"


@pytest.mark.parametrize("depth", [65, 200, 10_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    with pytest.raises(UnsafeXml, match="nested"):
        parse_xml(b"<a>" * depth + b"</a>" * depth)


def test_depth_limit_is_inclusive() -> None:
    assert parse_xml(b"<a>" * 64 + b"</a>" * 64).tag == "a"
    assert parse_xml(b"<a>" * 11 + b"</a>" * 11, max_depth=11).tag == "a"
    with pytest.raises(UnsafeXml):
        parse_xml(b"<a>" * 12 + b"</a>" * 12, max_depth=11)


def test_wrong_namespace_is_refused() -> None:
    pain001 = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>'
    with pytest.raises(
        BadMessage,
        match=re.escape("unsupported message namespace 'urn:iso:std:iso:20022:tech:xsd:pain.001.001.09'"),
    ):
        parse_pain002(pain001)
    with pytest.raises(BadMessage, match="unsupported message namespace"):
        parse_camt054(b'<Document xmlns="urn:example:evil"/>')


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"PK\x03\x04garbage",
        b"<Document><unclosed></Document>",
        b"   ",
        b"",
        "<d/>".encode("utf-16"),
        b'<?xml version="1.0" encoding="ISO-8859-1"?><d/>',
        b"<!-- never closed",
    ],
    ids=["bytes", "png", "zip", "unclosed", "blank", "empty", "utf16", "latin1", "open-comment"],
)
def test_garbage_is_a_bad_message(data: bytes) -> None:
    with pytest.raises(BadMessage) as err:
        parse_pain002(data)
    assert err.value.reason and "\n" not in err.value.reason


def test_processing_instructions_and_comments_are_dropped() -> None:
    root = parse_xml(b'<?xml version="1.0"?><?xml-stylesheet href="x"?><d><!-- c --><?pi?><e/></d>')
    assert [child.tag for child in root] == ["e"]
