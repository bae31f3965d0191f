"""Appending to the chain: seq 1..n, links, hashes, UTC timestamps, the caller's transaction, selectors,
checkpoints (manual and automatic)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from mianshen.audit.canonical import GENESIS_HASH, NotCanonical, event_hash
from mianshen.audit.catalogue import Action
from mianshen.audit.models import AppendOnly, AuditEvent
from mianshen.audit.selectors import audit_events_for, audit_head
from mianshen.audit.services import audit_checkpoint, audit_record, audit_record_many
from mianshen.audit.verify import audit_verify

from .util import record_many

pytestmark = pytest.mark.django_db


def test_events_form_a_gap_free_chain_from_genesis() -> None:
    record_many(5)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for prev, event in itertools.pairwise(events):
        assert event.prev_hash == prev.hash
    for event in events:
        fields = {f: getattr(event, f) for f in ("seq", "at", "actor", "actor_id", "action", "object_type",
                                                 "object_id", "before", "after", "reason", "prev_hash")}  # fmt: skip
        assert event.hash == event_hash(**fields)
        assert event.at.utcoffset() is not None and event.at.tzinfo is not None
    assert audit_verify().ok


def test_stored_values_read_back_exactly() -> None:
    written = audit_record(
        actor="王五",
        action=Action.PAYMENT_HELD,
        obj_type="payment",
        obj_id=42,
        before={"状态": "pending", "big": 2**70, "nested": [True, None, {"z": "末", "a": ""}]},
        reason="账户冻结",
    )
    read = AuditEvent.objects.get(pk=written.pk)
    assert (read.object_id, read.before, read.after, read.at) == ("42", written.before, None, written.at)
    assert read.at.astimezone(UTC) == written.at


def test_head_and_timeline() -> None:
    assert audit_head().empty and audit_head().hash == GENESIS_HASH
    record_many(3)
    audit_record(
        actor="system", action=Action.CASE_REVIEWED, obj_type="case", obj_id="C-0002", after={"ok": True}
    )
    head = audit_head()
    assert (head.seq, head.hash) == (4, AuditEvent.objects.get(seq=4).hash)
    timeline = audit_events_for("case", "C-0002")
    assert [(e.seq, e.action_type) for e in timeline] == [
        (2, Action.CASE_TRANSITION),
        (4, Action.CASE_REVIEWED),
    ]
    assert str(timeline[1]) == "#4 case.reviewed case:C-0002 by system"


def test_the_event_commits_or_rolls_back_with_the_change_it_records() -> None:
    record_many(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor="a", action=Action.CASE_TRANSITION, obj_type="case", obj_id="1")
        raise RuntimeError("the change failed after its event was written")
    assert AuditEvent.objects.count() == 2
    event = audit_record(actor="a", action=Action.CASE_TRANSITION, obj_type="case", obj_id="1")
    assert event.seq == 3 and audit_verify().ok


def test_bad_input_is_refused_before_anything_is_written() -> None:
    with pytest.raises(ValueError, match="not a valid Action"):
        audit_record(actor="a", action=999, obj_type="case", obj_id="1")
    with pytest.raises(ValueError, match="actor"):
        audit_record(actor=" ", action=Action.CASE_TRANSITION, obj_type="case", obj_id="1")
    with pytest.raises(NotCanonical, match="floats"):
        audit_record(actor="a", action=Action.CASE_TRANSITION, obj_type="case", obj_id="1", after={"x": 1.5})
    with pytest.raises(ValueError, match="longer than 60"):
        audit_record(actor="a", action=Action.CASE_TRANSITION, obj_type="x" * 61, obj_id="1")
    assert AuditEvent.objects.count() == 0


def test_the_orm_refuses_to_save_or_delete_an_existing_event() -> None:
    (event,) = record_many(1)
    event.reason = "rewritten"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()


def test_checkpoint_appends_the_head_and_records_it(checkpoint_path: Path) -> None:
    record_many(3)
    assert audit_checkpoint() == checkpoint_path
    line = json.loads(checkpoint_path.read_text(encoding="utf-8").splitlines()[-1])
    assert (line["seq"], line["hash"], line["count"]) == (3, AuditEvent.objects.get(seq=3).hash, 3)
    assert line["at"].endswith("Z") and line["written_at"].endswith("Z")
    event = AuditEvent.objects.get(seq=4)
    assert event.action_type is Action.AUDIT_CHECKPOINT and event.after == {
        "seq": 3,
        "hash": line["hash"],
        "count": 3,
        "file": str(checkpoint_path),
    }
    result = audit_verify()
    assert result.ok and result.checkpoints_checked == 1


def test_checkpoint_counts_from_the_head_without_scanning_the_trail(checkpoint_path: Path) -> None:
    """The count is the head's seq (the chain is gap-free from 1): no COUNT(*) over the whole table, which grew
    with the trail and ran after every ``checkpoint_every()`` events in every bulk path."""
    record_many(7)
    with CaptureQueriesContext(connection) as queries:
        audit_checkpoint()
    assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    line = json.loads(checkpoint_path.read_text(encoding="utf-8").splitlines()[-1])
    assert line["count"] == line["seq"] == 7 == AuditEvent.objects.filter(seq__lte=7).count()
    audit_checkpoint()  # the second counts the first's own event
    line = json.loads(checkpoint_path.read_text(encoding="utf-8").splitlines()[-1])
    assert line["count"] == 8 and AuditEvent.objects.count() == 9
    assert audit_verify().ok


def test_checkpoint_into_a_given_directory(tmp_path: Path) -> None:
    path = audit_checkpoint(directory=tmp_path / "elsewhere")
    assert path == tmp_path / "elsewhere" / "audit-checkpoints.jsonl"
    assert json.loads(path.read_text(encoding="utf-8"))["seq"] == 0
    assert audit_verify(checkpoints=path).ok


def test_a_checkpoint_every_n_events_after_commit(
    checkpoint_path: Path, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_EVERY", "3")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record_many(4)
    assert len(callbacks) == 1
    (line,) = checkpoint_path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["seq"] == 4  # scheduled by event 3, taken after the commit: the head is then 4
    assert AuditEvent.objects.get(seq=5).actor == "system:auto-checkpoint"


def test_many_events_at_once_continue_the_chain() -> None:
    record_many(2)
    appended = audit_record_many(
        actor="system:round",
        events=[
            {
                "action": Action.CASE_OPENED,
                "obj_type": "case",
                "obj_id": i,
                "after": {"状态": "eligible", "i": i},
            }
            for i in range(5_000)
        ]
        + [{"action": 310, "obj_type": "case", "obj_id": "7", "reason": "复核"}],
    )
    assert appended == 5_001
    assert audit_head().seq == 5_003 and AuditEvent.objects.count() == 5_003
    assert AuditEvent.objects.get(seq=5_003).action_type is Action.CASE_REVIEWED
    assert audit_verify(batch_size=1_000).ok
    assert audit_record_many(actor="x", events=[]) == 0
    with pytest.raises(TypeError, match="unknown key"):
        audit_record_many(actor="x", events=[{"action": 300, "obj_type": "case", "obj_id": "1", "actr": "y"}])


def test_many_events_cross_a_checkpoint_boundary_once(
    checkpoint_path: Path, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_EVERY", "10")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        audit_record_many(
            actor="system", events=[{"action": 300, "obj_type": "case", "obj_id": i} for i in range(25)]
        )
    assert len(callbacks) == 1
    assert [json.loads(line)["seq"] for line in checkpoint_path.read_text(encoding="utf-8").splitlines()] == [
        25
    ]
