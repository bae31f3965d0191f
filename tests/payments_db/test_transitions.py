"""The one way an instruction's or a bank file's status changes (``payments.services.transitions``): allowed
moves only, from the status the caller saw, all or nothing, with their audit events; the small (ORM) path and
the bulk (compare-and-set on plain rows) path refuse and write exactly the same."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

import mianshen.payments.services.transitions as transitions
from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.payments.lifecycle import InstructionStatus as IS
from mianshen.payments.models import BankFile, Instruction
from mianshen.payments.services.common import event
from mianshen.payments.services.instructions import payments_release
from mianshen.payments.services.transitions import (
    FileMove,
    InstructionMove,
    PaymentTransitionRefused,
    bank_file_transition,
    bank_file_transitions,
    instruction_transition_in_file,
    instruction_transition_many,
)
from mianshen.payments.states import BankFileStatus, bank_file_can_move, instruction_can_move

from .factories import MON, approved_cases

pytestmark = pytest.mark.django_db
BF = BankFileStatus
ACTOR = "system:test"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
COLUMNS = ("bank_status", "rejected", "reject_codes", "booked_on", "action")
# (status of the instruction, target, allowed?) — every kind of outcome, repeated over a batch
PATTERN: list[tuple[IS, IS, bool]] = [
    (IS.UPLOADED, IS.ACCEPTED, True),
    (IS.ACCEPTED, IS.SETTLED, True),
    (IS.SETTLED, IS.RETURNED, True),
    (IS.REJECTED, IS.SETTLED, True),  # a booking outranks a reject
    (IS.NO_ANSWER, IS.REJECTED, True),
    (IS.ACCEPTED, IS.ACCEPTED, True),  # staying, with the bank's facts written
    (IS.SETTLED, IS.FROZEN, False),  # never back into a file
    (IS.RETURNED, IS.ACCEPTED, False),  # a return is final
]
ALLOWED = [p for p in PATTERN if p[2]]
BULK_FROM = transitions.BULK_FROM


def _instructions(n: int, statuses: list[IS]) -> list[Instruction]:
    """``n`` instructions (one per released case), the i-th in ``statuses[i % len(statuses)]``."""
    cases = approved_cases(n, banks=("102",))
    payments_release(actor=ACTOR, case_ids=[c.pk for c in cases])
    insts = list(Instruction.objects.filter(case__in=cases).order_by("pk"))
    for i, status in enumerate(statuses):
        Instruction.objects.filter(pk__in=[x.pk for x in insts[i :: len(statuses)]]).update(
            status=status.value
        )
    return list(Instruction.objects.filter(case__in=cases).order_by("pk"))


def _values(i: int) -> tuple[Any, ...]:
    return ("ACSC" if i % 2 else "ACSP", i % 3 == 0, "AC01 AM04" if i % 5 == 0 else "", MON + timedelta(days=i % 4),
            "needs_correction" if i % 7 == 0 else "")  # fmt: skip


def _moves(insts: list[Instruction], pattern: list[tuple[IS, IS, bool]]) -> list[InstructionMove]:
    return [
        InstructionMove(inst.pk, IS(inst.status), pattern[i % len(pattern)][1], _values(i))
        for i, inst in enumerate(insts)
    ]


def _rows(insts: list[Instruction]) -> list[tuple[Any, ...]]:
    rows = Instruction.objects.filter(pk__in=[i.pk for i in insts]).order_by("pk")
    return list(rows.values_list("status", *COLUMNS, "bank_file_id", "amount_fen"))


def _events() -> list[tuple[Any, ...]]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", "object_type", "after"))


def _applied(label: str) -> dict[str, Any]:
    return event(Action.BANK_STATUS_APPLIED, "inbound_file", label, after={"move": label})


@pytest.mark.parametrize("n", [24, 520])  # 520: COPY and UPDATE … FROM on PostgreSQL (>= 500 rows)
def test_the_bulk_path_writes_what_the_small_path_writes(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = []
    for threshold in (10**9, 0):
        monkeypatch.setattr(transitions, "BULK_FROM", threshold)
        insts = _instructions(n, [p[0] for p in ALLOWED])
        amounts = [i.amount_fen for i in insts]
        before = len(_events())
        written = instruction_transition_many(
            moves=_moves(insts, ALLOWED), columns=COLUMNS, actor=ACTOR, events=[_applied("moves")]
        )
        rows = _rows(insts)
        assert [r[-1] for r in rows] == amounts  # other columns untouched
        assert [r[0] for r in rows] == [ALLOWED[i % len(ALLOWED)][1].value for i in range(n)]
        assert [r[1:6] for r in rows] == [_values(i) for i in range(n)]
        outcomes.append((written, rows, _events()[before:]))
    small, bulk = outcomes
    assert small[0] == bulk[0] == n
    assert [r[:-2] for r in small[1]] == [r[:-2] for r in bulk[1]]
    assert small[2] == bulk[2] and len(small[2]) == 1


@pytest.mark.parametrize("threshold", [10**9, 0], ids=["small", "bulk"])
@pytest.mark.parametrize("n", [16, 520])
def test_a_refused_move_refuses_the_whole_batch_on_both_paths(
    n: int, threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transitions, "BULK_FROM", threshold)
    insts = _instructions(n, [p[0] for p in PATTERN])
    rows, events = _rows(insts), len(_events())
    with pytest.raises(PaymentTransitionRefused) as refused:
        instruction_transition_many(moves=_moves(insts, PATTERN), columns=COLUMNS, actor=ACTOR,
                                    events=[_applied("x")])  # fmt: skip
    # the first refused move in id order, worded the same on both paths, in English and Chinese
    assert str(refused.value) == f"instruction {insts[6].pk}: settled → frozen is not an allowed move"
    assert refused.value.zh == f"拨付指令 {insts[6].pk}：不允许从“已入账”变为“已冻结，待交付”"
    assert _rows(insts) == rows and len(_events()) == events


@pytest.mark.parametrize("threshold", [10**9, 0], ids=["small", "bulk"])
@pytest.mark.parametrize("n", [16, 520])
def test_a_move_from_a_status_the_row_no_longer_has_writes_nothing(
    n: int, threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows are compared with what the caller saw under lock: a row in another status (or gone) refuses the
    batch — on the bulk path after the other rows were written, which the savepoint takes back."""
    monkeypatch.setattr(transitions, "BULK_FROM", threshold)
    insts = _instructions(n, [p[0] for p in ALLOWED])
    moves = _moves(insts, ALLOWED)
    stale = n - 3  # late in id order: on the bulk path the rows before it are written first
    Instruction.objects.filter(pk=insts[stale].pk).update(status=IS.DISPUTED.value)
    rows, events = _rows(insts), len(_events())
    with pytest.raises(PaymentTransitionRefused) as refused:
        instruction_transition_many(moves=moves, columns=COLUMNS, actor=ACTOR, events=[_applied("x")])
    expected = moves[stale].frm.value
    assert str(refused.value) == f"instruction {insts[stale].pk} is disputed, expected {expected}"
    assert _rows(insts) == rows and len(_events()) == events
    gone = [*moves[:stale], InstructionMove(10**9, IS.UPLOADED, IS.ACCEPTED, _values(0))]
    with pytest.raises(PaymentTransitionRefused, match=f"no such instruction: {10**9}"):
        instruction_transition_many(moves=gone, columns=COLUMNS, actor=ACTOR)
    assert _rows(insts) == rows and len(_events()) == events


def test_staying_without_columns_is_nothing_to_do_and_columns_are_checked() -> None:
    [inst] = _instructions(1, [IS.ACCEPTED])
    events = _events()
    assert instruction_transition_many(moves=[InstructionMove(inst.pk, IS.ACCEPTED, IS.ACCEPTED)],
                                       actor=ACTOR, events=[_applied("x")]) == 0  # fmt: skip
    assert _events() == events
    with pytest.raises(ValueError, match="'status' is not a column a move can write"):
        instruction_transition_many(moves=[InstructionMove(inst.pk, IS.ACCEPTED, IS.SETTLED, ("x",))],
                                    columns=("status",), actor=ACTOR)  # fmt: skip
    with pytest.raises(ValueError, match="has 0 values for 1 columns"):
        instruction_transition_many(moves=[InstructionMove(inst.pk, IS.ACCEPTED, IS.SETTLED)],
                                    columns=("bank_status",), actor=ACTOR)  # fmt: skip


def _bank_file(status: BankFileStatus = BF.FROZEN) -> BankFile:
    tag = uuid.uuid4().hex[:8]
    return BankFile.objects.create(
        msg_id=f"MS-T{tag}", pmt_inf_id=f"MS-T{tag}-B1", bank_id="102", execution_date=date(2026, 12, 1),
        created_at=NOW, nb_of_txs=1, ctrl_sum_fen=100, content=b"<xml/>", sha256=uuid.uuid4().hex * 2,
        status=status.value, frozen_by=ACTOR,
    )  # fmt: skip


def test_the_instructions_of_a_file_move_together_from_one_status() -> None:
    insts = _instructions(4, [IS.FROZEN, IS.FROZEN, IS.ACCEPTED, IS.FROZEN])
    bf, other = _bank_file(BF.UPLOADING), _bank_file(BF.UPLOADING)
    Instruction.objects.filter(pk__in=[i.pk for i in insts[:3]]).update(bank_file=bf)
    Instruction.objects.filter(pk=insts[3].pk).update(bank_file=other)
    events = len(_events())
    moved = instruction_transition_in_file(bank_file_id=bf.pk, frm=IS.FROZEN, to=IS.UPLOADED, actor=ACTOR,
                                           events=[_applied("file")])  # fmt: skip
    assert moved == 2 and [r[0] for r in _rows(insts)] == ["uploaded", "uploaded", "accepted", "frozen"]
    assert len(_events()) == events + 1
    with pytest.raises(PaymentTransitionRefused, match="uploaded → frozen is not an allowed move"):
        instruction_transition_in_file(bank_file_id=bf.pk, frm=IS.UPLOADED, to=IS.FROZEN, actor=ACTOR)
    assert instruction_transition_in_file(bank_file_id=bf.pk, frm=IS.NO_ANSWER, to=IS.ACCEPTED, actor=ACTOR,
                                          events=[_applied("none")]) == 0  # fmt: skip
    assert len(_events()) == events + 1  # nothing moved, nothing recorded


def test_bank_file_moves_are_checked_written_with_their_fields_and_audited() -> None:
    frozen, uploaded, answered = _bank_file(), _bank_file(BF.UPLOADED), _bank_file(BF.ANSWERED)
    until = NOW + timedelta(hours=1)
    moved = bank_file_transition(
        pk=frozen.pk, to=BF.UPLOADING, expect=frozenset({BF.FROZEN}), actor=ACTOR,
        changes={"upload_attempts": 1, "upload_owner": "h:1:2", "upload_lease_until": until},
        events=[event(Action.BANK_FILE_UPLOAD_STARTED, "bank_file", frozen.msg_id, after={"attempt": 1})],
    )  # fmt: skip
    fresh = BankFile.objects.get(pk=frozen.pk)
    assert (moved.status, fresh.status, fresh.upload_attempts, fresh.upload_owner) == (
        "uploading", "uploading", 1, "h:1:2",
    )  # fmt: skip
    assert fresh.upload_lease_until == until and bytes(fresh.content) == b"<xml/>"
    assert [e[0] for e in _events()] == [Action.BANK_FILE_UPLOAD_STARTED]
    with pytest.raises(PaymentTransitionRefused, match=r"is uploading, expected frozen"):
        bank_file_transition(pk=frozen.pk, to=BF.UPLOADING, expect=frozenset({BF.FROZEN}), actor=ACTOR)
    # strict: one refused move (answered → uploaded) refuses the batch
    with pytest.raises(PaymentTransitionRefused) as refused:
        bank_file_transitions(moves=[FileMove(uploaded.pk, BF.NO_ANSWER), FileMove(answered.pk, BF.UPLOADED)],
                              actor=ACTOR, events=[_applied("x")])  # fmt: skip
    assert str(refused.value) == f"bank file {answered.msg_id}: answered → uploaded is not an allowed move"
    assert refused.value.zh == f"银行文件 {answered.msg_id}：不允许从“已答复”变为“已交付，未答复”"
    assert BankFile.objects.get(pk=uploaded.pk).status == "uploaded" and len(_events()) == 1
    # not strict: an answer moves the handed-over files only (a frozen one stays, an answered one stays)
    never = _bank_file()
    files = [uploaded.pk, answered.pk, never.pk]
    written = bank_file_transitions(
        moves=[FileMove(pk, BF.ANSWERED) for pk in files], actor=ACTOR, strict=False
    )
    assert [f.pk for f in written] == [uploaded.pk]
    assert list(BankFile.objects.filter(pk__in=files).order_by("pk").values_list("status", flat=True)) == [
        "answered", "answered", "frozen",
    ]  # fmt: skip
    with pytest.raises(PaymentTransitionRefused, match="no such bank file"):
        bank_file_transitions(moves=[FileMove(10**9, BF.ANSWERED)], actor=ACTOR, strict=False)


# ---- random moves against one instruction and one bank file --------------------------------------------------


class PaymentStatesMachine(RuleBasedStateMachine):
    """Random moves: statuses only ever follow the tables; a refusal changes nothing and records nothing; a
    written move records its event."""

    @initialize()
    def open(self) -> None:
        [self.inst] = _instructions(1, [IS.CREATED])
        self.file = _bank_file()
        self.status, self.file_status = IS.CREATED, BF.FROZEN
        self.events = len(_events())

    @rule(to=st.sampled_from(list(IS)), seen=st.none() | st.sampled_from(list(IS)), bulk=st.booleans())
    def move_instruction(self, to: IS, seen: IS | None, bulk: bool) -> None:
        frm = self.status if seen is None else seen  # sometimes a caller that saw another status
        transitions.BULK_FROM = 0 if bulk else 10**9
        allowed = frm == self.status and instruction_can_move(frm, to)
        try:
            written = instruction_transition_many(moves=[InstructionMove(self.inst.pk, frm, to, ("ACSC",))],
                                                  columns=("bank_status",), actor=ACTOR, events=[_applied("m")])  # fmt: skip
        except PaymentTransitionRefused:
            assert not allowed, f"{frm} → {to} refused"
            return
        finally:
            transitions.BULK_FROM = BULK_FROM
        assert allowed and written == 1, f"{frm} (is {self.status}) → {to} allowed"
        self.status = to
        self.events += 1

    @rule(to=st.sampled_from(list(BF)), strict=st.booleans())
    def move_file(self, to: BankFileStatus, strict: bool) -> None:
        allowed = bank_file_can_move(self.file_status, to)
        try:
            written = bank_file_transitions(moves=[FileMove(self.file.pk, to, changes={"upload_attempts": 1})],
                                            actor=ACTOR, events=[_applied("f")], strict=strict)  # fmt: skip
        except PaymentTransitionRefused:
            assert strict and not allowed
            return
        assert len(written) == allowed
        if allowed:
            self.file_status = to
            self.events += 1

    @invariant()
    def matches_the_model(self) -> None:
        if not hasattr(self, "inst"):
            return
        assert Instruction.objects.get(pk=self.inst.pk).status == self.status
        assert BankFile.objects.get(pk=self.file.pk).status == self.file_status
        assert len(_events()) == self.events


def test_random_moves_follow_the_tables() -> None:
    run_state_machine_as_test(
        PaymentStatesMachine,
        settings=settings(max_examples=20, stateful_step_count=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )  # fmt: skip
