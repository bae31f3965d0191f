"""Staff passwords (issue 9, item 9): Django's validators (at least 12 characters, not a common password, not
all digits, not like the user name) for `mianshen staff add` and the back office's password page; a refusal is
one line and leaves nothing behind."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent

from .world import World

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("1", "too short"),
        ("password", "too common"),
        ("123456789012", "entirely numeric"),
        ("wang-xiaoming-1", "too similar to the username"),
    ],
)
def test_staff_add_refuses_a_weak_password(
    monkeypatch: pytest.MonkeyPatch, settings: Any, password: str, why: str
) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    with pytest.raises(CommandError, match="password refused: ") as info:
        call_command("staff", "add", "wang-xiaoming", "--role", "city_admin", "--password-stdin",
                     stdout=io.StringIO())  # fmt: skip
    assert why in str(info.value) and "\n" not in str(info.value) and info.value.returncode == 2
    assert not get_user_model().objects.filter(username="wang-xiaoming").exists()  # nothing half-made
    assert not AuditEvent.objects.filter(action=Action.STAFF_ROLE_GRANTED).exists()


def test_staff_add_refuses_a_user_name_django_would_not_accept() -> None:
    with pytest.raises(CommandError, match="user name 'li si'") as info:
        call_command("staff", "add", "li si", "--role", "auditor", stdout=io.StringIO())
    assert info.value.returncode == 2


def test_staff_add_accepts_a_strong_password(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    monkeypatch.setattr("sys.stdin", io.StringIO("grey-heron-lantern-42\n"))
    call_command("staff", "add", "wang", "--role", "auditor", "--password-stdin", stdout=io.StringIO())
    assert get_user_model().objects.get(username="wang").check_password("grey-heron-lantern-42")


def test_the_password_page_applies_the_validators(world: World, settings: Any) -> None:
    from .conftest import verified_login

    settings.PASSWORD_HASHERS = FAST_HASHER
    user = get_user_model().objects.get(username="aud")  # an auditor: read-only, but its own password it sets
    user.set_password("old-password-of-aud")
    user.save()
    client = verified_login(Client(), user)
    url = reverse("backoffice:password_change")
    weak = client.post(url, {"old_password": "old-password-of-aud", "new_password1": "password",
                             "new_password2": "password"})  # fmt: skip
    assert weak.status_code == 422
    user.refresh_from_db()
    assert user.check_password("old-password-of-aud")
    ok = client.post(url, {"old_password": "old-password-of-aud", "new_password1": "grey-heron-lantern-42",
                           "new_password2": "grey-heron-lantern-42"})  # fmt: skip
    assert ok.status_code == 302
    user.refresh_from_db()
    assert user.check_password("grey-heron-lantern-42")
    [event] = AuditEvent.objects.filter(action=Action.STAFF_PASSWORD_CHANGED)
    assert event.actor == "aud" and "grey-heron" not in str(event.after)
    assert client.get(reverse("backoffice:dashboard")).status_code == 200  # still signed in
