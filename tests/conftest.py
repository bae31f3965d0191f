"""Project-wide test configuration.

The audit trail's append-only triggers refuse the DELETE/TRUNCATE with which Django flushes tables between
transactional tests; the plugin below lifts them around the flush only (see ``mianshen.audit.testing``).
"""

import os
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.utils import OperationalError

pytest_plugins = ["mianshen.audit.testing"]

# Command-line messages follow a Chinese locale (``core.command.cli_language``); the tests read them in English,
# so a Chinese locale of the machine running them is set aside (the language tests set their own).
for _name in ("LC_ALL", "LC_MESSAGES", "LANG"):
    if os.environ.get(_name, "").lower().startswith("zh"):
        os.environ[_name] = "C.UTF-8"

# Fixtures through which a test reaches the database (pytest-django's own, and its marker's helper).
_DB_FIXTURES = {"_django_db_helper", "db", "transactional_db", "live_server", "django_db_setup"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``MIANSHEN_TEST_DB_ONLY=1`` keep only the tests that touch the database.

    ``make test`` runs the whole suite on SQLite, then only the database tests again on PostgreSQL: a test that
    never opens a connection (parsers, the policy core, formats) would prove nothing new the second time.
    """
    if os.environ.get("MIANSHEN_TEST_DB_ONLY") != "1":
        return
    keep, drop = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") is not None or bool(
            _DB_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _empty_view_caches() -> None:
    """The portal's per-process caches start empty in each test: a test's rolled-back rows may come back with
    the same ids in the next test (SQLite reuses row ids), and a frozen clock can give them the same times."""
    if "mianshen.portal.view_cache" in sys.modules:
        sys.modules["mianshen.portal.view_cache"].clear_all()
    if "mianshen.portal.selectors" in sys.modules:  # a notice's size, counted once per process (frozen lines)
        sys.modules["mianshen.portal.selectors"]._notice_size.cache_clear()
    if "mianshen.registry.kept" in sys.modules:  # the frames of the last snapshot imported
        sys.modules["mianshen.registry.kept"].forget()


@pytest.fixture(autouse=True)
def _own_checkpoint_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with its own (absent) audit checkpoint file unless it names one: the default,
    ``var/audit-checkpoints.jsonl`` of the checkout, holds the checkpoints of whatever database ran there last (a
    benchmark's, the demo's), and ``audit verify`` of a test database against them fails."""
    if not os.environ.get("MIANSHEN_AUDIT_CHECKPOINT_FILE", "").strip():
        path = tmp_path_factory.mktemp("checkpoints") / "audit-checkpoints.jsonl"
        monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_FILE", str(path))


PARAMETER_LIMIT = 100


@pytest.fixture
def small_parameter_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Every statement may carry at most ``PARAMETER_LIMIT`` parameters, as on an SQLite built with a small
    ``SQLITE_LIMIT_VARIABLE_NUMBER``: on SQLite the connection's own limit is lowered (and Django told, as it
    would be by such a build); on PostgreSQL a statement with more is refused the same way. A path run over more
    units than the limit under this fixture shows that none of its queries grows its parameter list with the
    number of units, cases or payments (the demo at Beijing's size died on one: issue 13). Django's own bulk
    inserts and updates are batched by the limit on both, as Django does on SQLite."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    if connection.vendor == "sqlite":

        def lower(sender: object, connection: Any, **kwargs: object) -> None:
            connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, PARAMETER_LIMIT)

        monkeypatch.setattr(connection.features, "max_query_params", PARAMETER_LIMIT)
        connection.ensure_connection()
        raw = connection.connection
        before = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        lower(None, connection)
        connection_created.connect(lower)
        try:
            yield PARAMETER_LIMIT
        finally:
            connection_created.disconnect(lower)
            if connection.connection is not None:
                connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)
        return

    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if many:
            params = list(params)
        n = max((len(p) for p in params), default=0) if many else len(params or ())
        if n > PARAMETER_LIMIT:
            raise OperationalError(f"too many SQL variables: {n} (limit {PARAMETER_LIMIT}) in {sql[:120]}")
        return execute(sql, params, many, context)

    # Django batches its own bulk inserts and updates by the limit on SQLite; the same here, and the project's own
    # batch sizes (core.bulkdb.bulk_update_batch) read the limit where Django keeps it
    monkeypatch.setattr(connection.features, "max_query_params", PARAMETER_LIMIT)
    monkeypatch.setattr(
        connection.ops, "bulk_batch_size", lambda fields, objs: max(PARAMETER_LIMIT // max(len(fields), 1), 1)
    )
    with connection.execute_wrapper(refuse):
        yield PARAMETER_LIMIT
