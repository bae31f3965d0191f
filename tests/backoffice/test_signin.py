"""Sign-in protections (issue 9, item 8): a password guesser is locked out per account and throttled per
address; only an administrator lifts a lock (`mianshen staff unlock`, the staff page); every sign-in, failure,
lockout, throttling, unlock and sign-out is an audit event, and none holds the password typed."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent

from .world import World

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only: keep log-ins fast
PASSWORD = "right-horse-battery-7"
LOGIN = "/office/login/"


@pytest.fixture
def own(world: World, settings: Any) -> Any:
    """the district officer ``own`` (no second factor required) with a known password"""
    settings.PASSWORD_HASHERS = FAST_HASHER
    user = get_user_model().objects.get(username="own")
    user.set_password(PASSWORD)
    user.save()
    return user


def attempt(name: str, password: str, address: str = "10.0.0.1", client: Client | None = None) -> Any:
    return (client or Client()).post(LOGIN, {"username": name, "password": password}, REMOTE_ADDR=address)


def counters() -> Any:
    from mianshen.staff.models import SignInCounter

    return SignInCounter.objects


def events(action: Action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def signed_in(response: Any) -> bool:
    return bool(response.wsgi_request.user.is_authenticated)


@pytest.mark.django_db
def test_fifty_wrong_passwords_then_the_right_one_is_refused(own: Any) -> None:
    """The attack of the issue: 50 wrong passwords from one address, then the right one. The 5th failure locks
    the account; from the 20th the address is throttled (429, nothing checked)."""
    statuses = [attempt("own", f"guess-{i}").status_code for i in range(50)]
    assert statuses == [200] * 5 + [403] * 15 + [429] * 30
    right = attempt("own", PASSWORD)
    assert right.status_code == 429 and not signed_in(right)
    elsewhere = attempt("own", PASSWORD, address="10.9.9.9")  # another address: the account is still locked
    assert elsewhere.status_code == 403 and not signed_in(elsewhere)
    assert "已被锁定" in elsewhere.content.decode()

    failed = events(Action.STAFF_SIGN_IN_FAILED)
    assert len(failed) == 21  # 5 wrong passwords + 16 attempts at the locked account (15 + the one elsewhere)
    assert [e.after["failure"] for e in failed[:6]] == ["password"] * 5 + ["locked"]
    [locked] = events(Action.STAFF_LOCKED_OUT)
    assert (locked.object_id, locked.after["failures"]) == ("own", 5)
    [throttled] = events(Action.STAFF_SIGN_IN_THROTTLED)
    assert (throttled.object_id, throttled.after["failures"]) == ("10.0.0.1", 20)
    trail = " ".join(str(e.after) + e.reason for e in AuditEvent.objects.all())
    assert "guess-" not in trail and PASSWORD not in trail  # never the password typed


@pytest.mark.django_db
def test_an_administrator_lifts_the_lock_on_the_command_line(own: Any) -> None:
    for i in range(5):
        attempt("own", f"guess-{i}", address=f"10.0.1.{i}")
    assert attempt("own", PASSWORD, address="10.0.2.1").status_code == 403
    out = io.StringIO()
    call_command("staff", "list", stdout=out)
    assert "own\tdistrict_officer" in out.getvalue() and "LOCKED" in out.getvalue()
    call_command("staff", "unlock", " own", stdout=out)  # the name as Django compares names
    assert "own: lock lifted" in out.getvalue()
    [unlocked] = events(Action.STAFF_UNLOCKED)
    assert unlocked.object_id == "own" and unlocked.before["failures"] == 6
    ok = attempt("own", PASSWORD, address="10.0.2.1")
    assert ok.status_code == 302 and signed_in(ok)
    [event] = events(Action.STAFF_SIGNED_IN)
    assert (event.actor, event.after) == ("own", {"address": "10.0.2.1", "second_factor": "none"})
    with pytest.raises(CommandError, match="'own' is not locked") as info:
        call_command("staff", "unlock", "own", stdout=io.StringIO())
    assert info.value.returncode == 2


@pytest.mark.django_db
def test_a_city_administrator_lifts_the_lock_in_the_back_office(own: Any, login: Any) -> None:
    for i in range(5):
        attempt("own", f"guess-{i}", address=f"10.0.1.{i}")
    admin = login("city")
    page = admin.get(reverse("backoffice:staff_accounts")).content.decode()
    assert 'data-locked="own"' in page
    done = admin.post(reverse("backoffice:staff_unlock"), {"name": "own"})
    assert done.status_code == 302
    assert events(Action.STAFF_UNLOCKED)[0].actor == "city"
    assert 'data-locked="own"' not in admin.get(reverse("backoffice:staff_accounts")).content.decode()
    assert attempt("own", PASSWORD, address="10.0.2.1").status_code == 302


@pytest.mark.django_db
def test_the_lock_outlasts_the_window(own: Any) -> None:
    for i in range(5):
        attempt("own", f"guess-{i}", address=f"10.0.1.{i}")
    counters().update(window_start=timezone.now() - timedelta(days=1))
    assert attempt("own", PASSWORD, address="10.0.2.1").status_code == 403


@pytest.mark.django_db
def test_failures_spread_beyond_the_window_do_not_lock(own: Any) -> None:
    for i in range(4):
        attempt("own", f"guess-{i}", address=f"10.0.1.{i}")
    counters().update(window_start=timezone.now() - timedelta(minutes=16))
    attempt("own", "guess-4", address="10.0.1.9")  # a new window: 1 failure, not 5
    ok = attempt("own", PASSWORD, address="10.0.2.1")
    assert ok.status_code == 302 and not events(Action.STAFF_LOCKED_OUT)


@pytest.mark.django_db
def test_an_address_is_throttled_across_accounts_and_for_its_window_only(own: Any) -> None:
    for i in range(20):
        assert attempt(f"someone-{i}", "guess", address="10.0.0.7").status_code == 200
    throttled = attempt("own", PASSWORD, address="10.0.0.7")
    assert throttled.status_code == 429 and not signed_in(throttled)
    assert AuditEvent.objects.filter(action=Action.STAFF_SIGN_IN_FAILED).count() == 20  # the 429: no event
    assert attempt("own", PASSWORD, address="10.0.0.8").status_code == 302  # the account is not locked
    counters().filter(scope="address").update(window_start=timezone.now() - timedelta(minutes=16))
    assert attempt("own", PASSWORD, address="10.0.0.7").status_code == 302  # the window is over


@pytest.mark.django_db
def test_an_unknown_name_is_locked_like_a_known_one(own: Any) -> None:
    """A lockout says nothing about whether the user exists."""
    pages = []
    for name in ("own", "no-such-user"):
        for i in range(5):
            attempt(name, f"guess-{i}", address=f"10.0.3.{i}")
        pages.append(attempt(name, PASSWORD, address="10.0.4.1"))
    assert [p.status_code for p in pages] == [403, 403]
    csrf = re.compile(r"[A-Za-z0-9]{64}")  # CSRF tokens
    texts = [csrf.sub("", p.content.decode().replace("no-such-user", "own")) for p in pages]
    assert texts[0] == texts[1] and "已被锁定" in texts[0]


@pytest.mark.django_db
def test_behind_a_proxy_the_configured_header_is_the_address(own: Any, settings: Any) -> None:
    settings.SIGNIN_CLIENT_ADDRESS_HEADER = "HTTP_X_REAL_IP"
    for i in range(20):
        Client().post(LOGIN, {"username": f"x{i}", "password": "g"}, REMOTE_ADDR="127.0.0.1",
                      HTTP_X_REAL_IP="203.0.113.5")  # fmt: skip
    proxied = Client().post(LOGIN, {"username": "own", "password": PASSWORD}, REMOTE_ADDR="127.0.0.1",
                            HTTP_X_REAL_IP="198.51.100.1")  # fmt: skip
    assert proxied.status_code == 302  # another client behind the same proxy is not throttled


@pytest.mark.django_db
def test_signing_out_is_recorded(own: Any) -> None:
    client = Client()
    assert attempt("own", PASSWORD, client=client).status_code == 302
    client.post(reverse("backoffice:logout"), REMOTE_ADDR="10.0.0.1")
    [out] = events(Action.STAFF_SIGNED_OUT)
    assert out.actor == "own"


def test_sign_in_names_are_normalised_and_storable() -> None:
    from mianshen.staff.signin import sign_in_name

    assert sign_in_name("  ｏｗｎ ") == "own"  # NFKC, as Django's log-in form
    assert sign_in_name("a\x00b\ud800") == "a\ufffdb\ufffd"  # no NUL or lone surrogate reaches the trail
    assert len(sign_in_name("x" * 500)) == 150
