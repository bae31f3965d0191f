"""The staff app: Staff moved from the back office over the same table, a migrate from the old schema keeps
every row; optional phone and e-mail; the round hand-over belongs to cases; the case number has one home."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from mianshen.cases.models import Case, case_number
from mianshen.staff.roles import Role, Staff

# The schema of main before the staff app: the back office owned Staff.
OLD = [("backoffice", "0003_sign_in_counters")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_old_schema_migrates_without_losing_staff() -> None:
    executor = _migrate(OLD)
    old = executor.loader.project_state(OLD).apps
    user = old.get_model("auth", "User").objects.create(username="wang.fang")
    old.get_model("backoffice", "Staff").objects.create(user=user, role="district_officer", district="110105")
    content_type = old.get_model("contenttypes", "ContentType")
    content_type.objects.get_or_create(app_label="backoffice", model="staff")
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "backoffice_staff")}
    assert "phone" not in columns  # truly the old table

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    staff = Staff.objects.get(user__username="wang.fang")
    assert (staff.role, staff.district, staff.phone, staff.email) == (Role.DISTRICT_OFFICER, "110105", "", "")
    assert Staff._meta.db_table == "backoffice_staff"
    from django.contrib.contenttypes.models import ContentType

    assert ContentType.objects.filter(app_label="staff", model="staff").count() == 1
    assert not ContentType.objects.filter(app_label="backoffice", model="staff").exists()


# The schema before the sign-in counters moved: the back office owned SignInCounter.
BEFORE_COUNTERS = [("backoffice", "0004_staff_moves_to_staff_app"), ("staff", "0002_staff_phone_email")]


@pytest.mark.django_db(transaction=True)
def test_a_locked_account_stays_locked_when_the_counters_move_to_the_staff_app() -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from mianshen.staff.models import SignInCounter
    from mianshen.staff.signin import account_locked, locked_accounts

    executor = _migrate(BEFORE_COUNTERS)
    old = executor.loader.project_state(BEFORE_COUNTERS).apps
    assert old.get_model("backoffice", "SignInCounter")._meta.db_table == "backoffice_signincounter"
    now = timezone.now()
    old.get_model("backoffice", "SignInCounter").objects.create(
        scope="account", key="wang.fang", failures=5, window_start=now, last_failure_at=now, locked_at=now
    )
    old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="backoffice", model="signincounter"
    )

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert (
        SignInCounter._meta.app_label == "staff"
        and SignInCounter._meta.db_table == "backoffice_signincounter"
    )
    assert account_locked("wang.fang") and [r.key for r in locked_accounts()] == ["wang.fang"]
    assert ContentType.objects.filter(app_label="staff", model="signincounter").count() == 1
    assert not ContentType.objects.filter(app_label="backoffice", model="signincounter").exists()


@pytest.mark.django_db
def test_an_officer_has_an_optional_phone_and_email() -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="li.na")
    staff = Staff.objects.create(
        user=user,
        role=Role.DISTRICT_OFFICER,
        district="110108",
        phone="13800000000",
        email="li.na@example.cn",
    )
    staff.refresh_from_db()
    assert (staff.phone, staff.email) == ("13800000000", "li.na@example.cn")


def test_the_case_number_needs_no_model_instance() -> None:
    assert case_number(42, "beijing-2021") == "BEIJING-2021-00000042"
    assert Case(pk=42, policy_id="beijing-2021").number == case_number(42, "beijing-2021")
