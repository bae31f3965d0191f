"""District names in the page's language (GB/T 2260 codes; the names are the staff app's ``DISTRICTS``, Chinese
source text with English in the one catalogue)."""

from __future__ import annotations

from django.utils import translation

from mianshen.staff.roles import DISTRICTS


def district_name(code: str, language: str | None = None) -> str:
    """The district's name in ``language`` (default: the active one); an unknown code as it is."""
    if language is None:
        return str(DISTRICTS.get(code, code))
    with translation.override(language):
        return str(DISTRICTS.get(code, code))


def district_choices() -> list[tuple[str, str]]:
    return [(code, district_name(code)) for code in DISTRICTS]
