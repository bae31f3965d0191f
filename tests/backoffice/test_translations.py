"""Every Chinese UI string of the back office has its English translation in the compiled catalogue.

The strings are read from the templates (``{% translate %}``, ``{% blocktranslate %}``) and the Python modules
(``_("…")``, ``gettext("…")``) of ``mianshen.backoffice`` the way ``makemessages`` reads them, and looked up
through Django's own ``gettext`` with English active: so a string missing from ``django.po``, or a ``.po`` not
compiled into ``django.mo``, fails here. (tests/test_i18n.py checks the Python sources of the whole package,
refusals and choice labels included, by reading them with ``ast``.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

import mianshen.backoffice

ROOT = Path(mianshen.backoffice.__file__).parent
TRANSLATE = re.compile(r"""\{%\s*translate\s+(["'])(.*?)\1""")
BLOCK = re.compile(r"\{%\s*blocktranslate\b[^%]*%\}(.*?)\{%\s*endblocktranslate\s*%\}", re.S)
VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
PYTHON = re.compile(r"""(?<![\w.])(?:_|gettext|gettext_lazy)\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]""")
CJK = re.compile(r"[\u4e00-\u9fff]")


def msgids() -> dict[str, str]:
    """msgid → where it was found."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for match in TRANSLATE.finditer(text):
            found.setdefault(match.group(2), path.name)
        for match in BLOCK.finditer(text):
            found.setdefault(VARIABLE.sub(r"%(\1)s", match.group(1)), path.name)
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for match in PYTHON.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match.group(1), path.name)
    return {m: where for m, where in found.items() if CJK.search(m)}


def test_the_scan_finds_the_strings() -> None:
    found = msgids()
    assert len(found) > 300
    assert "拨付概览" in found and "全部" in found
    assert (
        "因我方文件缺陷被银行拒绝、待重新拨付的款项：%(n)s 笔。缺陷修正后，经另一名工作人员审批，以新的交易编号重新拨付。"
        in found
    )


@pytest.mark.parametrize("msgid", sorted(msgids()))
def test_every_string_has_an_english_translation(msgid: str) -> None:
    with translation.override("en"):
        english = translation.gettext(msgid)
    assert english != msgid, f"no English for {msgid!r} ({msgids()[msgid]})"
    assert not CJK.search(english), f"the English of {msgid!r} still has Chinese: {english!r}"
