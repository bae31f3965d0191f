"""Property: `verify` accepts every chain built from generated events (any text, any JSON), and rejects it
after any single-field change of any one event, naming that event."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.services import audit_record
from mianshen.audit.triggers import drop_protection
from mianshen.audit.verify import audit_verify

NOWHERE = Path("/nonexistent/audit-checkpoints.jsonl")
CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
texts = st.text(alphabet=CHARS, max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
json_objects = st.none() | st.dictionaries(texts, json_values, max_size=4)
events = st.fixed_dictionaries(
    {
        "actor": st.text(alphabet=CHARS, min_size=1, max_size=30).filter(str.strip),
        "actor_id": st.none() | st.integers(min_value=0, max_value=2**62),
        "action": st.sampled_from(list(Action)),
        "obj_type": st.text(alphabet=CHARS, max_size=60),
        "obj_id": st.text(alphabet=CHARS, max_size=60),
        "before": json_objects,
        "after": json_objects,
        "reason": texts,
    }
)
FIELDS = ("seq", "at", "actor", "actor_id", "action", "object_type", "object_id", "before", "after", "reason")
MUTABLE = (*FIELDS, "prev_hash", "hash")


def _other(data: st.DataObject, field: str, old: Any) -> Any:
    """A value for ``field`` that differs from ``old``."""
    if field == "seq":
        return old + 1_000_000
    if field == "at":
        return old + timedelta(microseconds=data.draw(st.sampled_from([-1, 1, 10**6])))
    if field == "actor_id":
        return None if old is not None else data.draw(st.integers(min_value=0, max_value=2**62))
    if field == "action":
        return int(data.draw(st.sampled_from([a for a in Action if a != old])))
    if field in ("before", "after"):
        return data.draw(json_objects.filter(lambda v: v != old))
    if field in ("prev_hash", "hash"):
        return data.draw(
            st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).filter(lambda v: v != old)
        )
    limit = 60 if field in ("object_type", "object_id") else 30
    return data.draw(st.text(alphabet=CHARS, max_size=limit).filter(lambda v: v != old))


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=st.lists(events, min_size=1, max_size=6), data=st.data())
def test_verify_accepts_any_chain_and_rejects_any_single_field_change(
    generated: list[dict[str, Any]], data: st.DataObject
) -> None:
    with transaction.atomic():
        for fields in generated:
            audit_record(**fields)
        assert audit_verify(checkpoints=NOWHERE).ok

        seq = data.draw(st.integers(min_value=1, max_value=len(generated)), label="event")
        field = data.draw(st.sampled_from(MUTABLE), label="field")
        old = AuditEvent.objects.values_list(field, flat=True).get(seq=seq)
        drop_protection(connection)
        AuditEvent.objects.filter(seq=seq).update(**{field: _other(data, field, old)})

        result = audit_verify(checkpoints=NOWHERE)
        assert not result.ok
        assert result.problem is not None and result.problem.seq == seq, result.summary()
        assert result.problem.kind in ("changed", "out of order"), result.summary()
        transaction.set_rollback(True)
