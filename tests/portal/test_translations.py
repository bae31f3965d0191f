"""Every Chinese string of the portal has its English in the compiled catalogue (portal/locale/en).

The strings are read from the templates (``{% translate %}``, ``{% blocktranslate %}``, with ``{% plural %}``
forms) and the Python modules (``_("…")``, ``gettext("…")``, ``N_("…")``) the way ``makemessages`` reads them, and
looked up through Django's own ``gettext`` with English active."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

import mianshen.portal

ROOT = Path(mianshen.portal.__file__).parent
TRANSLATE = re.compile(r"""\{%\s*translate\s+(["'])(.*?)\1""")
BLOCK = re.compile(r"\{%\s*blocktranslate\b[^%]*%\}(.*?)\{%\s*endblocktranslate\s*%\}", re.S)
VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
PYTHON = re.compile(
    r"""(?<![\w.])(?:_|N_|gettext|gettext_lazy|gettext_noop)\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]"""
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def msgids() -> dict[str, str]:
    """msgid → where it was found (a plural block gives its singular form)."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for match in TRANSLATE.finditer(text):
            found.setdefault(match.group(2), path.name)
        for match in BLOCK.finditer(text):
            singular = re.split(r"\{%\s*plural\s*%\}", match.group(1))[0]
            found.setdefault(VARIABLE.sub(r"%(\1)s", singular), path.name)
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for match in PYTHON.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match.group(1), path.name)
    return {m: where for m, where in found.items() if CJK.search(m)}


def test_the_scan_finds_the_strings() -> None:
    found = msgids()
    assert len(found) > 150
    assert "公示名单" in found and "企业" in found
    assert "共 %(n)s 家单位" in found


@pytest.mark.parametrize("msgid", sorted(msgids()))
def test_every_string_has_an_english_translation(msgid: str) -> None:
    with translation.override("en"):
        english = translation.gettext(msgid)
    assert english != msgid, f"no English for {msgid!r} ({msgids()[msgid]})"
    assert not CJK.search(english), f"the English of {msgid!r} still has Chinese: {english!r}"
