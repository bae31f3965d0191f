"""Refusals: what a service says when its rules refuse a request — one gettext message whose source text is
Chinese (the back office's users read Chinese first) and whose English is in the catalogue
(``src/mianshen/locale/en``), with its parameters kept as data so that it renders in either language.

``str()`` is the English line (the command line, logs, tests, the audit trail's ``reason``); :meth:`Refusal.text`
follows the active language (the back office) or the one asked for.

    raise CaseError(_("案件 %(case)s 不在任何公示名单上"), case=case.pk)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_noop

ENGLISH = "en"
CHINESE = "zh-hans"


def render(message: str | Promise, params: dict[str, Any] | None = None) -> str:
    """``message`` in the active language, its ``%(name)s`` parameters filled in (a lazy parameter — a choice
    label, another message, a :class:`Listing` — renders in the active language too)."""
    text = str(message)
    if not params:
        return text
    return text % {k: str(v) if isinstance(v, Promise | Listing | Message) else v for k, v in params.items()}


def in_language(language: str, message: str | Promise, params: dict[str, Any] | None = None) -> str:
    """``message`` rendered in ``language`` (``en``, ``zh-hans``) whatever the active one: for a text stored in
    both languages at once (a notice to a unit)."""
    with translation.override(language):
        return render(message, params)


class Message:
    """A message with its parameters, rendered when shown, in the language active then (a parameter of another
    message, a reason's meaning)."""

    def __init__(self, message: str | Promise, /, **params: Any) -> None:
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return render(self.message, self.params)

    def __repr__(self) -> str:
        return f"Message({self.message!r}, **{self.params!r})"


class Listing:
    """A list for a message, joined the way the active language writes lists (``、`` in Chinese, ``, `` in
    English); its items may be lazy messages."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = list(items)

    def __str__(self) -> str:
        return gettext("、").join(str(i) for i in self.items)

    def __repr__(self) -> str:
        return f"Listing({self.items!r})"


gettext_noop("、")  # the separator of a Listing: its English is ", "


class Refusal(Exception):
    """A request the rules refuse: one gettext message (Chinese source text, English in the catalogue) and the
    values of its ``%(name)s`` parameters. ``str()`` is English; :meth:`text` follows the active language."""

    def __init__(self, message: str | Promise, /, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def text(self, language: str | None = None) -> str:
        """The message in ``language`` (default: the active one)."""
        if language is None:
            return render(self.message, self.params)
        with translation.override(language):
            return render(self.message, self.params)

    def __str__(self) -> str:
        return self.text(ENGLISH)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.params))

    @property
    def en(self) -> str:
        return self.text(ENGLISH)

    @property
    def zh(self) -> str:
        return self.text(CHINESE)


def _rebuild(cls: type[Refusal], message: str | Promise, params: dict[str, Any]) -> Refusal:
    return cls(message, **params)
