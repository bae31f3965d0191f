"""The happy path and its checks: approved cases → instructions → frozen files → the simulated bank → settled,
and the money identity holds to the fen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mianshen.cases.models import Case
from mianshen.payments.formats import parse_pain001, validate
from mianshen.payments.lifecycle import Bucket
from mianshen.payments.models import BankFile, Booking, Instruction, Payment
from mianshen.payments.services.bankfiles import bank_files_build, bank_files_upload_pending
from mianshen.payments.services.common import end_to_end_id
from mianshen.payments.services.ingest import inbound_files_collect
from mianshen.payments.services.instructions import payments_release
from mianshen.payments.services.reconcile import reconcile_run

from .factories import MON, approved_cases, channel, simulator

pytestmark = pytest.mark.django_db
ACTOR = "system:test"


def test_release_build_upload_answer_settle(tmp_path: Path) -> None:
    cases = approved_cases(6, banks=("102", "313"))
    released = payments_release(actor=ACTOR)
    assert (released.released, released.instructed, released.awaiting_account) == (6, 6, 0)
    assert set(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("state", flat=True)) == {
        "released"
    }
    e2e = set(Instruction.objects.values_list("end_to_end_id", flat=True))
    assert e2e == {end_to_end_id(c.pk, 1) for c in cases}

    files = bank_files_build(actor=ACTOR, today=MON)
    assert sorted(f.bank_id for f in files) == ["102", "313"]
    for f in files:
        data = bytes(f.content)
        validate(data, "pain.001.001.09")
        parsed = parse_pain001(data)
        assert parsed.msg_id == f.msg_id and parsed.nb_of_txs == 3 and parsed.ctrl_sum_fen == f.ctrl_sum_fen
        assert parsed.blocks[0].execution_date.isoformat() == "2026-12-01"

    sim = simulator(tmp_path)
    ch = channel(tmp_path)
    bank_files_upload_pending(actor=ACTOR, channel=ch, today=MON)
    assert set(BankFile.objects.values_list("status", flat=True)) == {"uploaded"}
    sim.process_inbox()
    inbound_files_collect(channel=ch, actor=ACTOR)
    assert set(Instruction.objects.values_list("status", flat=True)) == {"accepted"}
    sim.advance_to(MON + timedelta(days=1))
    inbound_files_collect(channel=ch, actor=ACTOR)
    assert set(Instruction.objects.values_list("status", flat=True)) == {"settled"}
    assert Booking.objects.count() == 6
    report = reconcile_run()
    assert report.ok, (report.case_problems, report.day_differences, report.ledger_problems)
    assert report.buckets_fen[Bucket.SETTLED] == sum(c.amount_fen for c in cases) == report.approved_fen
    assert Payment.objects.count() == 6


def test_release_points_each_payment_at_its_first_instruction() -> None:
    """PostgreSQL inserts the payments pointing ahead at their instructions (the foreign key is checked at
    commit), SQLite inserts them first and points them afterwards: the same rows either way. A payment whose
    unit has no account on file points at nothing and waits."""
    with_account = approved_cases(14, banks=("102", "313"))
    without = approved_cases(2, account=False)
    released = payments_release(actor=ACTOR)
    assert (released.released, released.instructed, released.awaiting_account) == (16, 14, 2)
    first = dict(Instruction.objects.filter(attempt=1).values_list("payment_id", "pk"))
    rows = {
        case_id: (current, pk)
        for case_id, current, pk in Payment.objects.values_list("case_id", "current_id", "pk")
    }
    assert {c.pk: rows[c.pk][0] for c in with_account} == {c.pk: first[rows[c.pk][1]] for c in with_account}
    assert {c.pk: rows[c.pk][0] for c in without} == {c.pk: None for c in without}
    assert Instruction.objects.count() == 14 and set(first) <= {pk for _, pk in rows.values()}


def test_large_batches_render_in_worker_processes_with_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mianshen.payments.rendering import FileJob, render
    from mianshen.payments.services import bankfiles

    approved_cases(9, banks=("102", "105", "313"))
    payments_release(actor=ACTOR)
    monkeypatch.setattr(bankfiles, "PARALLEL_MIN", 1)
    monkeypatch.setenv("MIANSHEN_RENDER_WORKERS", "2")
    files = bank_files_build(actor=ACTOR, today=MON)
    assert len(files) == 3
    for f in files:
        parsed = parse_pain001(bytes(f.content))
        block = parsed.blocks[0]
        job = FileJob(f.msg_id, f.pmt_inf_id, f.created_at, f.execution_date, parsed.initiating_party,
                      block.debtor_name, block.debtor_account, block.debtor_branch_code,
                      [(t.end_to_end_id, t.amount_fen, t.creditor_name, t.creditor_account, t.creditor_branch_code,
                        t.remittance) for t in block.transfers])  # fmt: skip
        assert render(job)[1] == bytes(f.content)  # in this process: the very same bytes
        assert set(f.instructions.values_list("status", flat=True)) == {"frozen"}
