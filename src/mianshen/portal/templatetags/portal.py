"""Template helpers of the public portal."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest

from mianshen.core.money import format_yuan

register = template.Library()


@register.simple_tag
def with_query(request: HttpRequest, **changes: Any) -> str:
    """The current path with its query changed (``lang``, ``page``): ``?q=x&page=2``."""
    query = request.GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return f"{request.path}?{encoded}" if encoded else request.path


@register.filter
def yuan(fen: Any) -> str:
    """Integer fen as yuan (``123456`` → ``1,234.56``); anything else is refused."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("yuan takes integer fen")
    return format_yuan(fen)


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    """``mapping[key]`` in a template ("" when missing)."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""
