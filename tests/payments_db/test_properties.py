"""Ingest is idempotent and order-independent (design invariant 5): the simulated banks' answers — technical
acks, receipts with rejects, reject-only receipts, settlement reports, bookings and returns, in both camt and
pain versions — fed in any order and any number of times give the same final state.

The final state is everything ingest decides: each instruction's status and what the bank said about it, each
payment's place, the bank files' answer state, the ledger, the hold queue and the unit notices. (Which line of
which file was the one that first applied a fact is a log of arrival order and is not part of it.)
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from mianshen.notify.models import Message
from mianshen.payments.lifecycle import InstructionStatus as IS
from mianshen.payments.lifecycle import Summary, derive, merge
from mianshen.payments.models import BankFile, Booking, HoldItem, Instruction
from mianshen.payments.selectors import payment_positions
from mianshen.payments.services.bankfiles import bank_files_build, bank_files_upload_pending
from mianshen.payments.services.channel import FolderChannel
from mianshen.payments.services.ingest import inbound_file_ingest
from mianshen.payments.services.instructions import payments_release
from mianshen_banksim import BankProfile

from .factories import MON, approved_cases, simulator

pytestmark = pytest.mark.django_db
# Half the booked payments come back: with ~20 booked, a run without a return (or without a settlement) has
# odds of about 1 in 10^6 — the outcome depends on the EndToEndIds, which follow the database's sequences.
PROFILES = {
    "102": BankProfile("102", technical_ack=True, blocked_per_mille=150, return_per_mille=500, return_after_days=(1, 2)),
    "313": BankProfile("313", reports_only_rejects=True, blocked_per_mille=150, return_per_mille=500,
                       return_after_days=(1, 2)),
    "403": BankProfile("403", blocked_per_mille=0, return_per_mille=500, return_after_days=(1, 2)),
}  # fmt: skip


def final_state() -> dict[str, Any]:
    return {
        "instructions": sorted(Instruction.objects.values_list(
            "end_to_end_id", "status", "bank_status", "rejected", "reject_codes", "booked_on", "returned_on",
            "return_reason", "action")),
        "positions": sorted((p.case_id, p.bucket.value, p.status) for p in payment_positions()),
        "files": sorted((f.msg_id, f.status, f.answered_at is not None) for f in BankFile.objects.all()),
        "ledger": sorted(Booking.objects.values_list("end_to_end_id", "kind", "amount_fen", "booking_date")),
        "holds": sorted(HoldItem.objects.values_list("key", "kind", "resolved_at")),
        # what the units were told of failures (a "paid" message depends on whether a booking was seen before
        # its return: a unit told "paid" and then "returned" is the truth of that order, not a different end)
        "notices": sorted(Message.objects.filter(kind__in=["payment_failed", "no_account"])
                          .values_list("event", "channel", "body_zh", "body_en")),
    }  # fmt: skip


def answers_of_a_run(root: Path) -> list[tuple[str, str, bytes]]:
    """Release 30 cases, hand their files to the simulated banks, let a week pass; return every answer."""
    fates = {1: "AC01", 4: "AC04", 9: "BE01"}
    approved_cases(30, banks=("102", "313", "403"), fates=fates)
    payments_release(actor="system:test")
    bank_files_build(actor="system:test", today=MON)
    sim = simulator(root, seed=11, profiles=PROFILES)
    bank_files_upload_pending(actor="system:test", channel=FolderChannel(root), today=MON)
    sim.process_inbox()
    sim.advance_to(date(2026, 12, 9))
    return [
        (path.parent.parent.name, path.name, path.read_bytes())
        for bank in PROFILES
        for path in sim.answers(bank)
    ]


def feed_all(answers: list[tuple[str, str, bytes]], order: list[int]) -> dict[str, Any]:
    with transaction.atomic():
        for i in order:
            bank, name, data = answers[i]
            inbound_file_ingest(data=data, name=name, actor="system:test", bank_code=bank)
        state = final_state()
        transaction.set_rollback(True)
    return state


def test_shuffled_and_repeated_answer_files_give_the_same_final_state(tmp_path: Path) -> None:
    answers = answers_of_a_run(tmp_path)
    kinds = {name.split("-")[1] for _, name, _ in answers}
    assert kinds == {"pain.002", "camt.054"} and len(answers) >= 8
    reference = feed_all(answers, list(range(len(answers))))
    statuses = {row[1] for row in reference["instructions"]}
    assert {"settled", "rejected", "returned"} <= statuses, statuses

    @settings(max_examples=25, deadline=None, database=None)
    @given(st.permutations(range(len(answers))), st.lists(st.integers(0, len(answers) - 1), max_size=6),
           st.randoms(use_true_random=False))  # fmt: skip
    def same_state(order: list[int], repeats: list[int], rnd: Any) -> None:
        sequence = list(order) + repeats
        rnd.shuffle(sequence)
        assert feed_all(answers, sequence) == reference

    same_state()


SUMMARIES = st.builds(
    Summary,
    bank_status=st.sampled_from(["", "ACTC", "ACCP", "ACSP", "ACSC", "PDNG"]),
    reject_codes=st.frozensets(st.sampled_from(["AC01", "AC04", "MS03"]), max_size=2),
    rejected=st.booleans(),
    booked_on=st.none() | st.dates(date(2026, 12, 1), date(2026, 12, 9)),
    returned_on=st.none() | st.dates(date(2026, 12, 1), date(2026, 12, 9)),
    return_reason=st.sampled_from(["", "AC04", "AC06"]),
)


@given(st.lists(SUMMARIES, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_the_fold_is_commutative_and_idempotent(facts: list[Summary], rnd: Any) -> None:
    """Pure: merging facts in any order, with repeats, gives the same summary and the same status."""
    one = Summary()
    for f in facts:
        one = merge(one, f)
    shuffled = facts + facts[: len(facts) // 2]
    rnd.shuffle(shuffled)
    two = Summary()
    for f in shuffled:
        two = merge(two, f)
    assert one == two
    for superseded in (False, True):
        assert derive(one, base=IS.UPLOADED, superseded=superseded) == derive(two, base=IS.UPLOADED,
                                                                              superseded=superseded)  # fmt: skip
