"""Database readiness checks for commands that need the database."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import OperationalError

from .command import UserError


def require_migrated_database() -> None:
    """Refuse with one line when the database is unreachable or not migrated, saying what to do."""
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except OperationalError as exc:
        raise UserError(
            f"cannot reach the database ({str(exc).splitlines()[0]}); check MIANSHEN_DATABASE_URL"
        ) from exc
    if pending:
        raise UserError("the database is not set up (pending migrations): run `mianshen migrate` first")
