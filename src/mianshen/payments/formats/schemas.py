"""The official ISO 20022 XSDs shipped in ``formats/xsd/`` (see ``xsd/SOURCES.md``), loaded once per thread.

``validate(xml_bytes, message)`` parses through :func:`safexml.parse_xml` and checks the document against the
XSD of ``message`` (e.g. ``"pain.001.001.09"``), raising :class:`SchemaInvalid` (code FF01) that lists the
first problems with their line numbers. ``message_of(root, accepted)`` picks the message version from the
document's namespace (``urn:iso:std:iso:20022:tech:xsd:<message>``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from importlib import resources

from lxml import etree

from .errors import BadMessage, SchemaInvalid
from .safexml import parse_xml

PAIN001 = "pain.001.001.09"
PAIN002_V03 = "pain.002.001.03"
PAIN002_V12 = "pain.002.001.12"
CAMT054_V02 = "camt.054.001.02"
CAMT054_V08 = "camt.054.001.08"
MESSAGES: tuple[str, ...] = (PAIN001, PAIN002_V03, PAIN002_V12, CAMT054_V02, CAMT054_V08)
NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
MAX_PROBLEMS = 5

_local = threading.local()


def namespace(message: str) -> str:
    return NS_PREFIX + message


def xsd_bytes(message: str) -> bytes:
    """The XSD file shipped for ``message`` (package data ``formats/xsd/<message>.xsd``)."""
    if message not in MESSAGES:
        raise ValueError(f"no XSD shipped for {message!r}")
    return resources.files("mianshen.payments.formats").joinpath("xsd", f"{message}.xsd").read_bytes()


def schema(message: str) -> etree.XMLSchema:
    """The compiled XSD, cached per thread (lxml validators keep an error log: not shared across threads)."""
    cache: dict[str, etree.XMLSchema] | None = getattr(_local, "schemas", None)
    if cache is None:
        cache = _local.schemas = {}
    compiled = cache.get(message)
    if compiled is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        compiled = etree.XMLSchema(etree.fromstring(xsd_bytes(message), parser))
        cache[message] = compiled
    return compiled


def message_of(root: etree._Element, accepted: Iterable[str]) -> str:
    """The message version of ``root``, which must be ``{urn:…:<message>}Document`` for an accepted message."""
    accepted = tuple(accepted)
    qname = etree.QName(root)
    ns = qname.namespace or ""
    message = ns[len(NS_PREFIX) :] if ns.startswith(NS_PREFIX) else ""
    if message not in accepted:
        raise BadMessage(
            f"unsupported message namespace {ns!r} (expected one of {', '.join(accepted)})",
            reason_code="FF01",
        )
    if qname.localname != "Document":
        raise BadMessage(f"root element is {qname.localname!r}, expected 'Document'", reason_code="FF01")
    return message


def validate_tree(root: etree._Element, message: str) -> None:
    """Check an already parsed (or freshly built) document against the XSD of ``message``."""
    xsd = schema(message)
    if xsd.validate(root):
        return
    errors = list(xsd.error_log)
    problems = [f"line {e.line}: {e.message}" for e in errors[:MAX_PROBLEMS]]
    more = f" (and {len(errors) - MAX_PROBLEMS} more)" if len(errors) > MAX_PROBLEMS else ""
    raise SchemaInvalid(
        f"{message}: not valid against the official XSD: {'; '.join(problems)}{more}",
        reason_code="FF01",
        problems=problems,
    )


def validate(xml_bytes: bytes, message: str) -> None:
    """Parse ``xml_bytes`` safely, check its namespace is ``message``'s, and validate it against the XSD."""
    root = parse_xml(xml_bytes)
    message_of(root, (message,))
    validate_tree(root, message)
