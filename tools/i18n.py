"""The message catalogue: src/mianshen/locale/en/LC_MESSAGES/django.po (Chinese msgids, English msgstrs).

    python -m tools.i18n extract   re-read the sources (Django's makemessages: needs GNU gettext's xgettext and
                                   msgmerge), without locations or obsolete entries and with no fuzzy guesses
    python -m tools.i18n compile   write django.mo from django.po (Babel: pure Python, no gettext package)
    python -m tools.i18n check     exit 1 when django.mo is not django.po compiled (run by the tests too)

After adding or changing a message: ``extract``, write its English in django.po, ``compile``, commit both.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "mianshen"
PO = PACKAGE / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def compiled(po: Path = PO) -> bytes:
    """The .mo of ``po``, byte for byte as :func:`main` ``compile`` writes it (fuzzy entries left out)."""
    with po.open("rb") as f:
        catalog = read_po(f)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def extract() -> None:
    """makemessages over the whole package into the one catalogue, then drop msgmerge's fuzzy guesses (a new
    message must get its own English, not a neighbour's)."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="mianshen.settings", PYTHONPATH=str(ROOT / "src"))
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "en", "--no-location", "--no-obsolete"],
        cwd=PACKAGE,
        env=env,
        check=True,
    )
    with PO.open("rb") as f:
        catalog = read_po(f)
    guessed = [m for m in catalog if m.id and m.fuzzy]
    for m in guessed:
        m.flags.discard("fuzzy")
        m.previous_id = []
        m.string = ""
    if guessed:
        with PO.open("wb") as f:
            write_po(f, catalog, width=79, no_location=True)
    missing = [m.id for m in catalog if m.id and not m.string]
    for msgid in missing:
        print(f"no English yet: {msgid!r}")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        extract()
        return 0
    if command == "compile":
        MO.write_bytes(compiled())
        return 0
    if command == "check":
        if not MO.exists() or MO.read_bytes() != compiled():
            print(f"{MO.relative_to(ROOT)} is not {PO.name} compiled: run python -m tools.i18n compile")
            return 1
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
