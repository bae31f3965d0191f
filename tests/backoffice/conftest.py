"""Back-office fixtures: ``world`` (built once per module inside a transaction that is rolled back after the
module; each test nests in it as a savepoint), ``pay`` (the world with payments, built on it once per module, in
the same transaction, only by the modules that ask for it) and ``login`` (a test client for a user of the
world)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client

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


@pytest.fixture
def login(db: None, world: World) -> Callable[[str | None], Client]:
    """``login(name)`` → a test client logged in as that user (``None``: anonymous)."""

    def make(name: str | None) -> Client:
        client = Client()
        if name is not None:
            client.force_login(get_user_model().objects.get(username=name))
        return client

    return make
