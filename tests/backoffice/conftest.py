"""Back-office fixtures: ``world`` (built once per module inside a transaction that is rolled back after the
module; each test nests in it as a savepoint), ``pay`` (the world with payments, built on it once per module, in
the same transaction, only by the modules that ask for it) and ``login`` (a test client for a user of the
world, its session verified with a second factor the way django-otp does it: ``verified_login``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from .payworld import PayWorld, build_payments
from .world import World, build


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():  # type: ignore[attr-defined]
        yield build(tmp_path_factory.mktemp("backoffice"))
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def pay(
    world: World, django_db_blocker: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> PayWorld:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        return build_payments(world, tmp_path_factory.mktemp("bank"))


def verified_login(client: Client, user: object) -> Client:
    """Log ``client`` in as ``user`` with a second factor: the user gets a confirmed TOTP device (if it has
    none) and the session names it, as ``django_otp.login`` does after a code was accepted (the tests of the
    code itself are in test_second_factor)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="TOTP", confirmed=True)
    client.force_login(user)  # type: ignore[arg-type]
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def login(db: None, world: World) -> Callable[[str | None], Client]:
    """``login(name)`` → a test client signed in as that user, second factor verified (``None``:
    anonymous)."""

    def make(name: str | None) -> Client:
        client = Client()
        if name is not None:
            verified_login(client, get_user_model().objects.get(username=name))
        return client

    return make
