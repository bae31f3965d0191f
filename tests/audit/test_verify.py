"""`mianshen audit verify`: exit 0 on an intact trail; after each kind of tampering done directly in the
database (protection removed first, as an administrator could), exit 1 naming the first bad entry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from mianshen.audit.canonical import event_hash
from mianshen.audit.catalogue import Action
from mianshen.audit.checkpoints import checkpoints_read
from mianshen.audit.models import AuditEvent
from mianshen.audit.protection import drop_protection, protection_remove
from mianshen.audit.services import audit_checkpoint
from mianshen.audit.triggers import TABLE
from mianshen.audit.verify import audit_verify

from .util import hash_of, id_of, record_many, run_verify, sql

pytestmark = pytest.mark.django_db

HASHED = ("seq", "at", "actor", "actor_id", "action", "object_type", "object_id", "before", "after", "reason")


@pytest.fixture
def trail() -> None:
    """Events 1..10, then an administrator removes the protection: checkpoint of seq 10, events 11 (checkpoint)
    and 12 (protection removed)."""
    record_many(10)
    protection_remove(actor="dba", reason="tampering test")


def _broken(expected: str) -> str:
    code, out = run_verify()
    assert code == 1, out
    assert out.startswith(f"audit trail BROKEN at {expected}"), out
    return out


def _rehash(seq: int, **changes: object) -> None:
    """Rewrite event ``seq`` with ``changes`` and a correct hash for its new contents (a careful forger)."""
    event = AuditEvent.objects.get(seq=seq)
    fields = {name: getattr(event, name) for name in HASHED} | {"prev_hash": event.prev_hash} | changes
    AuditEvent.objects.filter(pk=event.pk).update(**changes, hash=event_hash(**fields))


def test_an_intact_trail_verifies() -> None:
    record_many(25)
    audit_checkpoint()
    code, out = run_verify()
    assert code == 0
    assert out.startswith("audit trail intact: 26 events, head seq 26 ") and "1 checkpoint(s) match" in out


def test_an_empty_trail_verifies() -> None:
    code, out = run_verify()
    assert code == 0 and out.startswith("audit trail intact: 0 events"), out


def test_a_changed_field(trail: None) -> None:
    sql(f"UPDATE {TABLE} SET reason = %s WHERE seq = 5", ["看起来无害"])
    _broken(f"seq 5 (id {id_of(5)}): changed")


def test_a_changed_timestamp(trail: None) -> None:
    AuditEvent.objects.filter(seq=3).update(at=AuditEvent.objects.get(seq=3).at + timedelta(seconds=1))
    _broken(f"seq 3 (id {id_of(3)}): changed")


def test_a_changed_and_rehashed_event_is_named_not_its_successor(trail: None) -> None:
    _rehash(5, after={"state": "approved", "amount_fen": 999_999})
    out = _broken(f"seq 5 (id {id_of(5)}): changed")
    assert "re-hashed" in out


def test_a_deleted_event(trail: None) -> None:
    sql(f"DELETE FROM {TABLE} WHERE seq = 5")
    _broken("seq 5: missing (deleted)")


def test_the_first_event_deleted(trail: None) -> None:
    sql(f"DELETE FROM {TABLE} WHERE seq = 1")
    _broken("seq 1: missing (deleted)")


def test_two_events_swapped(trail: None) -> None:
    five, six = id_of(5), id_of(6)
    sql(f"UPDATE {TABLE} SET seq = 1000000 WHERE id = %s", [five])
    sql(f"UPDATE {TABLE} SET seq = 5 WHERE id = %s", [six])
    sql(f"UPDATE {TABLE} SET seq = 6 WHERE id = %s", [five])
    _broken(f"seq 5 (id {six}): out of order")


def test_two_distant_events_swapped(trail: None) -> None:
    three, eight = id_of(3), id_of(8)
    sql(f"UPDATE {TABLE} SET seq = 1000000 WHERE id = %s", [three])
    sql(f"UPDATE {TABLE} SET seq = 3 WHERE id = %s", [eight])
    sql(f"UPDATE {TABLE} SET seq = 8 WHERE id = %s", [three])
    _broken(f"seq 3 (id {eight}): out of order")


def test_an_event_moved_to_the_end(trail: None) -> None:
    four = id_of(4)
    sql(f"UPDATE {TABLE} SET seq = 1000 WHERE id = %s", [four])
    _broken(f"seq 4 (id {four}): out of order")


def test_the_last_events_cut_off_are_caught_by_the_checkpoint(trail: None) -> None:
    sql(f"DELETE FROM {TABLE} WHERE seq > 7")  # the checkpoint of seq 10 and the removal event go too
    out = _broken("seq 8: truncated after seq 7")
    assert "recorded seq 10" in out and "3 event(s) missing" in out


def test_without_a_checkpoint_a_truncation_is_invisible(checkpoint_path: Path) -> None:
    """Why checkpoints exist: a chain cut at its end is still a valid chain."""
    record_many(5)
    drop_protection(connection)
    sql(f"DELETE FROM {TABLE} WHERE seq > 3")
    assert run_verify()[0] == 0
    assert not checkpoint_path.exists()


def test_a_forged_event_inserted_in_the_middle(trail: None) -> None:
    sql(f"UPDATE {TABLE} SET seq = seq + 1000000 WHERE seq >= 5")
    sql(f"UPDATE {TABLE} SET seq = seq - 999999 WHERE seq >= 1000000")
    fields: dict[str, Any] = {
        "seq": 5,
        "at": AuditEvent.objects.get(seq=4).at,
        "actor": "审核员1",
        "actor_id": 1,
        "action": int(Action.PAYMENT_INSTRUCTION_CREATED),
        "object_type": "payment",
        "object_id": "P-FORGED",
        "before": None,
        "after": {"amount_fen": 99_999_999},
        "reason": "",
        "prev_hash": hash_of(4),
    }
    forged = AuditEvent(**fields, hash=event_hash(**fields))
    forged.save(force_insert=True)
    out = _broken(f"seq 5 (id {forged.pk}): inserted (forged)")
    assert "now stored at seq 6" in out


def test_a_clumsily_forged_event_is_named_too(trail: None) -> None:
    sql(f"UPDATE {TABLE} SET seq = seq + 1000000 WHERE seq >= 5")
    sql(f"UPDATE {TABLE} SET seq = seq - 999999 WHERE seq >= 1000000")
    sql(
        f"INSERT INTO {TABLE} (seq, at, actor, action, object_type, object_id, reason, prev_hash, hash)"
        " VALUES (5, %s, 'x', 500, 'payment', 'P', '', %s, %s)",
        [timezone.now(), hash_of(4), "f" * 64],
    )
    _broken(f"seq 5 (id {id_of(5)}): changed")


def test_a_rewritten_tail_is_caught_by_the_checkpoint(trail: None) -> None:
    """A forger who re-hashes every event from seq 7 on leaves a valid chain; the checkpoint of seq 10 does not
    match it any more."""
    _rehash(7, reason="rewritten")
    for seq in range(8, 13):
        _rehash(seq, prev_hash=hash_of(seq - 1))
    out = _broken(f"seq 10 (id {id_of(10)}): hash mismatch with checkpoint")
    assert "rewritten at or before this seq" in out


def test_every_checkpoint_is_checked_and_unreadable_lines_warned(checkpoint_path: Path) -> None:
    record_many(3)
    audit_checkpoint()
    record_many(2, prefix="unit")
    audit_checkpoint()
    with checkpoint_path.open("a", encoding="utf-8") as f:
        f.write('{"seq": \n')
    result = audit_verify()
    assert result.ok and result.checkpoints_checked == 2
    assert len(result.warnings) == 1 and "unreadable checkpoint line" in result.warnings[0]
    assert [cp.seq for cp in checkpoints_read(checkpoint_path)[0]] == [3, 6]


def test_verify_can_write_a_checkpoint_when_intact(checkpoint_path: Path) -> None:
    record_many(4)
    code, out = run_verify("--checkpoint")
    assert code == 0 and out.splitlines()[1] == f"checkpoint of seq 4 appended to {checkpoint_path}"
    assert AuditEvent.objects.get(seq=5).action_type is Action.AUDIT_CHECKPOINT


def test_verify_warns_while_the_protection_is_off(trail: None) -> None:
    result = audit_verify()
    assert result.ok and not result.protected
    assert any("protection is OFF" in w for w in result.warnings)


def test_small_batches_give_the_same_answer(trail: None) -> None:
    assert run_verify("--batch-size", "3")[0] == 0
    sql(f"DELETE FROM {TABLE} WHERE seq = 7")
    assert run_verify("--batch-size", "3")[1].startswith("audit trail BROKEN at seq 7: missing (deleted)")
