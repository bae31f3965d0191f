"""The instruction and bank-file state tables (``payments.states``): complete, consistent with the fold of the
banks' answers (``lifecycle.derive``), and the only way in — no code outside ``services.transitions`` writes an
instruction's or a bank file's status (an AST scan of ``src/``)."""

from __future__ import annotations

from datetime import date
from functools import reduce
from itertools import combinations

import pytest

from mianshen.payments.lifecycle import (
    CANCELLABLE,
    FAILED,
    LIVE,
    Summary,
    derive,
    fact_booking,
    fact_return,
    fact_status,
    merge,
)
from mianshen.payments.lifecycle import InstructionStatus as IS
from mianshen.payments.models import BankFile, Instruction
from mianshen.payments.states import (
    BANK_FILE_TRANSITIONS,
    INSTRUCTION_TRANSITIONS,
    BankFileStatus,
    bank_file_can_move,
    instruction_can_move,
)
from tests.cases.field_writes import Write, writes, writes_in_source

BF = BankFileStatus
TRANSITIONS_MODULE = "mianshen.payments.services.transitions"
# Writes of a ``status`` field of another model in a module that also uses Instruction or BankFile.
NOT_THESE_MODELS = {
    ("mianshen.payments.services.apply", "inbound.save(update_fields=…)"),  # InboundFile: a reprocessed file
}


def _reachable(table: dict[object, frozenset[object]], start: object) -> set[object]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in table[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_instruction_status_has_a_row_and_is_reachable() -> None:
    assert set(INSTRUCTION_TRANSITIONS) == set(IS)
    for current, targets in INSTRUCTION_TRANSITIONS.items():
        assert targets <= set(IS) and current not in targets  # staying is not a move
    assert _reachable(INSTRUCTION_TRANSITIONS, IS.CREATED) == set(IS)  # type: ignore[arg-type]
    assert INSTRUCTION_TRANSITIONS[IS.RETURNED] == INSTRUCTION_TRANSITIONS[IS.CANCELLED] == frozenset()


def test_instruction_moves_keep_the_money_rules() -> None:
    # only a created instruction (never in a file) is withdrawn; nothing comes back to created or frozen
    assert {s for s, targets in INSTRUCTION_TRANSITIONS.items() if IS.CANCELLED in targets} == {IS.CREATED}
    assert all(IS.CREATED not in t and (IS.FROZEN not in t or s == IS.CREATED)
               for s, t in INSTRUCTION_TRANSITIONS.items())  # fmt: skip
    # a settled payment only ever comes back (a return): it is never rejected, re-sent or disputed after
    assert INSTRUCTION_TRANSITIONS[IS.SETTLED] == frozenset({IS.RETURNED})
    # a failed one becomes live again only by a booking (money moved: settled, with a hold) — a re-issue is a
    # new instruction
    for failed in FAILED:
        assert INSTRUCTION_TRANSITIONS[failed] & LIVE <= {IS.SETTLED}
    assert CANCELLABLE - {IS.CANCELLED} == FAILED | {IS.CREATED}


def test_every_bank_file_status_has_a_row_and_is_reachable() -> None:
    assert set(BANK_FILE_TRANSITIONS) == set(BF)
    for current, targets in BANK_FILE_TRANSITIONS.items():
        assert targets <= set(BF) and current not in targets
    assert _reachable(BANK_FILE_TRANSITIONS, BF.FROZEN) == set(BF)  # type: ignore[arg-type]
    assert BANK_FILE_TRANSITIONS[BF.REJECTED] == frozenset()
    # an answer moves a handed-over file only: these were the statuses ``_mark_answered`` moved by hand
    waiting = {BF.UPLOADING, BF.UPLOADED, BF.NO_ANSWER}
    assert {s for s, t in BANK_FILE_TRANSITIONS.items() if BF.ANSWERED in t} == waiting
    assert {s for s, t in BANK_FILE_TRANSITIONS.items() if BF.REJECTED in t} == waiting | {BF.ANSWERED}


def test_the_model_choices_are_the_statuses() -> None:
    assert [v for v, _ in BankFile._meta.get_field("status").choices] == [s.value for s in BF]  # type: ignore[union-attr]
    assert [v for v, _ in Instruction._meta.get_field("status").choices] == [s.value for s in IS]  # type: ignore[union-attr]


def test_staying_is_allowed_and_anything_unlisted_is_not() -> None:
    for s in IS:
        for t in IS:
            assert instruction_can_move(s, t) == (s == t or t in INSTRUCTION_TRANSITIONS[s])
    for f in BF:
        for g in BF:
            assert bank_file_can_move(f, g) == (f == g or g in BANK_FILE_TRANSITIONS[f])
    assert not instruction_can_move(IS.SETTLED, IS.FROZEN) and not bank_file_can_move(
        BF.ANSWERED, BF.UPLOADED
    )


# ---- the fold of the banks' answers only ever makes moves the table lists ------------------------------------

# one fact of each kind that matters to the status (other dates and codes change no status)
FACTS = [
    fact_status("PDNG"),
    fact_status("ACSP"),
    fact_status("ACSC"),
    fact_status("ACCC"),
    fact_status("RJCT", ("AC01",)),
    fact_booking(date(2026, 12, 2)),
    fact_return(date(2026, 12, 4), "AC04"),
]
# what one answer file can say about one instruction: any of these facts together (a pain.002 line and its
# group status, a camt.054 debit and its return, …), folded before its status is derived
ANSWERS = [facts for n in range(1, len(FACTS) + 1) for facts in combinations(FACTS, n)]
# the moves of the hand-over (bank_files_build, payment_cancel, bank_file_upload, bank_files_check_silence)
HAND_OVER = [
    (IS.CREATED, IS.FROZEN),
    (IS.CREATED, IS.CANCELLED),
    (IS.FROZEN, IS.UPLOADED),
    (IS.UPLOADED, IS.NO_ANSWER),
]


def _moves_of_the_services() -> set[tuple[IS, IS]]:
    """Every status change of one instruction's life as the services drive it, explored exhaustively: the
    hand-over moves it by status (build or cancel, upload, silence); each answer folds its facts into the
    summary and ``derive`` gives the status (``apply.apply_plan``); a failed or cancelled one can be superseded by
    a re-issue."""
    start = (IS.CREATED, Summary(), False)
    seen, todo, moves = {start}, [start], set()
    while todo:
        status, summary, superseded = todo.pop()
        after = [(to, summary, superseded) for frm, to in HAND_OVER if frm == status]
        if status not in (IS.CREATED, IS.CANCELLED):  # in a file: the bank may answer
            for facts in ANSWERS:
                folded = reduce(merge, facts, summary)
                after.append((derive(folded, base=status, superseded=superseded), folded, superseded))
        if status in FAILED | {IS.CANCELLED}:
            after.append((status, summary, True))  # re-issued: a new instruction supersedes this one
        for state in after:
            if state[0] != status:
                moves.add((status, state[0]))
            if state not in seen:
                seen.add(state)
                todo.append(state)
    return moves


def test_the_table_lists_exactly_the_moves_the_services_make() -> None:
    listed = {(s, t) for s, targets in INSTRUCTION_TRANSITIONS.items() for t in targets}
    made = _moves_of_the_services()
    assert sorted(made - listed) == []  # the fold never makes a move the table would refuse
    assert sorted(listed - made) == []  # and the table allows nothing the services never do


# ---- nothing outside the transition functions writes a status ------------------------------------------------


def _scan(source: str, module: str) -> list[Write]:
    return writes_in_source(
        source, module, app_models="mianshen.payments.models", models={"Instruction", "BankFile"},
        fields={"status"}, tables={"payments_instruction", "payments_bankfile"},
    )  # fmt: skip


def _writes() -> list[Write]:
    return writes(
        app_models="mianshen.payments.models", models={"Instruction", "BankFile"}, fields={"status"},
        tables={"payments_instruction", "payments_bankfile"},
    )  # fmt: skip


def test_no_code_outside_the_transition_functions_writes_a_status() -> None:
    found = [
        str(w)
        for w in _writes()
        if w.module != TRANSITIONS_MODULE and (w.module, w.what) not in NOT_THESE_MODELS
    ]
    assert found == []


def test_the_scan_sees_the_transition_functions_and_the_exceptions() -> None:
    found = {(w.module, w.what) for w in _writes()}
    assert found >= NOT_THESE_MODELS  # each exception is still needed
    mine = {what for module, what in found if module == TRANSITIONS_MODULE}
    assert {"inst.status = …", "bf.status = …", "Instruction.objects.bulk_update(fields=…)"} <= mine


@pytest.mark.parametrize(
    "line",
    [
        "Instruction.objects.filter(bank_file=bf, status='frozen').update(status='uploaded')",
        "BankFile.objects.filter(pk=1).update(**fields)",
        "bf.status = 'no_answer'",
        "current.status, current.action = 'cancelled', ''",
        "setattr(inst, 'status', 'settled')",
        "bf.save(update_fields=['status'])",
        "Instruction.objects.bulk_update(insts, ['status', 'bank_file'])",
        "update_rows(Instruction, ['bank_status', 'status'], rows)",
        "update_rows(Instruction, columns, rows)",
        "cursor.execute('UPDATE payments_bankfile SET status = %s', ['answered'])",
        "cursor.execute('update \"payments_instruction\" set status = %s', ['settled'])",
    ],
)
def test_the_scan_finds_each_kind_of_status_write(line: str) -> None:
    source = (
        f"from ..models import BankFile, Instruction\nfrom mianshen.core.bulkdb import update_rows\n{line}\n"
    )
    assert _scan(source, "mianshen.payments.services.someone")
