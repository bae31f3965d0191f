"""The second factor (issue 9, item 10): TOTP and single-use recovery codes (django-otp), required for city
administrators and reviewers, optional for the other roles (by setting), enrolled by `mianshen staff add` /
`staff enrol-totp`, by the demo, or on a required user's first sign-in; wrong codes count towards the lockout."""

from __future__ import annotations

import io
import re
from base64 import b32decode
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.staff.second_factor import second_factor_enrol, totp_confirm

from .world import World

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PASSWORD = "right-horse-battery-7"
LOGIN, DASHBOARD = "/office/login/", "/office/"
VERIFY, ENROL = "/office/login/verify/", "/office/login/enrol/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(world: World, settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    # django-otp's own back-off after a wrong code (a delay of seconds) is its business, tested there; the
    # lockout that counts wrong codes is ours (below)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def with_password(name: str) -> Any:
    user = get_user_model().objects.get(username=name)
    user.set_password(PASSWORD)
    user.save()
    return user


def code_for(secret: str) -> str:
    """What an authenticator app shows now for the base32 ``secret``."""
    return f"{TOTP(b32decode(secret)).token():06d}"


def sign_in(name: str, client: Client, next_url: str = "") -> Any:
    data = {"username": name, "password": PASSWORD} | ({"next": next_url} if next_url else {})
    return client.post(LOGIN, data, REMOTE_ADDR="10.0.0.1")


def actions(action: Action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_a_city_administrator_signs_in_with_password_and_code() -> None:
    user = with_password("city")
    enrolment = second_factor_enrol(user=user, actor="test")
    client = Client()
    first = sign_in("city", client)
    assert first.status_code == 302 and first["Location"] == f"{VERIFY}?next=%2Foffice%2F"
    assert not actions(Action.STAFF_SIGNED_IN)  # the password alone is not a sign-in
    held = client.get(reverse("backoffice:rounds"))  # every page waits for the code
    assert held.status_code == 302 and held["Location"].startswith(VERIFY)
    wrong = client.post(VERIFY, {"token": "000000" if code_for(enrolment.secret) != "000000" else "111111"})
    assert wrong.status_code == 422 and "验证码不正确" in wrong.content.decode()
    [failed] = actions(Action.STAFF_SIGN_IN_FAILED)
    assert failed.after["failure"] == "second_factor"
    done = client.post(VERIFY, {"token": code_for(enrolment.secret), "next": "https://elsewhere.example/"})
    assert done.status_code == 302 and done["Location"] == DASHBOARD  # never sent off-site
    assert client.get(DASHBOARD).status_code == 200
    [event] = actions(Action.STAFF_SIGNED_IN)
    assert event.after["second_factor"] == "totp"


def test_a_recovery_code_works_once() -> None:
    user = with_password("rev")
    code = second_factor_enrol(user=user, actor="test").recovery_codes[0]
    client = Client()
    sign_in("rev", client)
    assert client.post(VERIFY, {"token": code.upper()}).status_code == 302  # as typed: case and blanks
    assert client.get(DASHBOARD).status_code == 200
    assert actions(Action.STAFF_SIGNED_IN)[0].after["second_factor"] == "recovery_code"
    assert StaticToken.objects.filter(device__user=user).count() == 9
    again = Client()
    sign_in("rev", again)
    assert again.post(VERIFY, {"token": code}).status_code == 422


def test_a_required_user_without_a_device_enrols_on_first_sign_in() -> None:
    with_password("rev")
    client = Client()
    first = sign_in("rev", client)
    assert first.status_code == 302 and first["Location"].startswith(ENROL)
    assert client.get(DASHBOARD)["Location"].startswith(ENROL)
    page = client.get(first["Location"]).content.decode()
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page)
    assert secret is not None and "otpauth://totp/mianshen%3Arev" in page
    shown = client.post(ENROL, {"token": code_for(secret.group(1))})
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", shown.content.decode())
    assert shown.status_code == 200 and len(codes) == 10
    assert client.get(DASHBOARD).status_code == 200
    assert TOTPDevice.objects.filter(user__username="rev", confirmed=True).count() == 1
    [enrolled] = actions(Action.STAFF_SECOND_FACTOR_ENROLLED)
    assert enrolled.after == {
        "devices": ["totp", "recovery_codes"],
        "recovery_codes": 10,
        "via": "sign-in page",
    }
    assert secret.group(1) not in str([e.after for e in AuditEvent.objects.all()])
    assert actions(Action.STAFF_SIGNED_IN)[0].after["second_factor"] == "totp"


def test_a_password_alone_cannot_add_a_device() -> None:
    user = with_password("city")
    enrolment = second_factor_enrol(user=user, actor="test")
    client = Client()
    sign_in("city", client)
    assert client.get(ENROL)["Location"].startswith(VERIFY)
    pending = TOTPDevice.objects.create(user=user, name="attacker", confirmed=False)
    token = f"{TOTP(pending.bin_key).token():06d}"
    assert totp_confirm(user=user, token=token) is None
    assert not TOTPDevice.objects.get(pk=pending.pk).confirmed
    assert client.get(DASHBOARD)["Location"].startswith(VERIFY)
    assert client.post(VERIFY, {"token": code_for(enrolment.secret)}).status_code == 302


def test_other_roles_use_it_if_enrolled_or_if_the_setting_requires_it(settings: Any) -> None:
    user = with_password("own")
    plain = Client()
    assert sign_in("own", plain)["Location"] == DASHBOARD  # a district officer: not required
    assert plain.get(DASHBOARD).status_code == 200
    settings.SECOND_FACTOR_REQUIRED_ROLES = frozenset({"city_admin", "reviewer", "district_officer"})
    assert plain.get(DASHBOARD)["Location"].startswith(ENROL)  # required now: the session waits
    settings.SECOND_FACTOR_REQUIRED_ROLES = frozenset({"city_admin", "reviewer"})
    second_factor_enrol(user=user, actor="test")
    enrolled = Client()
    assert sign_in("own", enrolled)["Location"].startswith(VERIFY)  # enrolled: always used


def test_wrong_codes_count_towards_the_lockout() -> None:
    user = with_password("city")
    second_factor_enrol(user=user, actor="test")
    client = Client()
    sign_in("city", client)
    statuses = [client.post(VERIFY, {"token": f"{n:06d}"}).status_code for n in (1, 2, 3, 4, 5)]
    assert statuses == [422, 422, 422, 422, 302]  # the 5th locks: signed out, back to the log-in page
    assert client.get(DASHBOARD)["Location"].startswith(LOGIN)
    assert len(actions(Action.STAFF_LOCKED_OUT)) == 1
    assert sign_in("city", Client()).status_code == 403  # locked: even the right password


def test_staff_add_enrols_a_required_role_and_prints_the_secret_once() -> None:
    out = io.StringIO()
    call_command("staff", "add", "boss", "--role", "city_admin", stdout=out)
    text = out.getvalue()
    secret = re.search(r"TOTP secret: ([A-Z2-7]+)", text)
    assert secret is not None and "otpauth://totp/mianshen%3Aboss?secret=" in text
    assert len(re.search(r"recovery codes \(each works once\): (.*)", text).group(1).split()) == 10  # type: ignore[union-attr]
    device = TOTPDevice.objects.get(user__username="boss")
    assert device.confirmed and device.verify_token(code_for(secret.group(1)))
    assert secret.group(1) not in str([e.after for e in AuditEvent.objects.all()])
    again = io.StringIO()
    call_command("staff", "enrol-totp", "boss", stdout=again)  # a lost phone: replaced
    assert (
        secret.group(1) not in again.getvalue()
        and TOTPDevice.objects.filter(user__username="boss").count() == 1
    )
    officer = io.StringIO()
    call_command(
        "staff", "add", "clerk", "--role", "district_officer", "--district", "110105", stdout=officer
    )
    assert "TOTP" not in officer.getvalue()  # not required: only with --totp


def test_the_demo_users_sign_in_with_the_secrets_in_their_file(tmp_path: Path) -> None:
    from mianshen.cli.management.commands.demo import _demo_staff

    path, password = _demo_staff(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text(encoding="utf-8")
    secret = re.search(r"^admin: TOTP secret ([A-Z2-7]+)", text, re.M)
    assert secret is not None and f"password: {password}" in text
    client = Client()
    first = client.post(LOGIN, {"username": "admin", "password": password}, REMOTE_ADDR="10.0.0.1")
    assert first["Location"].startswith(VERIFY)
    assert client.post(VERIFY, {"token": code_for(secret.group(1))}).status_code == 302
    assert client.get(DASHBOARD).status_code == 200


def test_a_throttled_address_cannot_try_codes_either() -> None:
    from django.utils import timezone

    from mianshen.staff.models import SignInCounter

    user = with_password("city")
    enrolment = second_factor_enrol(user=user, actor="test")
    client = Client()
    sign_in("city", client)
    SignInCounter.objects.create(scope="address", key="10.0.0.1", failures=20, window_start=timezone.now())
    throttled = client.post(VERIFY, {"token": code_for(enrolment.secret)}, REMOTE_ADDR="10.0.0.1")
    assert throttled.status_code == 429 and "登录失败次数过多" in throttled.content.decode()
    assert client.get(DASHBOARD)["Location"].startswith(VERIFY)  # still not verified
