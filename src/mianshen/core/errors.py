"""Refusals: what a service says when its rules refuse a request — one line in English (the command line, logs,
tests) and in Chinese (the back office, whose users read Chinese first)."""

from __future__ import annotations

from django.utils.translation import get_language


class Refusal(Exception):
    """A request the rules refuse. ``str()`` is the English line; :meth:`text` follows the active language."""

    def __init__(self, en: str, zh: str = "") -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh or en

    def text(self, language: str | None = None) -> str:
        """The message in ``language`` (default: the active one; Chinese unless it is English)."""
        lang = language if language is not None else (get_language() or "")
        return self.en if lang.startswith("en") else self.zh
