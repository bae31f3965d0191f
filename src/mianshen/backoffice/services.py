"""The back office's audited reads of bank and contact data (staff accounts are ``mianshen.staff.services``).

"Every staff view of bank or contact data is itself an audit event": the event is written *before* the data
is returned, in the same transaction, so no one sees an account number without a trace. That holds for a unit's
account on file (bank panel), the accounts its payment was sent to or corrected to (payment accounts panel),
a whole bank file (download: the accounts of many units) and a call-back requester's full phone number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.cases.models import Case
from mianshen.notify.models import CallbackRequest
from mianshen.payments.models import BankFile, Correction, Instruction
from mianshen.registry.models import BankAccount, Unit


@dataclass(frozen=True)
class BankView:
    account: BankAccount | None
    snapshot_id: int | None
    extracted_on: date | None


@dataclass(frozen=True)
class ContactView:
    phone: str | None
    snapshot_id: int | None
    extracted_on: date | None


def _record_access(
    user: Any, action: Action, obj_type: str, obj_id: str, after: dict[str, Any], reason: str
) -> None:
    """The audit event of a staff member seeing (or taking) sensitive data, in the caller's transaction."""
    audit_record(actor=user.get_username(), actor_id=user.pk, action=action, obj_type=obj_type, obj_id=obj_id,
                 after=after, reason=reason)  # fmt: skip


def case_bank_view(*, case: Case, user: Any) -> BankView:
    """The unit's bank account as the case's last round saw it; records ``staff.viewed_bank_data`` first."""
    rnd = case.last_round
    snapshot_id = rnd.snapshot_id if rnd else None
    with transaction.atomic():
        account = (
            BankAccount.objects.filter(snapshot_id=snapshot_id, unit_id=case.unit_id).first()
            if snapshot_id
            else None
        )
        _record_access(
            user,
            Action.STAFF_VIEWED_BANK_DATA,
            "case",
            str(case.pk),
            {"unit_id": case.unit_id, "snapshot": snapshot_id, "found": account is not None},
            "back office: bank panel",
        )
    return BankView(account, snapshot_id, rnd.snapshot.extracted_on if rnd else None)


def case_contact_view(*, case: Case, user: Any) -> ContactView:
    """The unit's registered phone as the case's last round saw it; records ``staff.viewed_contact`` first."""
    rnd = case.last_round
    snapshot_id = rnd.snapshot_id if rnd else None
    with transaction.atomic():
        phone = (
            Unit.objects.filter(snapshot_id=snapshot_id, unit_id=case.unit_id)
            .values_list("phone", flat=True)
            .first()
            if snapshot_id
            else None
        )
        _record_access(
            user,
            Action.STAFF_VIEWED_CONTACT,
            "case",
            str(case.pk),
            {"unit_id": case.unit_id, "snapshot": snapshot_id, "found": bool(phone)},
            "back office: contact panel",
        )
    return ContactView(phone, snapshot_id, rnd.snapshot.extracted_on if rnd else None)


@dataclass(frozen=True)
class PaymentAccountsView:
    instructions: list[Instruction]
    corrections: list[Correction]


def case_payment_accounts_view(*, case: Case, user: Any) -> PaymentAccountsView:
    """The accounts the case's payment was sent to (every attempt) and the corrected accounts entered for it;
    records ``staff.viewed_bank_data`` first."""
    with transaction.atomic():
        # by the case's payment: (payment, attempt) is indexed, an instruction's case is not
        instructions = list(Instruction.objects.filter(payment__case=case).order_by("attempt"))
        corrections = list(Correction.objects.filter(payment__case=case).order_by("pk"))
        _record_access(
            user,
            Action.STAFF_VIEWED_BANK_DATA,
            "case",
            str(case.pk),
            {
                "unit_id": case.unit_id,
                "instructions": len(instructions),
                "corrections": len(corrections),
            },
            "back office: payment accounts panel",
        )
    return PaymentAccountsView(instructions, corrections)


def bank_file_download(*, bank_file: BankFile, user: Any) -> bytes:
    """The frozen bytes of a bank file, exactly as handed to the bank; records
    ``staff.downloaded_bank_file`` (with the file's SHA-256) first."""
    with transaction.atomic():
        data = bytes(BankFile.objects.values_list("content", flat=True).get(pk=bank_file.pk))
        _record_access(
            user,
            Action.STAFF_DOWNLOADED_BANK_FILE,
            "bank_file",
            bank_file.msg_id,
            {"sha256": bank_file.sha256},
            "back office: bank file download",
        )
    return data


def callback_phone_view(*, callback: CallbackRequest, user: Any) -> str:
    """A call-back requester's full phone number (elsewhere it is masked, ``138****8000``); records
    ``callback.phone_viewed`` first, in the same transaction — the officer asks for it to make the call."""
    with transaction.atomic():
        phone = str(CallbackRequest.objects.values_list("phone", flat=True).get(pk=callback.pk))
        _record_access(
            user,
            Action.CALLBACK_PHONE_VIEWED,
            "callback",
            callback.reference,
            {"district": callback.district, "state": callback.state},
            "back office: call-back phone",
        )
    return phone
