"""The statuses of an instruction and of a bank file, and the one table of allowed moves for each (pure; no
Django), beside the case table (``cases.states``).

An instruction (one attempt to pay a case) goes out in a bank file and comes back through the bank's answers::

    created ──► frozen ──► uploaded ──► no_answer          (the hand-over: build, upload, silence)
       │           └──────────┴────────────┴──► accepted / settled / rejected / returned / disputed
       ▼                                        (what the bank said: ingest, ``lifecycle.derive``)
    cancelled        accepted ──► settled ──► returned
                     rejected ──► settled / disputed / returned    disputed ──► settled / returned

A bank file is frozen once and handed over, then answered::

    frozen ──► uploading ──► uploaded ──► no_answer
                   └─────────────┴────────────┴──► answered ──► rejected (whole)
                                                └──────────────► rejected (whole)

``INSTRUCTION_TRANSITIONS`` and ``BANK_FILE_TRANSITIONS`` are the whole truth: the transition functions
(``services.transitions``) refuse anything not listed. Staying in a status is not a move (the bank's facts about
an instruction, or a file's hand-over details, change without a new status) and is always allowed.

The answers of the banks are folded into an instruction's status by ``lifecycle.derive``, whose summary only
grows: every move it can make is listed here (``tests/payments/test_states.py`` checks that against the fold).
"""

from __future__ import annotations

from enum import StrEnum

from .lifecycle import InstructionStatus

IS = InstructionStatus


class BankFileStatus(StrEnum):
    FROZEN = "frozen"  # 已冻结: bytes and SHA-256 stored, not handed over
    UPLOADING = "uploading"  # 交付中: a hand-over is claimed (attempt n, owner, lease)
    UPLOADED = "uploaded"  # 已交付，未答复: handed over, no answer yet
    NO_ANSWER = "no_answer"  # 超时未答复: silent past the bank's window, handed over again
    ANSWERED = "answered"  # 已答复: the bank answered (pain.002, or a booking of one of its payments)
    REJECTED = "rejected"  # 整体拒绝: the bank rejected the whole file


BF = BankFileStatus

# What the bank can still say about an instruction once it was handed over (or might have been: a crash between
# sending and recording leaves it ``frozen`` while the bank has it).
_ANSWERED = frozenset({IS.ACCEPTED, IS.SETTLED, IS.REJECTED, IS.RETURNED, IS.DISPUTED})

INSTRUCTION_TRANSITIONS: dict[InstructionStatus, frozenset[InstructionStatus]] = {
    IS.CREATED: frozenset({IS.FROZEN, IS.CANCELLED}),  # into a file; or withdrawn before any file (four eyes)
    IS.FROZEN: frozenset({IS.UPLOADED}) | _ANSWERED,
    IS.UPLOADED: frozenset({IS.NO_ANSWER}) | _ANSWERED,
    IS.NO_ANSWER: _ANSWERED,
    IS.ACCEPTED: frozenset({IS.SETTLED, IS.REJECTED, IS.RETURNED, IS.DISPUTED}),
    IS.SETTLED: frozenset({IS.RETURNED}),  # a booking is final, but the money can come back
    # a booking outranks a reject (settled, with a contradiction hold); a final positive status next to the
    # reject, or money moving after a re-issue, is a dispute; money booked back is a return
    IS.REJECTED: frozenset({IS.SETTLED, IS.DISPUTED, IS.RETURNED}),
    IS.RETURNED: frozenset(),  # money back in the fund; a re-issue is a new instruction
    IS.DISPUTED: frozenset({IS.SETTLED, IS.RETURNED}),
    IS.CANCELLED: frozenset(),
}

BANK_FILE_TRANSITIONS: dict[BankFileStatus, frozenset[BankFileStatus]] = {
    BF.FROZEN: frozenset({BF.UPLOADING}),  # claimed; answers to a file never handed over move nothing
    BF.UPLOADING: frozenset({BF.UPLOADED, BF.ANSWERED, BF.REJECTED}),  # the bank may answer before we record
    BF.UPLOADED: frozenset({BF.NO_ANSWER, BF.ANSWERED, BF.REJECTED}),
    BF.NO_ANSWER: frozenset({BF.ANSWERED, BF.REJECTED}),  # handed over again, same bytes, same status
    BF.ANSWERED: frozenset({BF.REJECTED}),
    BF.REJECTED: frozenset(),
}


def instruction_can_move(current: InstructionStatus, target: InstructionStatus) -> bool:
    """Whether an instruction may go from ``current`` to ``target`` (staying is not a move: allowed)."""
    return current == target or target in INSTRUCTION_TRANSITIONS[current]


def bank_file_can_move(current: BankFileStatus, target: BankFileStatus) -> bool:
    """Whether a bank file may go from ``current`` to ``target`` (staying is not a move: allowed)."""
    return current == target or target in BANK_FILE_TRANSITIONS[current]
