"""`audit verify` compares the checkpoints the chain records with the checkpoint file, both ways: a trail cut
short - even to nothing - no longer verifies once the file is deleted, emptied, cut or rewritten to match; an
empty trail beside business data is broken; no audit table is one line and exit 2."""

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
from mianshen.audit.services import audit_checkpoint
from mianshen.audit.triggers import TABLE
from mianshen.audit.verify import audit_verify
from mianshen.cases.models import Case

from .util import hash_of, id_of, record_many, run_verify, sql

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(checkpoint_path: Path) -> Path:
    """Events 1..5, a checkpoint of seq 5 (event 6), events 7..11, a checkpoint of seq 11 (event 12), events
    13..15; then the protection is dropped by hand (no event), as a database administrator could."""
    record_many(5)
    audit_checkpoint()
    record_many(5, prefix="unit")
    audit_checkpoint()
    record_many(3, prefix="payment")
    drop_protection(connection)
    return checkpoint_path


def _cut_after(seq: int) -> None:
    sql(f"DELETE FROM {TABLE} WHERE seq > %s", [seq])


def _broken(expected: str) -> str:
    code, out = run_verify()
    assert code == 1, out
    assert out.startswith(f"audit trail BROKEN at {expected}"), out
    return out


def _business_rows() -> None:
    """Two cases: business data whose events the trail should hold."""
    Case.objects.create(
        policy_id="beijing-2021", unit_id="U1", credit_code="9" * 18, unit_name="甲", district="110105"
    )
    Case.objects.create(
        policy_id="beijing-2021", unit_id="U2", credit_code="8" * 18, unit_name="乙", district="110105"
    )


def test_the_intact_trail_verifies_against_its_file(trail: Path) -> None:
    code, out = run_verify()
    assert code == 0 and "2 checkpoint(s) match" in out, out


def test_the_file_deleted_while_the_chain_records_checkpoints(trail: Path) -> None:
    trail.unlink()
    out = _broken(f"seq 6 (id {id_of(6)}): checkpoint file missing")
    assert "records 2 checkpoint(s)" in out and str(trail) in out


def test_cut_in_the_middle_and_the_file_deleted(trail: Path) -> None:
    _cut_after(8)
    trail.unlink()
    _broken(f"seq 6 (id {id_of(6)}): checkpoint file missing")


def test_cut_in_the_middle_and_the_file_emptied(trail: Path) -> None:
    _cut_after(8)
    trail.write_text("")
    out = _broken(f"seq 6 (id {id_of(6)}): checkpoint file disagrees with the chain")
    assert "seq 5" in out and "emptied, cut or rewritten" in out


def test_the_file_cut_to_its_first_line(trail: Path) -> None:
    lines = trail.read_text().splitlines(keepends=True)
    trail.write_text(lines[0])
    out = _broken(f"seq 12 (id {id_of(12)}): checkpoint file disagrees with the chain")
    assert f"seq 11 {hash_of(11)[:16]}" in out


def test_cut_in_the_middle_and_the_file_rewritten_to_match_the_cut(trail: Path) -> None:
    """The forger writes a file whose only checkpoint is the new, cut head: it matches the chain, but the chain's
    own checkpoint events name lines the file no longer has."""
    _cut_after(8)
    trail.write_text(json.dumps({"seq": 8, "hash": hash_of(8), "count": 8, "written_at": "x"}) + "\n")
    _broken(f"seq 6 (id {id_of(6)}): checkpoint file disagrees with the chain")


@pytest.mark.parametrize("file", ["deleted", "emptied"])
def test_cut_to_zero_and_the_file_gone(trail: Path, file: str) -> None:
    _business_rows()
    _cut_after(0)
    if file == "deleted":
        trail.unlink()
    else:
        trail.write_text("")
    out = _broken("seq 1: missing (deleted)")
    assert "the trail is empty, but the database holds 2 case(s)" in out


def test_cut_exactly_at_the_newest_checkpoint_event_with_the_file_kept(trail: Path) -> None:
    """The file's newest line names seq N; the audit.checkpoint event that wrote it is N + 1. Cutting from N + 1
    on leaves a chain that agrees with every line: the missing checkpoint event itself gives the cut away."""
    newest = max(AuditEvent.objects.filter(action=Action.AUDIT_CHECKPOINT).values_list("seq", flat=True))
    _cut_after(newest - 1)
    out = _broken(f"seq {newest}: truncated after seq {newest - 1}")
    assert f"the audit.checkpoint event that wrote it (seq {newest}) is missing" in out


def test_cut_to_zero_with_the_file_kept(trail: Path) -> None:
    _cut_after(0)
    out = _broken("seq 1: truncated after seq 0")
    assert "seq 1..11" in out


def test_cut_below_the_newest_checkpoint_names_the_lost_range(trail: Path) -> None:
    _cut_after(9)
    out = _broken("seq 10: truncated after seq 9")
    assert "2 event(s) missing at the end, seq 10..11 (and any written after it)" in out


def test_a_checkpoint_written_while_verify_reads_the_chain_is_no_false_alarm(checkpoint_path: Path) -> None:
    """verify reads the file first; a checkpoint appended meanwhile has its event in the chain it then reads."""
    record_many(3)
    writes = iter([audit_checkpoint])
    result = audit_verify(batch_size=1, advance=lambda _n: next(writes, lambda: None)())
    assert AuditEvent.objects.filter(action=Action.AUDIT_CHECKPOINT).count() == 1
    assert result.ok and result.head_seq == 4, result.summary()


def test_an_empty_trail_without_business_data_verifies() -> None:
    assert run_verify()[0] == 0


def test_an_empty_trail_beside_business_data_is_broken(checkpoint_path: Path) -> None:
    _business_rows()
    result = audit_verify()
    assert not result.ok and result.problem is not None
    assert result.problem.kind == "missing (deleted)" and "2 case(s)" in result.problem.detail
    assert not checkpoint_path.exists()


def test_a_checkpoint_written_elsewhere_is_named(trail: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    audit_checkpoint(directory=other)
    out = _broken(f"seq 16 (id {id_of(16)}): checkpoint file disagrees with the chain")
    assert str(other / "audit-checkpoints.jsonl") in out
    assert run_verify("--checkpoints", str(other / "audit-checkpoints.jsonl"))[0] == 1  # lacks the first two


def test_no_audit_table_is_one_line_and_exit_2() -> None:
    from mianshen.audit.selectors import AuditUnavailable

    drop_protection(connection)
    sql(f"DROP TABLE {TABLE}")  # rolled back with the test
    with pytest.raises(AuditUnavailable, match="no audit table"):
        audit_verify()
    for args in (("verify", "--quiet"), ("checkpoint",)):
        with pytest.raises(CommandError, match=f"there is no audit table \\({TABLE}\\)") as raised:
            call_command("audit", *args, stdout=io.StringIO(), stderr=io.StringIO())
        assert raised.value.returncode == 2


def test_an_unreadable_checkpoint_file_is_exit_2(checkpoint_path: Path) -> None:
    checkpoint_path.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(CommandError, match="cannot read the checkpoint file") as raised:
        call_command("audit", "verify", "--quiet", stdout=io.StringIO(), stderr=io.StringIO())
    assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="cannot write the checkpoint file") as raised:
        call_command("audit", "checkpoint", stdout=io.StringIO(), stderr=io.StringIO())
    assert raised.value.returncode == 2
