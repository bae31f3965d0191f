"""Apply a planned inbound file: fold each line's fact into its instruction's summary, derive the new statuses,
and write lines, instructions, bookings, holds, notices and the audit events — inside the caller's transaction.

Every line ends in a named outcome (``LineOutcome``). The fold is order-independent (``lifecycle.merge``), so the
final state never depends on the order files arrive in; what depends on the order is only which line of which
file was the one that ``applied`` a fact (the others are ``same`` or ``stale``).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.core.bulkdb import insert_objects, insert_rows, one_parameter

from ..crashpoints import maybe_crash
from ..lifecycle import FAILED, Bucket, InstructionStatus, bucket, contradiction, derive, merge
from ..models import (
    BankFile,
    BankFileStatus,
    Booking,
    BookingKind,
    HoldItem,
    HoldKind,
    InboundFile,
    LineOutcome,
    StatusLine,
)
from ..reasons import status_info
from .casesync import case_states_sync
from .common import audit_many, event
from .holds import holds_raise
from .recovery import failure_effects
from .reports import Inst, Line, Plan
from .transitions import FileMove, InstructionMove, bank_file_transitions, instruction_transition_many

IS = InstructionStatus
LINE_COLUMNS = ("inbound_id", "seq", "instruction_id", "end_to_end_id", "kind", "status", "reason_codes",
                "amount_fen", "booking_date", "outcome")  # fmt: skip
BOOKING_COLUMNS = ("instruction_id", "end_to_end_id", "bank_id", "kind", "amount_fen", "booking_date", "reason_code",
                   "inbound_id")  # fmt: skip
# what the bank said about an instruction (lifecycle.Summary), written with its status
FACT_COLUMNS = (
    "bank_status",
    "rejected",
    "reject_codes",
    "booked_on",
    "returned_on",
    "return_reason",
    "action",
)


def _outcome(line: Line, inst: Inst) -> str:
    assert line.fact is not None
    old = inst.summary
    new = merge(old, line.fact)
    if new == old:
        stale = (
            line.status
            and old.bank_status
            and status_info(line.status).rank < status_info(old.bank_status).rank
        )
        return LineOutcome.STALE if stale and line.kind in ("tx", "implicit", "group") else LineOutcome.SAME
    inst.summary = new
    moved = new.booked_on is not None or new.bank_status in ("ACSC", "ACCC")
    if inst.superseded and moved and new.returned_on is None:
        return LineOutcome.LATE
    if contradiction(new) and not contradiction(old):
        return LineOutcome.CONTRADICTION
    return LineOutcome.APPLIED


def apply_plan(*, plan: Plan, inbound: InboundFile, actor: str) -> InboundFile:
    """Compute every line's outcome and every instruction's new status, then store the inbound file (with its
    counts) and write all of it. ``inbound`` is unsaved (or a quarantined file being processed again); it is
    returned saved."""
    before = {e2e: inst.status for e2e, inst in plan.insts.items()}
    changed: set[str] = set()
    late: list[tuple[HoldKind, Inst, Line]] = []
    bookings = _bookings(plan)
    for line in plan.lines:
        if line.fact is None:
            continue
        inst = plan.insts[line.e2e]
        line.outcome = line.outcome or _outcome(line, inst)
        if line.outcome in (LineOutcome.APPLIED, LineOutcome.LATE, LineOutcome.CONTRADICTION):
            changed.add(line.e2e)
        if line.outcome in (LineOutcome.LATE, LineOutcome.CONTRADICTION):
            late.append(
                (HoldKind.LATE if line.outcome == LineOutcome.LATE else HoldKind.CONTRADICTION, inst, line)
            )
    moves: dict[str, list[str]] = defaultdict(list)
    rebucketed: list[int] = []  # cases whose money changed bucket: only their state can change
    updates: list[InstructionMove] = []
    failed: list[Inst] = []
    for e2e, inst in plan.insts.items():
        old = IS(before[e2e])
        new = derive(inst.summary, base=old, superseded=inst.superseded)
        action = inst.summary.action
        facts = (inst.summary.bank_status, inst.summary.rejected, " ".join(sorted(inst.summary.reject_codes))[:200],
                 inst.summary.booked_on, inst.summary.returned_on, inst.summary.return_reason,
                 action.value if action else "")  # fmt: skip
        if new != old or facts[-1] != inst.action or e2e in changed:
            updates.append(InstructionMove(inst.pk, old, new, facts))
        if new != old:
            moves[f"{old.value}->{new.value}"].append(e2e)
            if _bucket_of(old) != _bucket_of(new):  # uploaded → accepted is in flight either way
                rebucketed.append(inst.case_id)
            if new in FAILED and old not in FAILED:
                failed.append(inst)
    inbound.counts = {
        "lines": len(plan.lines),
        "outcomes": dict(sorted(Counter(ln.outcome for ln in plan.lines).items())),
        "moves": {k: len(v) for k, v in sorted(moves.items())},
        "bookings": len(bookings),
    }
    if inbound.pk is None:  # its bytes bound by the server (a camt.054 of 100,000 bookings is tens of MB)
        insert_objects([inbound])
    else:  # a quarantined file processed again (ingest.inbound_file_reprocess)
        inbound.save(
            update_fields=["status", "reason", "reason_code", "kind", "msg_id", "original_msg_id", "counts"]
        )
    insert_rows(
        StatusLine,
        LINE_COLUMNS,
        [
            (inbound.pk, ln.seq, plan.insts[ln.e2e].pk if ln.e2e in plan.insts else None, ln.e2e, ln.kind,
             ln.status, " ".join(ln.codes)[:200], ln.amount_fen, ln.booking_date, ln.outcome)
            for ln in plan.lines
        ],
    )  # fmt: skip
    maybe_crash("during_ingest")
    instruction_transition_many(
        moves=updates,
        columns=FACT_COLUMNS,
        actor=actor,
        events=[event(Action.BANK_STATUS_APPLIED, "inbound_file", inbound.sha256,
                      after={"move": move, "end_to_end_ids": sorted(ids)}) for move, ids in sorted(moves.items())],
    )  # fmt: skip
    insert_rows(Booking, BOOKING_COLUMNS, [(*row, inbound.pk) for row in bookings])
    holds = [
        HoldItem(key=f"{kind.value}:{inst.e2e}", kind=kind, case_id=inst.case_id, instruction_id=inst.pk,
                 inbound=inbound, message=_hold_text(kind, inst, line, inbound))
        for kind, inst, line in late
    ]  # fmt: skip
    holds += _file_holds(plan, inbound)
    holds += failure_effects(insts=failed, plan=plan, inbound=inbound, actor=actor)
    holds_raise(actor=actor, items=holds)
    _mark_answered(plan, actor)
    case_states_sync(case_ids=rebucketed, actor=actor)
    audit_many(
        actor=actor,
        events=[
            event(Action.BANK_FILE_RECEIVED, "inbound_file", inbound.sha256,
                  after={"name": inbound.name, "kind": inbound.kind, "msg_id": inbound.msg_id,
                         "original_msg_id": inbound.original_msg_id, "status": inbound.status, **inbound.counts}),
        ],
    )  # fmt: skip
    return inbound


def _bucket_of(status: str) -> Bucket:
    return bucket(current=IS(status), cancelled=False)


def _bookings(plan: Plan) -> list[tuple[object, ...]]:
    """Ledger rows for the debit and return lines, once per (EndToEndId, kind); repeats are kept as lines."""
    keyed = [ln for ln in plan.lines if ln.kind in (BookingKind.DEBIT, BookingKind.RETURN)]
    if not keyed:
        return []
    rows: list[tuple[object, ...]] = []
    known = set(
        Booking.objects.filter(end_to_end_id__in=one_parameter(sorted({ln.e2e for ln in keyed}))).values_list(
            "end_to_end_id", "kind"
        )
    )
    for ln in keyed:
        inst = plan.insts[ln.e2e]
        if (ln.e2e, ln.kind) in known:
            ln.outcome = LineOutcome.REPEAT
            continue
        known.add((ln.e2e, ln.kind))
        rows.append((inst.pk, ln.e2e, inst.bank_id, ln.kind, ln.amount_fen, ln.booking_date,
                     ln.codes[0] if ln.codes else ""))  # fmt: skip
    return rows


def _file_holds(plan: Plan, inbound: InboundFile) -> list[HoldItem]:
    holds = []
    for ln in plan.lines:
        if ln.outcome == LineOutcome.REPEAT:
            inst = plan.insts[ln.e2e]
            holds.append(
                HoldItem(
                    key=f"repeat_booking:{ln.e2e}:{ln.kind}",
                    kind=HoldKind.REPEAT_BOOKING,
                    case_id=inst.case_id,
                    instruction_id=inst.pk,
                    inbound=inbound,
                    message=f"{ln.kind} booking of {ln.e2e} on {ln.booking_date} repeated in {inbound.name}: "
                    "check the statement (a second booking would be a double payment)",
                )
            )
    if plan.du01_alert and plan.bank_file is not None:
        bf = plan.bank_file
        holds.append(
            HoldItem(
                key=f"du01:{bf.msg_id}",
                kind=HoldKind.DU01_UNEXPECTED,
                bank_file=bf,
                inbound=inbound,
                message=f"bank {bf.bank_id} says {bf.msg_id} is a duplicate (DU01) but we handed it over once: "
                "someone else used our MsgId, or the bank is wrong; statuses unchanged",
            )
        )
    return holds


def _hold_text(kind: HoldKind, inst: Inst, line: Line, inbound: InboundFile) -> str:
    if kind == HoldKind.LATE:
        return (f"{line.status or line.kind} for {inst.e2e} in {inbound.name} after it was re-issued: "
                "money may have moved twice; check both payments")  # fmt: skip
    return f"contradictory report for {inst.e2e} in {inbound.name}: {contradiction(inst.summary)}"


def _mark_answered(plan: Plan, actor: str) -> None:
    """The bank answered these files: first answer time, and the file's status (rejected whole, or answered)
    where the table allows it — a file never handed over (``frozen``) or already rejected whole keeps its status
    (audited with the inbound file: ``bank_file.received``)."""
    if not plan.answered_files:
        return
    files = sorted(plan.answered_files)
    BankFile.objects.filter(pk__in=files, answered_at=None).update(answered_at=timezone.now())
    target = BankFileStatus.REJECTED if plan.file_rejected else BankFileStatus.ANSWERED
    bank_file_transitions(moves=[FileMove(pk, target) for pk in files], actor=actor, strict=False)
