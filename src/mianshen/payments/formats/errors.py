"""Errors raised while reading or writing bank files.

Every error carries a one-line ``reason`` for people and, where one fits, the ISO 20022 status reason code a
bank would answer with (``reason_code``), so the bank simulator can reject a file with the right code.
"""

from __future__ import annotations

from collections.abc import Sequence


def _one_line(text: str) -> str:
    return " ".join(text.split())


class BadMessage(ValueError):
    """An inbound or rendered message cannot be used: not XML, wrong message, schema or content error."""

    def __init__(self, reason: str, *, reason_code: str | None = None, problems: Sequence[str] = ()) -> None:
        self.reason = _one_line(reason)
        self.reason_code = reason_code
        self.problems = tuple(_one_line(p) for p in problems)
        super().__init__(self.reason)


class UnsafeXml(BadMessage):
    """The bytes were refused before or while parsing: too big, too deep, DOCTYPE/entities, wrong encoding."""


class SchemaInvalid(BadMessage):
    """The document does not validate against the official XSD of its message version (ISO code FF01)."""
