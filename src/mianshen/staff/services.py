"""Staff accounts: creating a staff member with a role (and its Django group), setting a password. Audited
(``staff.role_granted``, ``staff.password_changed``). The second factor is ``second_factor``, sign-in counters
and lockout ``signin``; the pages that use them are the back office's.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record

from .roles import DISTRICTS, Role, Staff, role_group


class StaffError(Exception):
    """A staff profile that cannot be created as asked (one line for the user)."""


def staff_add(
    *,
    username: str,
    role: str,
    district: str | None = None,
    password: str | None = None,
    granted_by: str = "system:cli",
) -> Staff:
    """Create a back-office user with its role (and Django group). Without a password the user cannot log in
    until one is set (``changepassword``). Refuses a user who already has a staff profile."""
    user_model = get_user_model()
    username = user_model.normalize_username(username).strip()
    if not username:
        raise StaffError("a user name is required")
    try:
        user_model.username_validator(username)
    except ValidationError as exc:
        raise StaffError(f"user name {username!r}: " + " ".join(exc.messages)) from exc
    if role not in Role.values:
        raise StaffError(f"unknown role {role!r}; one of {', '.join(Role.values)}")
    district = (district or "").strip() or None
    if district is not None and district not in DISTRICTS:
        raise StaffError(f"unknown district {district!r}; one of {', '.join(sorted(DISTRICTS))}")
    if role == Role.DISTRICT_OFFICER and district is None:
        raise StaffError("a district officer needs --district")
    if role in {Role.CITY_ADMIN, Role.AUDITOR} and district is not None:
        raise StaffError(f"a {role} is city-wide: leave out --district")
    with transaction.atomic():
        twin = user_model.objects.filter(username__iexact=username).exclude(username=username).first()
        if twin is not None:
            # Django compares user names case-sensitively: a case twin would be another person to four eyes
            raise StaffError(
                f"user name {username!r} differs from the existing {twin.get_username()!r} only by case"
            )
        user, created = user_model.objects.get_or_create(username=username)
        if Staff.objects.filter(user=user).exists():
            raise StaffError(f"{username} already has a staff profile")
        if password is not None:
            validate_password(password, user)
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        staff = Staff.objects.create(user=user, role=role, district=district)
        user.groups.add(role_group(role))
        audit_record(
            actor=granted_by,
            action=Action.STAFF_ROLE_GRANTED,
            obj_type="staff",
            obj_id=str(user.pk),
            after={"username": username, "role": role, "district": district},
        )
    return staff


def staff_password_set(*, user: Any, password: str, actor: str) -> None:
    """Set ``user``'s password after Django's validators (settings.AUTH_PASSWORD_VALIDATORS) accept it
    (``ValidationError`` otherwise); recorded, without the password."""
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, actor_id=user.pk if actor == user.get_username() else None,
                     action=Action.STAFF_PASSWORD_CHANGED, obj_type="staff_account", obj_id=user.get_username(),
                     after={"password": "changed"})  # fmt: skip
