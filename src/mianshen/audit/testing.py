"""Test support (pytest plugin): let the test suite's flush empty the append-only audit table.

pytest-django empties every table after each *transactional* test (``transactional_db``,
``django_db(transaction=True)``, ``live_server``) with Django's ``flush``: ``DELETE FROM`` on SQLite and
``TRUNCATE`` on PostgreSQL, which the audit table's triggers refuse, so the teardown would fail. The
session fixture ``audit_flush_guard`` wraps the flush itself (``DatabaseOperations.execute_sql_flush``), for
the test session only: drop the triggers, flush, re-install them, in one transaction. The protection is thus
in place during every test, ordinary ``db`` tests (rolled back, never flushed) are untouched, and production
code has no switch: only an administrator's ``protection_remove`` (recorded in the trail) lifts it.

Use it: ``tests/audit/conftest.py`` imports the fixture; for the whole suite, the root ``tests/conftest.py``
declares ``pytest_plugins = ["mianshen.audit.testing"]``. Other append-only tables can join the same guard by
appending ``(drop, install)`` functions to ``FLUSH_GUARDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from .triggers import TABLE, drop_protection, install_protection

Guard = tuple[str, Callable[[BaseDatabaseWrapper], None], Callable[[BaseDatabaseWrapper], None]]

# (table, drop its protection, install it again): lifted around the test flush, in this order.
FLUSH_GUARDS: list[Guard] = [(TABLE, drop_protection, install_protection)]


@contextmanager
def flush_allowed() -> Iterator[None]:
    """While active, Django's flush (on every configured database) lifts and restores the guards."""
    originals: dict[type, Any] = {}
    for alias in connections:
        ops_class = type(connections[alias].ops)
        if ops_class in originals or getattr(ops_class.execute_sql_flush, "_audit_flush_guard", False):
            continue
        originals[ops_class] = ops_class.execute_sql_flush
        ops_class.execute_sql_flush = _guarded(ops_class.execute_sql_flush)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        for ops_class, original in originals.items():
            ops_class.execute_sql_flush = original  # type: ignore[method-assign]


def _guarded(original: Callable[[Any, list[str]], None]) -> Callable[[Any, list[str]], None]:
    def execute_sql_flush(self: Any, sql_list: list[str]) -> None:
        connection: BaseDatabaseWrapper = self.connection
        tables = set(connection.introspection.table_names())
        guards = [guard for guard in FLUSH_GUARDS if guard[0] in tables]
        with transaction.atomic(using=connection.alias):
            for _table, drop, _install in guards:
                drop(connection)
            original(self, sql_list)
            for _table, _drop, install in guards:
                install(connection)

    execute_sql_flush._audit_flush_guard = True  # type: ignore[attr-defined]
    return execute_sql_flush


@pytest.fixture(scope="session", autouse=True)
def audit_flush_guard() -> Iterator[None]:
    """Session-wide: transactional tests may flush the audit table (protection restored right after)."""
    with flush_allowed():
        yield
