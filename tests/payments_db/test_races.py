"""Payment races that prove blocking (issue 10, item 5): the real service runs twice, each on its own
connection; the first stops inside its transaction holding its locks, the test proves the second one waits for
them (PostgreSQL: blocked by the first one's backend at the expected statement; SQLite: at BEGIN IMMEDIATE while
the first one holds the write lock), then lets the first one commit and checks that the second one re-checked and
refused or skipped. See ``tests/blocking.py``.

Locks proven: the bank rows (``Bank … FOR UPDATE``) that serialise builders with each other and with a
cancellation; the approved cases (``Case … FOR UPDATE``) a hand-over to payments takes; the four-eyes request
(``Approval … FOR UPDATE``) its deciders take.
"""

from __future__ import annotations

import pytest

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case
from mianshen.cases.states import State
from mianshen.core.models import Job
from mianshen.payments.lifecycle import InstructionStatus
from mianshen.payments.models import Approval, ApprovalKind, BankFile, Instruction, Payment
from mianshen.payments.services.approvals import approval_decide, approval_request
from mianshen.payments.services.bankfiles import bank_files_build
from mianshen.payments.services.common import PaymentError
from mianshen.payments.services.instructions import ReleaseResult, payments_release

from ..blocking import race, row_lock
from .factories import MON, approved_cases

pytestmark = pytest.mark.usefixtures("transactional_db")

SYSTEM = "system:test"
BANK_ROWS = row_lock("payments_bank")
CASE_ROWS = row_lock("cases_case")
APPROVAL_ROW = row_lock("payments_approval")


def _released(n: int) -> list[Case]:
    """``n`` approved cases at bank 102, handed over to payments: each has a ``created`` instruction."""
    cases = approved_cases(n, banks=("102",))
    payments_release(actor=SYSTEM)
    return cases


def _events(action: Action) -> int:
    return AuditEvent.objects.filter(action=action).count()


def _instruction(case: Case) -> Instruction:
    return Instruction.objects.get(case=case)


def _cancel_requested(case: Case) -> Approval:
    return approval_request(
        kind=ApprovalKind.CANCEL_PAYMENT, case_id=case.pk, actor="officer-li", reason="单位已注销"
    )


def test_a_second_build_waits_for_the_first_and_finds_nothing_left_to_freeze() -> None:
    _released(3)
    with race() as r:
        first = r.hold(
            "build-1", lambda: bank_files_build(actor="builder-1", today=MON), pause_after=BANK_ROWS
        )
        second = r.contend("build-2", lambda: bank_files_build(actor="builder-2", today=MON))
        r.assert_waits(second, on=first, at=BANK_ROWS)
        first.resume()
        [frozen] = first.result()
        assert second.result() == []  # re-selected under the lock: every instruction was frozen meanwhile
    assert (frozen.nb_of_txs, frozen.frozen_by) == (3, "builder-1")
    assert list(BankFile.objects.values_list("msg_id", flat=True)) == [frozen.msg_id]
    assert set(Instruction.objects.values_list("status", "bank_file_id")) == {
        (InstructionStatus.FROZEN, frozen.pk)
    }
    assert _events(Action.BANK_FILE_FROZEN) == 1
    assert Job.objects.filter(kind="payments.upload").count() == 1


def test_a_second_release_waits_for_the_first_and_hands_over_nothing_again() -> None:
    cases = approved_cases(2, banks=("102",))
    amount = sum(c.amount_fen for c in cases)
    with race() as r:
        first = r.hold("release-1", lambda: payments_release(actor="release-1"), pause_after=CASE_ROWS)
        second = r.contend("release-2", lambda: payments_release(actor="release-2"))
        r.assert_waits(second, on=first, at=CASE_ROWS)
        first.resume()
        assert first.result() == ReleaseResult(2, 2, 0, amount)
        # it had read both cases as approved; under the lock they are released: none is its to hand over
        assert second.result() == ReleaseResult(0, 0, 0, 0)
    assert Payment.objects.count() == 2 and Instruction.objects.count() == 2
    assert set(Payment.objects.values_list("released_by", flat=True)) == {"release-1"}
    assert set(Case.objects.values_list("state", flat=True)) == {State.RELEASED}
    assert _events(Action.PAYMENT_INSTRUCTION_CREATED) == 1


def test_a_cancellation_waits_for_a_build_and_then_refuses_the_frozen_payment() -> None:
    doomed, _other = _released(2)
    approval = _cancel_requested(doomed)
    with race() as r:
        build = r.hold("build", lambda: bank_files_build(actor="builder", today=MON), pause_after=BANK_ROWS)
        cancel = r.contend(
            "cancel", lambda: approval_decide(approval_id=approval.pk, actor="officer-wang", approve=True)
        )
        r.assert_waits(cancel, on=build, at=BANK_ROWS)
        build.resume()
        [frozen] = build.result()
        with pytest.raises(PaymentError, match=r"is frozen; not cancellable"):
            cancel.result()  # it saw `created` before the lock; under it, the payment is in a file
    assert frozen.nb_of_txs == 2
    assert _instruction(doomed).status == InstructionStatus.FROZEN
    assert Payment.objects.get(case=doomed).cancelled_at is None
    approval.refresh_from_db()
    assert approval.decided_by == ""  # nothing of the refused decision was kept
    assert _events(Action.PAYMENT_INSTRUCTION_CANCELLED) == _events(Action.PAYMENT_APPROVAL_DECIDED) == 0


def test_a_build_waits_for_a_cancellation_and_leaves_the_cancelled_payment_out() -> None:
    doomed, kept = _released(2)
    approval = _cancel_requested(doomed)
    with race() as r:
        cancel = r.hold(
            "cancel",
            lambda: approval_decide(approval_id=approval.pk, actor="officer-wang", approve=True),
            pause_after=BANK_ROWS,
        )
        build = r.contend("build", lambda: bank_files_build(actor="builder", today=MON))
        r.assert_waits(build, on=cancel, at=BANK_ROWS)
        cancel.resume()
        assert cancel.result().outcome == "approved"
        [frozen] = build.result()
    assert frozen.nb_of_txs == 1
    assert _instruction(kept).bank_file_id == frozen.pk
    cancelled = _instruction(doomed)
    assert (cancelled.status, cancelled.bank_file_id) == (InstructionStatus.CANCELLED, None)
    assert Payment.objects.get(case=doomed).cancelled_by == "officer-wang"
    assert _events(Action.PAYMENT_INSTRUCTION_CANCELLED) == 1


def test_a_second_approver_waits_for_the_first_and_finds_the_request_decided() -> None:
    [case] = _released(1)
    approval = _cancel_requested(case)

    def decide(officer: str) -> Approval:
        return approval_decide(approval_id=approval.pk, actor=officer, approve=True)

    with race() as r:
        first = r.hold("approver-1", lambda: decide("officer-wang"), pause_after=APPROVAL_ROW)
        second = r.contend("approver-2", lambda: decide("officer-zhao"))
        r.assert_waits(second, on=first, at=APPROVAL_ROW)
        first.resume()
        assert first.result().decided_by == "officer-wang"
        with pytest.raises(PaymentError, match="already decided by officer-wang"):
            second.result()
    approval.refresh_from_db()
    assert (approval.decided_by, approval.outcome) == ("officer-wang", "approved")
    assert Payment.objects.get(case=case).cancelled_by == "officer-wang"
    assert _events(Action.PAYMENT_APPROVAL_DECIDED) == _events(Action.PAYMENT_INSTRUCTION_CANCELLED) == 1
