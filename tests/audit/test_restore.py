"""After a restore from backup, `audit verify` names the events the restore lost; `audit accept-restore` records
that the loss was seen (event 901, pinned by a checkpoint in the file), after which the restored trail verifies
again and every run still says what was lost. An accepted loss cannot hide anything before it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.protection import drop_protection
from mianshen.audit.restore import RestoreRefused, audit_restore_accept
from mianshen.audit.services import audit_checkpoint, audit_record
from mianshen.audit.triggers import TABLE
from mianshen.audit.verify import audit_verify

from .util import hash_of, record_many, run_verify, sql

pytestmark = pytest.mark.django_db


@pytest.fixture
def restored(checkpoint_path: Path) -> Path:
    """A trail backed up at seq 9 (a checkpoint of seq 5 at event 6 before it), then events 10..12, a checkpoint
    of seq 12 (event 13) and events 14..15 written after the backup; the database is then restored from the
    backup: everything after seq 9 is gone, the checkpoint file is not."""
    record_many(5)
    audit_checkpoint()
    record_many(3, prefix="unit")
    record_many(3, prefix="payment")
    audit_checkpoint()
    record_many(2, prefix="notice")
    drop_protection(connection)
    sql(f"DELETE FROM {TABLE} WHERE seq > 9")
    return checkpoint_path


def test_verify_names_the_events_the_restore_lost(restored: Path) -> None:
    code, out = run_verify()
    assert code == 1
    assert out.startswith("audit trail BROKEN at seq 10: truncated after seq 9"), out
    assert "3 event(s) missing at the end, seq 10..12" in out


def test_accepting_the_loss_lets_the_restored_trail_verify_and_says_so(restored: Path) -> None:
    out = io.StringIO()
    call_command(
        "audit", "accept-restore", "--reason", "disk failure, ticket 7", "--actor", "dba", stdout=out
    )
    assert out.getvalue().startswith(
        "restore accepted (recorded as seq 10): events seq 10..12 of the earlier"
    )
    event = AuditEvent.objects.get(seq=10)
    assert event.action_type is Action.AUDIT_RESTORE_ACCEPTED and event.reason == "disk failure, ticket 7"
    assert event.after is not None and event.after["lost_from"] == 10 and event.after["lost_to"] == 12
    assert AuditEvent.objects.get(seq=11).action_type is Action.AUDIT_CHECKPOINT  # pins event 10 in the file

    record_many(4, prefix="after")  # the new trail passes seq 12, where the lost checkpoint's hash differs
    audit_checkpoint()
    result = audit_verify()
    assert result.ok, result.summary()
    assert result.checkpoints_checked == 3  # seq 5, the pin at seq 10, seq 15; not the lost seq 12
    assert "events seq 10..12 lost in a restore accepted at seq 10" in result.summary()
    assert any("accepted at seq 10 by dba" in w and "ticket 7" in w for w in result.warnings)
    assert restored.read_text().count("\n") == 4  # nothing rewritten: the lost checkpoint stays as evidence


def test_an_unpinned_acceptance_is_ignored(restored: Path) -> None:
    """Someone with the database but not the file appends an acceptance to hide a cut: it counts for nothing."""
    lost = [json.loads(line) for line in restored.read_text().splitlines()][1]
    audit_record(
        actor="intruder",
        action=Action.AUDIT_RESTORE_ACCEPTED,
        obj_type="audit_chain",
        obj_id="9",
        after={"lost_from": 10, "lost_to": 12, "superseded": [{"seq": lost["seq"], "hash": lost["hash"]}]},
    )
    result = audit_verify()
    assert not result.ok and result.problem is not None
    assert result.problem.kind == "truncated after seq 10"
    assert any("restore_accepted event at seq 10 is ignored" in w for w in result.warnings)


def test_an_acceptance_cannot_set_aside_a_checkpoint_before_it(checkpoint_path: Path) -> None:
    """A trail rewritten from seq 3 and cut, with a forged acceptance naming the checkpoint of seq 5 and a forged
    pin after it: the checkpoint of seq 5 lies before the acceptance, and is still compared."""
    record_many(5)
    audit_checkpoint()
    real = json.loads(checkpoint_path.read_text())
    drop_protection(connection)
    sql(f"DELETE FROM {TABLE} WHERE seq > 2")
    record_many(3, prefix="forged")  # seq 3..5, different hashes
    event = audit_record(
        actor="intruder",
        action=Action.AUDIT_RESTORE_ACCEPTED,
        obj_type="audit_chain",
        obj_id="5",
        after={"lost_from": 3, "lost_to": 5, "superseded": [{"seq": real["seq"], "hash": real["hash"]}]},
    )
    audit_checkpoint()  # the forger can even append to the file
    assert event.seq == 6
    code, out = run_verify()
    assert code == 1 and out.startswith("audit trail BROKEN at seq 5 "), out
    assert "hash mismatch with checkpoint" in out and hash_of(5)[:16] in out


def test_nothing_to_accept_on_an_intact_trail(checkpoint_path: Path) -> None:
    record_many(3)
    audit_checkpoint()
    with pytest.raises(RestoreRefused, match="intact"):
        audit_restore_accept(actor="dba", reason="why not")


def test_a_trail_broken_otherwise_is_not_accepted(restored: Path) -> None:
    sql(f"UPDATE {TABLE} SET reason = 'changed' WHERE seq = 4")
    with pytest.raises(CommandError, match=r"only a lost end can be accepted.*seq 4 .*changed") as raised:
        call_command("audit", "accept-restore", "--reason", "x", stdout=io.StringIO())
    assert raised.value.returncode == 2
    assert AuditEvent.objects.filter(action=Action.AUDIT_RESTORE_ACCEPTED).count() == 0


def test_accepting_needs_a_reason(restored: Path) -> None:
    with pytest.raises(RestoreRefused, match="needs a reason"):
        audit_restore_accept(actor="dba", reason=" ")
