"""Granting a back-office role leaves a trace."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_granting_a_role_is_an_audit_event() -> None:
    from mianshen.audit.catalogue import Action
    from mianshen.audit.models import AuditEvent
    from mianshen.backoffice.services import staff_add

    staff_add(username="granted-officer", role="district_officer", district="110105", granted_by="admin")
    event = AuditEvent.objects.filter(action=Action.STAFF_ROLE_GRANTED).get()
    assert event.actor == "admin"
    assert event.after == {"username": "granted-officer", "role": "district_officer", "district": "110105"}
