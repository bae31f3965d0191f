"""District names in both languages (GB/T 2260 codes; the Chinese names are the registry's)."""

from __future__ import annotations

from django.utils.translation import get_language

from mianshen.staff.roles import DISTRICTS

ENGLISH = {
    "110101": "Dongcheng",
    "110102": "Xicheng",
    "110105": "Chaoyang",
    "110106": "Fengtai",
    "110107": "Shijingshan",
    "110108": "Haidian",
    "110109": "Mentougou",
    "110111": "Fangshan",
    "110112": "Tongzhou",
    "110113": "Shunyi",
    "110114": "Changping",
    "110115": "Daxing",
    "110116": "Huairou",
    "110117": "Pinggu",
    "110118": "Miyun",
    "110119": "Yanqing",
}


def district_name(code: str, language: str | None = None) -> str:
    lang = language if language is not None else (get_language() or "")
    if lang.startswith("en"):
        return ENGLISH.get(code, code)
    return DISTRICTS.get(code, code)


def district_choices() -> list[tuple[str, str]]:
    return [(code, district_name(code)) for code in DISTRICTS]
