"""The database refuses UPDATE, DELETE (and TRUNCATE on PostgreSQL) of audit events, through the ORM and raw
SQL; an administrator's removal and restoration are recorded; the test flush is guarded, not weakened."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import IntegrityError, connection, transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.protection import protection_installed, protection_remove, protection_restore
from mianshen.audit.triggers import TABLE

from .util import record_many, sql

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def _refused(action: object) -> None:
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        action()  # type: ignore[operator]


@pytest.mark.django_db
def test_update_and_delete_are_refused_through_the_orm_and_raw_sql() -> None:
    record_many(3)
    assert AuditEvent._meta.db_table == TABLE
    assert protection_installed()
    _refused(lambda: AuditEvent.objects.filter(seq=2).update(reason="rewritten"))
    _refused(lambda: AuditEvent.objects.filter(seq=3).delete())
    _refused(lambda: AuditEvent.objects.all().delete())
    _refused(lambda: sql(f"UPDATE {TABLE} SET actor = %s WHERE seq = 1", ["someone else"]))
    _refused(lambda: sql(f"DELETE FROM {TABLE} WHERE seq = 1"))
    _refused(lambda: sql(f"DELETE FROM {TABLE}"))
    assert AuditEvent.objects.count() == 3 and AuditEvent.objects.get(seq=2).reason.startswith("第2次")


@postgres_only
@pytest.mark.django_db
def test_truncate_is_refused_on_postgresql() -> None:
    record_many(2)
    _refused(lambda: sql(f"TRUNCATE {TABLE}"))
    _refused(lambda: sql(f"TRUNCATE {TABLE} RESTART IDENTITY CASCADE"))
    assert AuditEvent.objects.count() == 2


@postgres_only
@pytest.mark.django_db
def test_replica_mode_does_not_switch_the_triggers_off() -> None:
    record_many(1)
    sql("SET LOCAL session_replication_role = replica")
    _refused(lambda: sql(f"DELETE FROM {TABLE}"))


@pytest.mark.django_db
def test_the_unguarded_test_flush_would_be_refused() -> None:
    """The pitfall the flush guard solves: Django's flush SQL (DELETE or TRUNCATE) hits the triggers."""
    record_many(1)
    statements = connection.ops.sql_flush(no_style(), [TABLE])

    def flush() -> None:
        for statement in statements:
            sql(statement)

    _refused(flush)


@pytest.mark.django_db
def test_removal_and_restoration_are_visible_in_the_trail(checkpoint_path: Path) -> None:
    record_many(2)
    with pytest.raises(ValueError, match="reason"):
        protection_remove(actor="admin", reason=" ")
    removed = protection_remove(actor="admin", reason="repair ticket 17")
    assert not protection_installed()
    assert [(e.seq, e.action_type) for e in AuditEvent.objects.filter(seq__gt=2)] == [
        (3, Action.AUDIT_CHECKPOINT),
        (4, Action.AUDIT_PROTECTION_REMOVED),
    ]
    assert (removed.actor, removed.reason, removed.after) == (
        "admin",
        "repair ticket 17",
        {"protected": False, "checkpoint_file": str(checkpoint_path)},
    )
    AuditEvent.objects.filter(seq=1).update(reason="possible now")  # the protection is really off
    restored = protection_restore(actor="admin", reason="repair done")
    assert protection_installed()
    assert (restored.seq, restored.action_type, restored.before, restored.after) == (
        5,
        Action.AUDIT_PROTECTION_RESTORED,
        {"protected": False},
        {"protected": True},
    )
    _refused(lambda: AuditEvent.objects.filter(seq=1).update(reason="again"))


@pytest.mark.django_db
def test_the_protection_command() -> None:
    from django.contrib.auth import get_user_model

    from mianshen.staff.roles import Staff

    Staff.objects.create(
        user=get_user_model().objects.create_user("dba"), role="city_admin"
    )  # --actor: staff
    out = io.StringIO()
    call_command("audit", "protection", "status", stdout=out)
    call_command("audit", "protection", "remove", "--reason", "maintenance", "--actor", "dba", stdout=out)
    call_command("audit", "protection", "status", stdout=out)
    call_command("audit", "protection", "restore", "--actor", "dba", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "append-only protection: on"
    assert lines[1].startswith("append-only protection removed (recorded as seq 2)")
    assert lines[2] == "append-only protection: OFF"
    assert lines[3] == "append-only protection restored (recorded as seq 3)"
    assert AuditEvent.objects.get(seq=2).actor == "dba"


@pytest.mark.django_db(transaction=True)
def test_migrating_back_removes_the_protection_and_forward_restores_it() -> None:
    call_command("migrate", "audit", "0001", verbosity=0)
    assert not protection_installed()
    call_command("migrate", "audit", verbosity=0)
    assert protection_installed()


def test_the_guarded_flush_empties_the_table_and_restores_the_protection(transactional_db: None) -> None:
    record_many(3)  # committed
    call_command("flush", verbosity=0, interactive=False)  # what pytest-django runs after this test
    assert AuditEvent.objects.count() == 0
    assert protection_installed()
    record_many(2)  # and the teardown flush copes as well
