"""Log-in, CSRF, language (Chinese first), money formatting, and the `mianshen staff` command."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from mianshen.backoffice.templatetags.backoffice import fen_yuan
from mianshen.staff.roles import Role, Staff

from .world import World

Login = Callable[[str | None], Any]
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only: keep log-ins fast


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "0.00"), (5, "0.05"), (99, "0.99"), (100, "1.00"), (123456, "1,234.56"), (-5, "-0.05"),
     (-123456, "-1,234.56"), (10**17 + 1, "1,000,000,000,000,000.01"), (None, "—"), ("250", "2.50")],
)  # fmt: skip
def test_fen_yuan(fen: object, text: str) -> None:
    assert fen_yuan(fen) == text


@pytest.mark.parametrize("bad", [1.5, Decimal("1.50"), True, "1.5"])
def test_fen_yuan_refuses_anything_but_integer_fen(bad: object) -> None:
    with pytest.raises(TypeError):
        fen_yuan(bad)


@pytest.mark.django_db
def test_login_page_and_log_in(world: World, settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    user = get_user_model().objects.get(username="own")
    user.set_password("s3cret-pass")
    user.save()
    client = Client()
    dashboard = reverse("backoffice:dashboard")
    assert client.get(dashboard)["Location"] == reverse("backoffice:login") + "?next=" + dashboard
    page = client.get(reverse("backoffice:login"))
    assert page.status_code == 200 and "工作人员登录" in page.content.decode()
    bad = client.post(reverse("backoffice:login"), {"username": "own", "password": "wrong"})
    assert bad.status_code == 200 and not bad.wsgi_request.user.is_authenticated
    ok = client.post(reverse("backoffice:login"), {"username": "own", "password": "s3cret-pass"})
    assert ok.status_code == 302 and ok["Location"] == dashboard
    assert client.get(dashboard).status_code == 200
    out = client.post(reverse("backoffice:logout"))
    assert out.status_code == 302 and client.get(dashboard).status_code == 302


@pytest.mark.django_db
def test_csrf_is_enforced(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username="own"))
    url = reverse("backoffice:objection_record", args=[world.publicised.pk])
    refused = client.post(url, {"raised_by": "public", "contact": "1", "grounds": "x"})
    assert refused.status_code == 403
    page = client.get(reverse("backoffice:case", args=[world.publicised.pk]))
    token = page.cookies["csrftoken"].value
    accepted = client.post(
        url, {"raised_by": "public", "contact": "1", "grounds": "x", "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 302


@pytest.mark.django_db
def test_chinese_by_default_english_on_request(world: World, login: Login) -> None:
    client = login("city")
    zh = client.get(reverse("backoffice:dashboard")).content.decode()
    assert '<html lang="zh-hans">' in zh and "各状态案件" in zh and "公示中" in zh
    switched = client.post(reverse("backoffice:set_language"), {"language": "en", "next": "/office/"})
    assert switched.status_code == 302
    en = client.get(reverse("backoffice:dashboard")).content.decode()
    assert '<html lang="en">' in en and "Cases by state" in en and "On public notice" in en
    assert "各状态案件" not in en


@pytest.mark.django_db
def test_staff_command(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    out = io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO("pa55-word-long\n"))
    call_command("staff", "add", "zhang", "--role", "district_officer", "--district", "110105", "--password-stdin",
                 stdout=out)  # fmt: skip
    assert "district_officer in 110105" in out.getvalue()
    staff = Staff.objects.select_related("user").get(user__username="zhang")
    assert (staff.role, staff.district) == (Role.DISTRICT_OFFICER, "110105")
    assert staff.user.check_password("pa55-word-long")
    assert staff.user.groups.filter(name="district_officer").exists()

    call_command("staff", "add", "li", "--role", "auditor", stdout=io.StringIO())
    li = get_user_model().objects.get(username="li")
    assert not li.has_usable_password() and li.staff.district is None

    for args, message in (
        (["add", "wang", "--role", "district_officer"], "needs --district"),
        (["add", "wang", "--role", "city_admin", "--district", "110105"], "city-wide"),
        (["add", "wang", "--role", "reviewer", "--district", "999999"], "unknown district"),
        (["add", "zhang", "--role", "reviewer"], "already has a staff profile"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command("staff", *args, stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="wang").exists()
    listing = io.StringIO()
    call_command("staff", "list", stdout=listing)
    assert "zhang\tdistrict_officer\t110105" in listing.getvalue()


@pytest.mark.django_db
def test_data_migration_creates_a_group_per_role() -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("mianshen.backoffice.migrations.0002_role_groups")
    Group.objects.filter(name__in=Role.values).delete()
    migration.create_groups(apps, None)
    migration.create_groups(apps, None)  # idempotent
    assert sorted(Group.objects.filter(name__in=Role.values).values_list("name", flat=True)) == sorted(
        Role.values
    )


def test_vendored_htmx_matches_its_record() -> None:
    import hashlib
    from pathlib import Path

    import mianshen.backoffice

    static = Path(mianshen.backoffice.__file__).parent / "static" / "backoffice"
    digest = hashlib.sha256((static / "htmx.min.js").read_bytes()).hexdigest()
    assert f"`{digest}`" in (static / "VENDOR.md").read_text(encoding="utf-8")
