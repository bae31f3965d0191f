"""The one door for inbound XML: :func:`parse_xml` (bank status reports, notifications, files under test).

What it refuses, each with :class:`UnsafeXml` and a one-line reason, before any tree is built:

- more than ``max_bytes`` (default 100 MB): a path is checked with ``stat`` and read with a bound, so a huge
  file is never read into memory;
- any DOCTYPE (bank files never need one: this shuts out XXE, external DTDs and entity bombs), any other
  ``<!`` declaration in the prolog, and encodings other than UTF-8 (ISO 20022 messages are UTF-8);
- nesting deeper than ``max_depth`` (default 64; ISO 20022 messages stay well under 20).

The lxml parser itself is hardened as a second line: no entity resolution, no network, no DTD loading or
validation, no huge-tree mode (libxml2's own limits stay on), processing instructions and comments dropped.
Garbage bytes give :class:`BadMessage` ("not well-formed XML: …").
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lxml import etree

from .errors import BadMessage, UnsafeXml

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64

_XML_DECL = re.compile(rb"<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_WS = b" \t\r\n"


def hardened_parser() -> etree.XMLParser:
    """The parser settings used for every document (a new one per call: lxml parsers are not thread-safe)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
        collect_ids=False,
    )


def read_limited(data: bytes | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``data`` (bytes or a path), refusing more than ``max_bytes`` without reading them all."""
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if len(raw) > max_bytes:
            raise UnsafeXml(f"file too large: {len(raw)} bytes, limit {max_bytes}")
        return raw
    path = Path(data)
    size = path.stat().st_size
    if size > max_bytes:
        raise UnsafeXml(f"file too large: {size} bytes, limit {max_bytes} ({path.name})")
    with path.open("rb") as fh:
        raw = fh.read(max_bytes + 1)  # the file may have grown since stat()
    if len(raw) > max_bytes:
        raise UnsafeXml(f"file too large: more than {max_bytes} bytes ({path.name})")
    return raw


def _skip_ws(raw: bytes, pos: int) -> int:
    n = len(raw)
    while pos < n and raw[pos] in _WS:
        pos += 1
    return pos


def check_prolog(raw: bytes) -> None:
    """Refuse non-UTF-8 encodings and any DOCTYPE / ``<!`` declaration before the root element."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")) or raw[:4].count(
        0
    ):
        raise BadMessage("not UTF-8 XML (UTF-16/32 byte order mark or NUL bytes)", reason_code="FF01")
    pos = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    decl = _XML_DECL.match(raw, pos)
    if decl is not None:
        enc = _ENCODING.search(decl.group(0))
        if enc is not None and enc.group(1).lower() not in (b"utf-8", b"utf8"):
            name = enc.group(1).decode("ascii")
            raise BadMessage(f"encoding {name!r} refused: bank files must be UTF-8", reason_code="FF01")
        pos = decl.end()
    while True:
        pos = _skip_ws(raw, pos)
        if raw.startswith(b"<!--", pos):
            end = raw.find(b"-->", pos + 4)
            if end < 0:
                raise BadMessage("not well-formed XML: unterminated comment", reason_code="FF01")
            pos = end + 3
        elif raw.startswith(b"<?", pos):
            end = raw.find(b"?>", pos + 2)
            if end < 0:
                raise BadMessage(
                    "not well-formed XML: unterminated processing instruction", reason_code="FF01"
                )
            pos = end + 2
        elif raw.startswith(b"<!DOCTYPE", pos) or raw.startswith(b"<!doctype", pos):
            raise UnsafeXml("DOCTYPE refused: bank files must not carry a DTD or entity declarations")
        elif raw.startswith(b"<!", pos):
            raise UnsafeXml("markup declaration refused before the root element")
        elif raw.startswith(b"<", pos):
            return
        else:
            raise BadMessage("not XML: no root element at the start of the file", reason_code="FF01")


def check_depth(root: etree._Element, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Refuse elements nested deeper than ``max_depth`` (the root is depth 1).

    One XPath location path of ``max_depth + 1`` child steps: libxml2 walks the tree level by level in C.
    """
    probe = etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")
    if probe(root):
        raise UnsafeXml(f"document nested deeper than {max_depth} levels")


def parse_xml(
    data: bytes | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> etree._Element:
    """Parse inbound XML safely and return the root element (see the module docstring for what is refused)."""
    raw = read_limited(data, max_bytes=max_bytes)
    if not raw.strip():
        raise BadMessage("empty file", reason_code="FF01")
    check_prolog(raw)
    try:
        root = etree.fromstring(raw, hardened_parser())
    except etree.XMLSyntaxError as exc:
        text = str(exc)
        if "depth" in text.lower():
            raise UnsafeXml(f"document nested too deeply: {text}") from None
        if "entity" in text.lower():
            raise UnsafeXml(f"entity reference refused: {text}") from None
        raise BadMessage(f"not well-formed XML: {text}", reason_code="FF01") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXml("DOCTYPE refused: bank files must not carry a DTD or entity declarations")
    check_depth(root, max_depth)
    return root
