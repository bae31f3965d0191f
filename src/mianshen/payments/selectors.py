"""Reads for payments: where each case's money is, the hold queue, quarantined files, the unit notices waiting,
and the open four-eyes requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from .case_states import CASE_STATE
from .lifecycle import FAILED, Bucket, InstructionStatus, bucket
from .models import Approval, BankFile, HoldItem, InboundFile, InboundStatus, Instruction, Payment
from .reasons import Action


@dataclass(frozen=True)
class Position:
    case_id: int
    amount_fen: int
    bucket: Bucket
    case_state: str
    end_to_end_id: str
    status: str
    action: str
    note: str


def payment_positions(*, case_ids: list[int] | None = None) -> list[Position]:
    """Per released case: its bucket, its current instruction and why it waits."""
    payments = Payment.objects.select_related("current").order_by("case_id")
    if case_ids is not None:
        payments = payments.filter(case_id__in=case_ids)
    out = []
    for p in payments:
        cur = p.current
        place = bucket(
            current=InstructionStatus(cur.status) if cur else None, cancelled=p.cancelled_at is not None
        )
        out.append(
            Position(
                case_id=p.case_id, amount_fen=p.amount_fen, bucket=place, case_state=CASE_STATE[place].value,
                end_to_end_id=cur.end_to_end_id if cur else "", status=cur.status if cur else "",
                action=cur.action if cur else "", note=p.note,
            )
        )  # fmt: skip
    return out


def payments_awaiting_correction() -> QuerySet[Payment]:
    """Payments whose money waits for a correction (``Bucket.AWAITING_CORRECTION``: failed, returned, withdrawn
    or never instructed for want of a usable account) and not cancelled, chosen by the database."""
    waiting = sorted(s.value for s in FAILED | {InstructionStatus.CANCELLED})
    return Payment.objects.filter(cancelled_at=None).filter(Q(current=None) | Q(current__status__in=waiting))


def payment_counts() -> dict[str, dict[str, int]]:
    """Instructions per status, bank files per status, open holds per kind, quarantined inbound files."""
    return {
        "instructions": _count_by(Instruction.objects.all(), "status"),
        "bank_files": _count_by(BankFile.objects.all(), "status"),
        "open_holds": _count_by(HoldItem.objects.filter(resolved_at=None), "kind"),
        "inbound": _count_by(InboundFile.objects.all(), "status"),
    }


def _count_by(rows: QuerySet[Any], field: str) -> dict[str, int]:
    """Rows per value of ``field``, counted by the database (one GROUP BY, not a row per payment)."""
    return dict(rows.order_by().values_list(field).annotate(n=Count("pk")).values_list(field, "n"))


def holds_open() -> QuerySet[HoldItem]:
    return HoldItem.objects.filter(resolved_at=None).order_by("id")


def inbound_quarantined() -> QuerySet[InboundFile]:
    return InboundFile.objects.filter(status=InboundStatus.QUARANTINED).order_by("id")


def reissue_waiting(bank_file: BankFile) -> QuerySet[Instruction]:
    """The file's payments rejected for a defect of our file that have not been re-issued yet."""
    return Instruction.objects.filter(
        bank_file=bank_file, status=InstructionStatus.REJECTED, action=Action.OUR_DEFECT_RESEND.value,
        reissue__isnull=True,
    )  # fmt: skip


def bank_file_by_msg_id(*, msg_id: str) -> BankFile | None:
    return BankFile.objects.filter(msg_id=msg_id).first()


def approvals_open() -> QuerySet[Approval]:
    """Cancel / re-issue requests waiting for a second officer."""
    return (
        Approval.objects.filter(decided_by="")
        .select_related("bank_file")
        .defer("bank_file__content")  # a file's bytes are megabytes: never loaded for a list
        .order_by("id")
    )
