"""Ingest: idempotent by SHA-256, every version by namespace, silence read per bank profile, never backwards,
late and contradictory reports to the hold queue, DU01 for a retried hand-over fails nothing, silence → no answer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mianshen.payments.models import (
    BankFile,
    Booking,
    HoldItem,
    InboundFile,
    Instruction,
    StatusLine,
)
from mianshen.payments.services.bankfiles import bank_files_check_silence
from mianshen.payments.services.channel import FolderChannel
from mianshen.payments.services.ingest import inbound_files_collect
from mianshen.payments.services.reconcile import reconcile_run
from mianshen_banksim import BankProfile

from .factories import MON, later_drop, simulator, uploaded
from .factories import ingest as feed
from .messages import all_lines, bookings, status_report

pytestmark = pytest.mark.django_db
ACTOR = "system:test"


def statuses(bf: BankFile) -> set[str]:
    return set(bf.instructions.values_list("status", flat=True))


def test_the_same_file_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    [bf] = uploaded(3, root=tmp_path)
    data = status_report(bf, all_lines(bf, "ACSP"))
    first = feed(data)
    lines = StatusLine.objects.count()
    second = feed(data)
    assert not first.duplicate and second.duplicate and second.inbound.pk == first.inbound.pk
    assert StatusLine.objects.count() == lines == 3 and InboundFile.objects.count() == 1
    assert statuses(bf) == {"accepted"}


@pytest.mark.parametrize("version", ["pain.002.001.03", "pain.002.001.12"])
def test_both_pain002_versions(tmp_path: Path, version: str) -> None:
    [bf] = uploaded(2, root=tmp_path)
    result = feed(status_report(bf, all_lines(bf, "ACCP"), version=version))
    assert result.inbound.kind == version and statuses(bf) == {"accepted"}


@pytest.mark.parametrize("version", ["camt.054.001.02", "camt.054.001.08"])
def test_both_camt054_versions_settle(tmp_path: Path, version: str) -> None:
    [bf] = uploaded(2, root=tmp_path)
    result = feed(bookings(bf.instructions.all(), version=version))
    assert result.inbound.kind == version and statuses(bf) == {"settled"}
    assert Booking.objects.filter(kind="debit").count() == 2
    assert reconcile_run().ok


def test_a_report_never_moves_a_payment_backwards(tmp_path: Path) -> None:
    [bf] = uploaded(2, root=tmp_path)
    feed(status_report(bf, all_lines(bf, "ACSC")))
    late = feed(status_report(bf, all_lines(bf, "ACCP")))
    assert late.counts["outcomes"] == {"stale": 2}
    assert set(bf.instructions.values_list("bank_status", flat=True)) == {"ACSC"}
    feed(bookings(bf.instructions.all()))
    feed(status_report(bf, all_lines(bf, "ACTC")))
    assert statuses(bf) == {"settled"}


def test_reject_only_bank_silence_means_accepted(tmp_path: Path) -> None:
    [bf] = uploaded(3, root=tmp_path, banks=("313",))
    bad = bf.instructions.order_by("pk").first()
    assert bad is not None
    feed(status_report(bf, {bad.end_to_end_id: ("RJCT", ("AC01",))}, group="PART"))
    got = dict(bf.instructions.values_list("end_to_end_id", "status"))
    assert got.pop(bad.end_to_end_id) == "rejected" and set(got.values()) == {"accepted"}


def test_contradiction_goes_to_the_hold_queue(tmp_path: Path) -> None:
    [bf] = uploaded(2, root=tmp_path)
    one = bf.instructions.order_by("pk").first()
    assert one is not None
    feed(status_report(bf, {one.end_to_end_id: ("RJCT", ("MS03",))}))
    result = feed(status_report(bf, {one.end_to_end_id: ("ACSC", ())}))
    one.refresh_from_db()
    assert one.status == "disputed" and result.counts["outcomes"] == {"contradiction": 1}
    assert HoldItem.objects.filter(kind="contradiction", instruction=one).count() == 1


def test_a_booking_after_a_reissue_is_late_and_breaks_reconciliation(tmp_path: Path) -> None:
    from mianshen.payments.services.recovery import AccountInput, correction_decide, correction_prepare

    [bf] = uploaded(1, root=tmp_path)
    old = bf.instructions.get()
    feed(status_report(bf, {old.end_to_end_id: ("RJCT", ("AC01",))}))
    account = AccountInput("102", "102100000999", "6210200000000199", old.creditor_name)
    later_drop({old.case.unit_id: account})
    c = correction_prepare(case_id=old.case_id, actor="li", account=account)
    correction_decide(correction_id=c.pk, actor="wang", approve=True)
    result = feed(bookings([old]))  # the bank paid the "rejected" one after all
    old.refresh_from_db()
    assert old.status == "disputed" and result.counts["outcomes"] == {"late": 1}
    assert HoldItem.objects.filter(kind="late", instruction=old).exists()
    report = reconcile_run()
    assert not report.ok and report.day_differences[0].difference_fen == -old.amount_fen


def test_du01_answering_a_retried_handover_fails_nothing(tmp_path: Path) -> None:
    """Killed after the bytes reached the bank but before the hand-over was recorded: the restart sends the same
    bytes again, the bank (which already took them) answers DU01, and that fails nothing."""
    from mianshen.payments import crashpoints
    from mianshen.payments.services.bankfiles import bank_files_build, bank_files_upload_pending
    from mianshen.payments.services.instructions import payments_release

    from .factories import approved_cases

    sim = simulator(tmp_path)
    ch = FolderChannel(tmp_path)
    approved_cases(3, banks=("102",))
    payments_release(actor=ACTOR)
    [bf] = bank_files_build(actor=ACTOR, today=MON)
    with pytest.raises(crashpoints.Crash), crashpoints.crash_at("after_upload"):
        bank_files_upload_pending(actor=ACTOR, channel=ch, today=MON)
    sim.process_inbox()  # the bank took the file
    [handover] = bank_files_upload_pending(actor=ACTOR, channel=ch, today=MON)  # the restart takes it over
    again = handover.bank_file
    assert again.upload_attempts == 2 and again.sha256 == bf.sha256
    [outcome] = sim.process_inbox()
    assert outcome.kind == "duplicate" and outcome.same_bytes
    results = inbound_files_collect(channel=ch, actor=ACTOR).results
    assert [r.counts["outcomes"] for r in results] == [{"applied": 3}, {"ignored": 1}]
    assert statuses(bf) == {"accepted"} and not HoldItem.objects.exists()


def test_du01_for_a_file_sent_once_is_an_alert(tmp_path: Path) -> None:
    [bf] = uploaded(2, root=tmp_path)
    feed(status_report(bf, group="RJCT", group_codes=("DU01",), echo=False))
    assert statuses(bf) == {"uploaded"}
    assert HoldItem.objects.filter(kind="du01", bank_file=bf).count() == 1


def test_whole_file_reject_then_reissue_with_new_ids(tmp_path: Path) -> None:
    from mianshen.payments.services.bankfiles import bank_files_build
    from mianshen.payments.services.recovery import bank_file_reissue

    [bf] = uploaded(3, root=tmp_path)
    feed(status_report(bf, group="RJCT", group_codes=("AM10",), echo=False))
    bf.refresh_from_db()
    assert bf.status == "rejected" and statuses(bf) == {"rejected"}
    assert HoldItem.objects.filter(kind="our_defect", bank_file=bf, resolved_at=None).count() == 1
    new = bank_file_reissue(msg_id=bf.msg_id, actor="ops")
    assert all(n.replaces is not None and n.replaces.bank_file_id == bf.pk for n in new)
    [again] = bank_files_build(actor=ACTOR, today=date(2026, 12, 1))
    old_ids = set(bf.instructions.values_list("end_to_end_id", flat=True))
    new_ids = set(again.instructions.values_list("end_to_end_id", flat=True))
    assert len(new_ids) == 3 and not old_ids & new_ids and again.msg_id != bf.msg_id
    assert HoldItem.objects.get(kind="our_defect").resolved_at is not None


def test_silence_becomes_no_answer_and_the_same_bytes_go_again(tmp_path: Path) -> None:
    lost = {"102": BankProfile("102", silence_per_mille=1000, blocked_per_mille=0, return_per_mille=0)}
    sim = simulator(tmp_path, profiles=lost)
    [bf] = uploaded(2, root=tmp_path)
    ch = FolderChannel(tmp_path)
    [outcome] = sim.process_inbox()
    assert outcome.kind == "silence"
    assert bank_files_check_silence(actor=ACTOR, channel=ch, today=date(2026, 12, 2)) == []  # within 2 days
    [retried] = bank_files_check_silence(actor=ACTOR, channel=ch, today=date(2026, 12, 3))
    assert retried.status == "no_answer" and retried.upload_attempts == 2 and statuses(bf) == {"no_answer"}
    assert (tmp_path / "102" / "inbox" / bf.file_name).read_bytes() == bytes(bf.content)
    assert HoldItem.objects.filter(kind="no_answer", bank_file=bf).count() == 1
    assert not Instruction.objects.filter(status="created").exists()  # "no answer" blocks re-issue


def test_a_return_books_the_money_back_and_awaits_correction(tmp_path: Path) -> None:
    from mianshen.payments.selectors import payment_positions

    [bf] = uploaded(2, root=tmp_path)
    feed(bookings(bf.instructions.all()))
    first = bf.instructions.order_by("pk").first()
    assert first is not None
    feed(bookings([first], day=date(2026, 12, 4), returned="AC04"))
    first.refresh_from_db()
    assert first.status == "returned" and first.action == "needs_correction_no_retry_same_account"
    assert Booking.objects.filter(kind="return", end_to_end_id=first.end_to_end_id).count() == 1
    by_case = {p.case_id: p for p in payment_positions()}
    assert by_case[first.case_id].case_state == "awaiting_correction"
    report = reconcile_run()
    assert report.ok and report.buckets_fen["awaiting_correction"] == first.amount_fen


def test_an_entry_adding_up_is_applied_whatever_its_number_of_transactions(tmp_path: Path) -> None:
    """A batch booking (one Ntry, several TxDtls that add up to it), and a single TxDtls that leaves its amount
    to the entry, both carrying our MsgId and PmtInfId: applied."""
    from dataclasses import replace

    from .messages import camt054, debit_entry

    [bf] = uploaded(3, root=tmp_path)
    one, two, three = bf.instructions.order_by("pk")
    batch = debit_entry((one, one.amount_fen), (two, two.amount_fen))
    single = debit_entry((three, three.amount_fen), ref="2")
    refs = {"msg_id": bf.msg_id, "pmt_inf_id": bf.pmt_inf_id}
    batch = replace(batch, transactions=tuple(replace(t, **refs) for t in batch.transactions))
    single = replace(single, transactions=(replace(single.transactions[0], amount_fen=None, **refs),))
    result = feed(camt054([batch, single]))
    assert not result.quarantined, result.reason
    assert statuses(bf) == {"settled"} and Booking.objects.count() == 3
    assert reconcile_run().ok


def test_collecting_again_reads_what_was_ingested_in_one_statement(tmp_path: Path) -> None:
    """Answers ingested before are recognised by their SHA-256 from one read of the inbound files, not one query
    per file in the folders; the same bytes twice in the folders are ingested once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    files = uploaded(4, root=tmp_path, banks=("102", "105"))
    sim = simulator(tmp_path)
    sim.process_inbox()
    ch = FolderChannel(tmp_path)
    first = inbound_files_collect(channel=ch, actor=ACTOR).results
    assert len(first) == len(files) and not any(r.duplicate for r in first)
    answer = sorted((tmp_path / "102" / "outbox").iterdir())[0]
    (answer.parent / f"copy-{answer.name}").write_bytes(answer.read_bytes())  # the same bytes again
    with CaptureQueriesContext(connection) as queries:
        again = inbound_files_collect(channel=ch, actor=ACTOR).results
    assert again == [] and InboundFile.objects.count() == len(files)
    assert [q["sql"] for q in queries.captured_queries if "inboundfile" in q["sql"].lower()] == [
        q["sql"] for q in queries.captured_queries
    ] and len(queries.captured_queries) == 1


def test_a_file_read_in_an_earlier_pass_is_not_read_again_unless_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The banks' outboxes keep every answer: a pass opens each file but reads (and hashes) only those it has not
    read before with the same identity (inode, size, times); a file written again in place is read again, and a
    known identity whose SHA-256 the database does not hold (rolled back, another database) is read again."""
    from mianshen.payments.services import ingest

    uploaded(2, root=tmp_path, banks=("102", "105"))
    simulator(tmp_path).process_inbox()
    ch = FolderChannel(tmp_path)
    read: list[str] = []
    real = ingest._read_once

    def counting(fh):  # type: ignore[no-untyped-def]
        read.append(fh.name if isinstance(fh.name, str) else str(fh.name))
        return real(fh)

    monkeypatch.setattr(ingest, "_read_once", counting)
    first = inbound_files_collect(channel=ch, actor=ACTOR).results
    assert len(first) == 2 and len(read) == 2
    read.clear()
    assert inbound_files_collect(channel=ch, actor=ACTOR).results == [] and read == []
    # the same file written again in place (new change time): read again, recognised by its SHA-256
    answer = sorted((tmp_path / "102" / "outbox").iterdir())[0]
    answer.write_bytes(answer.read_bytes())
    assert inbound_files_collect(channel=ch, actor=ACTOR).results == [] and len(read) == 1
    read.clear()
    # the hint is only a hint: a SHA-256 the database does not hold means the file is read and ingested
    monkeypatch.setattr(ingest, "_SEEN", {k: "0" * 64 for k in ingest._SEEN})
    assert inbound_files_collect(channel=ch, actor=ACTOR).results == [] and len(read) == 2


@pytest.mark.parametrize("answer", ["ACSP", "bad"])
def test_a_file_stored_meanwhile_is_a_duplicate_without_the_lookup(tmp_path: Path, answer: str) -> None:
    """``unseen`` (collect has just found the SHA-256 among none stored) skips the lookup; a file another process
    stored in the meantime still ends as a duplicate: its insert fails, nothing of it is applied twice (an applied
    answer and a quarantined one alike)."""
    from django.db import transaction

    from mianshen.payments.services.ingest import inbound_file_ingest

    [bf] = uploaded(3, root=tmp_path)
    data = status_report(bf, all_lines(bf, "ACSP")) if answer == "ACSP" else b"<not xml"
    first = feed(data)
    lines, holds = StatusLine.objects.count(), HoldItem.objects.count()
    with transaction.atomic():
        again = inbound_file_ingest(data=data, name="again.xml", actor=ACTOR, unseen=True)
    assert again.duplicate and again.inbound.pk == first.inbound.pk
    assert InboundFile.objects.count() == 1 and StatusLine.objects.count() == lines
    assert HoldItem.objects.count() == holds
