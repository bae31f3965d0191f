"""Project-wide test configuration.

The audit trail's append-only triggers refuse the DELETE/TRUNCATE with which Django flushes tables between
transactional tests; the plugin below lifts them around the flush only (see ``mianshen.audit.testing``).
"""

import os

import pytest

pytest_plugins = ["mianshen.audit.testing"]

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
