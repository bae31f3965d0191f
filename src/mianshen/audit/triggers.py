"""The SQL of the audit table's append-only protection (triggers), for both databases.

Bare SQL, no events and no model imports: used by migration 0002, by ``protection.py`` and by the test
suite's flush guard (``testing.py``). Changing the SQL here needs a new migration that re-installs it.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "audit_auditevent"

_PG_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{TABLE} is append-only: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation',
                  HINT = 'an administrator removes the protection with: mianshen audit protection remove';
    END;
    $$
    """,
    f"DROP TRIGGER IF EXISTS audit_event_no_update_delete ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_event_no_truncate ON {TABLE}",
    f"""CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
    f"""CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()""",
    f"ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER audit_event_no_update_delete",
    f"ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER audit_event_no_truncate",
]
_PG_DROP = [
    f"DROP TRIGGER IF EXISTS audit_event_no_update_delete ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_event_no_truncate ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]
_PG_TRIGGERS = ("audit_event_no_update_delete", "audit_event_no_truncate")

_SQLITE_INSTALL = [
    f"""CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused'); END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
]
_SQLITE_TRIGGERS = ("audit_event_no_update", "audit_event_no_delete")


def install_protection(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers (idempotent). Bare SQL: records no event."""
    _execute(connection, _PG_INSTALL if _vendor(connection) == "postgresql" else _SQLITE_INSTALL)


def drop_protection(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers (idempotent). Bare SQL: records no event."""
    _execute(connection, _PG_DROP if _vendor(connection) == "postgresql" else _SQLITE_DROP)


def protection_installed(connection: BaseDatabaseWrapper | None = None) -> bool:
    """Whether every protecting trigger exists and is enabled."""
    connection = connection or connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        if _vendor(connection) == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname = ANY(%s)"
                " AND tgenabled IN ('O', 'A')",
                [TABLE, list(_PG_TRIGGERS)],
            )
            expected = len(_PG_TRIGGERS)
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s"
                " AND name IN (%s, %s)",
                [TABLE, *_SQLITE_TRIGGERS],
            )
            expected = len(_SQLITE_TRIGGERS)
        (found,) = cursor.fetchone()
    return bool(found == expected)


def _vendor(connection: BaseDatabaseWrapper) -> str:
    if connection.vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"audit protection: {connection.vendor} is not supported")
    return str(connection.vendor)


def _execute(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
