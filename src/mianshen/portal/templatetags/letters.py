"""``{% load letters %}``: the lookup page's letter links (``portal.letter_views.unit_letters``)."""

from mianshen.portal.letter_views import register

__all__ = ["register"]
