"""The back office's view of staff roles: the roles, permissions and scoping live in ``mianshen.staff.roles``
(below the apps that route work to staff); here only the case list a user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from mianshen.cases.models import Case
from mianshen.staff.roles import (
    CASE_PERMS,
    CITY_PERMS,
    DISTRICTS,
    ROLE_PERMS,
    Perm,
    Role,
    Staff,
    allowed_perms,
    can,
    can_act,
    can_view_case,
    role_group,
    scope,
    staff_of,
)

__all__ = [
    "CASE_PERMS",
    "CITY_PERMS",
    "DISTRICTS",
    "ROLE_PERMS",
    "Perm",
    "Role",
    "Staff",
    "allowed_perms",
    "can",
    "can_act",
    "can_view_case",
    "role_group",
    "scope",
    "staff_of",
    "visible_cases",
]


def visible_cases(user: Any) -> QuerySet[Case]:
    """The cases ``user`` may see: every case for city-level staff, one district's for district staff."""
    return scope(Case.objects.all(), user)
