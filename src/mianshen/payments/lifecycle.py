"""The life of one payment instruction, as pure functions (no Django, no clock): statuses, what counts as live,
and how the bank's facts about an instruction combine into its status.

Ingest is idempotent and order-independent by construction (design invariant 5): every fact a bank file states
about an instruction is folded into a small *summary* with a commutative, idempotent merge (highest status
rank, union of reject codes, earliest booking and return date), and the status is a function of that summary
(:func:`derive`). Feeding the same facts once or n times, in any order, gives the same summary, hence the same
status. A report can never move a payment backwards: ranks only go up, and a booking outranks any report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from .reasons import Action, action_for, reason_info, status_info


class InstructionStatus(StrEnum):
    CREATED = "created"  # stored with its ids, waiting for the next bank file
    FROZEN = "frozen"  # in a frozen file (bytes + SHA-256 stored), not yet handed to the bank
    UPLOADED = "uploaded"  # handed to the bank, no answer yet: blocks re-issue
    NO_ANSWER = "no_answer"  # handed over, silent past the bank's window: alert; blocks re-issue
    ACCEPTED = "accepted"  # the bank accepted it (ACTC … ACSC), not booked yet
    SETTLED = "settled"  # debit booked on the fund's account (camt.054): paid
    REJECTED = "rejected"  # RJCT (its line, or the whole file)
    RETURNED = "returned"  # booked, then returned (camt.054 credit with RtrInf): money back in the fund
    DISPUTED = "disputed"  # contradictory facts, or money moved on a superseded instruction: hold queue
    CANCELLED = "cancelled"  # withdrawn before it ever left


S = InstructionStatus
# At most one of these per case (partial unique index ``one_live_instruction_per_case``).
LIVE: frozenset[InstructionStatus] = frozenset(
    {S.CREATED, S.FROZEN, S.UPLOADED, S.NO_ANSWER, S.ACCEPTED, S.SETTLED}
)
IN_FLIGHT: frozenset[InstructionStatus] = frozenset(
    {S.CREATED, S.FROZEN, S.UPLOADED, S.NO_ANSWER, S.ACCEPTED}
)
FAILED: frozenset[InstructionStatus] = frozenset({S.REJECTED, S.RETURNED})
# a payment whose current instruction is in one of these may be cancelled (``created``: withdrawn before a file)
CANCELLABLE: frozenset[InstructionStatus] = FAILED | frozenset({S.CREATED, S.CANCELLED})
POSITIVE_FINAL = frozenset({"ACSC", "ACCC"})


class Bucket(StrEnum):
    """Where a case's approved amount is (payments.md, money identity): exactly one of these."""

    SETTLED = "settled"
    IN_FLIGHT = "in_flight"
    AWAITING_CORRECTION = "awaiting_correction"
    CANCELLED = "cancelled"


def bucket(*, current: InstructionStatus | None, cancelled: bool) -> Bucket:
    """The bucket of a payment from its current (latest) instruction's status."""
    if cancelled:
        return Bucket.CANCELLED
    if current is None or current in FAILED or current == S.CANCELLED:
        return Bucket.AWAITING_CORRECTION
    if current == S.SETTLED:
        return Bucket.SETTLED
    return Bucket.IN_FLIGHT  # live and not settled, or disputed (the bank may hold the money)


@dataclass(frozen=True, slots=True)
class Summary:
    """What the bank has said about one instruction so far (a join semilattice: see :func:`merge`)."""

    bank_status: str = ""  # highest-ranked non-reject TxSts seen ("" none)
    reject_codes: frozenset[str] = frozenset()
    rejected: bool = False
    booked_on: date | None = None  # debit booking date (camt.054)
    returned_on: date | None = None  # return (credit with RtrInf) booking date
    return_reason: str = ""

    @property
    def action(self) -> Action | None:
        """What a failure makes the system do (reasons.py), ``None`` while not failed."""
        if self.returned_on is not None:
            return reason_info(self.return_reason or None).action
        if self.rejected:
            return action_for(sorted(self.reject_codes))
        return None


def _earliest(a: date | None, b: date | None) -> date | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def higher_status(a: str, b: str) -> str:
    """The higher-ranked of two non-reject statuses ("" is the bottom); ties broken by code, so it commutes."""
    if not a:
        return b
    if not b:
        return a
    ra, rb = status_info(a).rank, status_info(b).rank
    if ra != rb:
        return a if ra > rb else b
    return max(a, b)


def merge(a: Summary, b: Summary) -> Summary:
    """Commutative, associative and idempotent: the order and repetition of facts never matter."""
    returned_on = _earliest(a.returned_on, b.returned_on)
    reasons = sorted(
        r for r, d in ((a.return_reason, a.returned_on), (b.return_reason, b.returned_on)) if d and r
    )
    return Summary(
        bank_status=higher_status(a.bank_status, b.bank_status),
        reject_codes=a.reject_codes | b.reject_codes,
        rejected=a.rejected or b.rejected,
        booked_on=_earliest(a.booked_on, b.booked_on),
        returned_on=returned_on,
        return_reason=reasons[0] if reasons else "",
    )


def fact_status(status: str, codes: tuple[str, ...] = ()) -> Summary:
    """The summary of one pain.002 line (or a group status applied to a line)."""
    if status == "RJCT":
        return Summary(rejected=True, reject_codes=frozenset(codes))
    return Summary(bank_status=status)


def fact_booking(day: date) -> Summary:
    return Summary(booked_on=day)


def fact_return(day: date, reason: str | None) -> Summary:
    return Summary(returned_on=day, return_reason=reason or "")


def contradiction(s: Summary) -> str:
    """A description of contradictory facts ("" when consistent): a reject next to settlement or a booking."""
    if s.rejected and s.booked_on is not None:
        return "rejected (RJCT) but booked on the fund's account"
    if s.rejected and s.bank_status in POSITIVE_FINAL:
        return f"rejected (RJCT) and reported settled ({s.bank_status})"
    return ""


def derive(s: Summary, *, base: InstructionStatus, superseded: bool) -> InstructionStatus:
    """The status an instruction has given its summary.

    ``base`` is its stored status (what the hand-over alone says while the bank is silent: created, frozen,
    uploaded, no_answer); ``superseded``: a re-issue of it exists, so it may never become live again — money
    moving on it is a dispute for a person (a possible double payment), not a state change.
    """
    if s.returned_on is not None:
        return S.RETURNED
    money_moved = s.booked_on is not None or s.bank_status in POSITIVE_FINAL
    if superseded:
        return S.DISPUTED if money_moved else base
    if s.booked_on is not None:
        return S.SETTLED
    if contradiction(s):
        return S.DISPUTED
    if s.rejected:
        return S.REJECTED
    if s.bank_status:
        return S.ACCEPTED
    return base


def summary_key(s: Summary) -> tuple[object, ...]:
    """A comparable form (tests and change detection)."""
    return (
        s.bank_status,
        tuple(sorted(s.reject_codes)),
        s.rejected,
        s.booked_on,
        s.returned_on,
        s.return_reason,
    )
