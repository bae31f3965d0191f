"""Write src/mianshen/portal/locale/en/LC_MESSAGES/django.po from the table of English in tools/portal_en.py
(Chinese msgid → English), then compile it with msgfmt: ``python -m tools.portal_po``. Add a string's English to
the table and run it again; tests/portal/test_translations.py names the strings still missing."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

PO = Path("src/mianshen/portal/locale/en/LC_MESSAGES/django.po")
HEADER = """# English of the public portal (msgids are the Chinese text).
msgid ""
msgstr ""
"Project-Id-Version: mianshen portal\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"Language: en\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

"""


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main(table_path: str) -> None:
    table = runpy.run_path(table_path)["EN"]
    parts = [HEADER]
    for msgid, english in sorted(table.items()):
        if isinstance(english, tuple):
            parts.append(f"msgid {quote(msgid)}\nmsgid_plural {quote(msgid)}\n"
                         f"msgstr[0] {quote(english[0])}\nmsgstr[1] {quote(english[1])}\n\n")  # fmt: skip
        else:
            parts.append(f"msgid {quote(msgid)}\nmsgstr {quote(english)}\n\n")
    PO.parent.mkdir(parents=True, exist_ok=True)
    PO.write_text("".join(parts), encoding="utf-8")
    subprocess.run(["msgfmt", "--check", "-o", str(PO.with_suffix(".mo")), str(PO)], check=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tools/portal_en.py")
