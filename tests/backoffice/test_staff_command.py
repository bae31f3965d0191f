"""Granting a back-office role leaves a trace."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_granting_a_role_is_an_audit_event() -> None:
    from mianshen.audit.catalogue import Action
    from mianshen.audit.models import AuditEvent
    from mianshen.staff.services import staff_add

    staff_add(username="granted-officer", role="district_officer", district="110105", granted_by="admin")
    event = AuditEvent.objects.filter(action=Action.STAFF_ROLE_GRANTED).get()
    assert event.actor == "admin"
    assert event.after == {"username": "granted-officer", "role": "district_officer", "district": "110105"}


@pytest.mark.django_db
def test_a_case_twin_of_a_staff_name_is_refused() -> None:
    """Django user names are case-sensitive: ``RTAdmin`` beside ``rtadmin`` would be a second person to four eyes
    (red team, issue 9)."""
    from django.contrib.auth import get_user_model

    from mianshen.staff.services import StaffError, staff_add

    staff_add(username="rtadmin", role="city_admin", granted_by="admin")
    with pytest.raises(StaffError, match="only by case"):
        staff_add(username="RTAdmin", role="reviewer", granted_by="admin")
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["rtadmin"]
