"""Small helpers shared by the renderers and parsers: namespaced element building and reading, dates."""

from __future__ import annotations

from datetime import date, datetime

from lxml import etree

from .errors import BadMessage
from .schemas import namespace


class Doc:
    """Element names of one message version, in Clark notation, for building and for reading by path."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.ns = namespace(message)
        self._tags: dict[str, str] = {}
        self._paths: dict[str, tuple[str, ...]] = {}

    def tag(self, name: str) -> str:
        qualified = self._tags.get(name)
        if qualified is None:
            qualified = self._tags[name] = f"{{{self.ns}}}{name}"
        return qualified

    def tags(self, path: str) -> tuple[str, ...]:
        """``"GrpHdr/MsgId"`` -> the qualified tag of each step (cached)."""
        found = self._paths.get(path)
        if found is None:
            found = self._paths[path] = tuple(self.tag(part) for part in path.split("/"))
        return found

    def root(self) -> etree._Element:
        return etree.Element(self.tag("Document"), nsmap={None: self.ns})

    def sub(self, parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        el = etree.SubElement(parent, self.tag(name))
        if text is not None:
            el.text = text
        return el

    def chain(self, parent: etree._Element, path: str, text: str | None = None) -> etree._Element:
        """Create ``a/b/c`` under ``parent`` (always new elements) and set the last one's text."""
        el = parent
        for tag in self.tags(path):
            el = etree.SubElement(el, tag)
        if text is not None:
            el.text = text
        return el

    def find(self, el: etree._Element | None, path: str) -> etree._Element | None:
        """First element at ``path`` below ``el`` (a plain loop over children: faster than ElementPath)."""
        for tag in self.tags(path):
            if el is None:
                return None
            for child in el:
                if child.tag == tag:
                    el = child
                    break
            else:
                return None
        return el

    def text(self, el: etree._Element | None, path: str) -> str | None:
        """Text of the first element at ``path`` below ``el`` (``None`` if absent), stripped."""
        found = self.find(el, path)
        if found is None:
            return None
        return (found.text or "").strip()

    def required(self, el: etree._Element, path: str, where: str = "") -> str:
        value = self.text(el, path)
        if not value:
            raise BadMessage(f"{where}{path} is missing", reason_code="FF01")
        return value

    def findall(self, el: etree._Element | None, path: str) -> list[etree._Element]:
        """Every element at ``path`` below ``el``, in document order."""
        level = [] if el is None else [el]
        for tag in self.tags(path):
            level = [child for parent in level for child in parent if child.tag == tag]
        return level


def parse_iso_date(text: str, where: str) -> date:
    """``ISODate`` (``xs:date``; a timezone suffix, if any, is ignored)."""
    core = text.strip()[:10]
    try:
        return date.fromisoformat(core)
    except ValueError:
        raise BadMessage(f"{where}: not an ISO date: {text[:40]!r}", reason_code="FF01") from None


def parse_iso_datetime(text: str, where: str) -> datetime:
    """``ISODateTime`` (``xs:dateTime``); naive when the file gives no offset."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadMessage(f"{where}: not an ISO date-time: {text[:40]!r}", reason_code="FF01") from None


def format_datetime(value: datetime) -> str:
    """``ISODateTime`` text; deterministic for a given value (seconds, or microseconds when present)."""
    return value.isoformat()


def serialize(root: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration; the same tree always gives the same bytes."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
