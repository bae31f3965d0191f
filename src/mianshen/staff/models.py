"""Staff models: the staff profile (``roles.Staff``, imported here so Django registers it)."""

from __future__ import annotations

from .roles import Staff

__all__ = ["Staff"]
