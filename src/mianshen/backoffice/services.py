"""Back-office writes of its own: staff profiles, and the audited reads of bank and contact data.

"Every staff view of bank or contact data is itself an audit event": the event is written *before* the data
is returned, in the same transaction, so no one sees an account number without a trace. That holds for a unit's
account on file (bank panel), the accounts its payment was sent to or corrected to (payment accounts panel) and
a whole bank file (download: the accounts of many units).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.cases.models import Case
from mianshen.payments.models import BankFile, Correction, Instruction
from mianshen.registry.models import BankAccount, Unit

from .roles import DISTRICTS, Role, Staff, role_group


class StaffError(Exception):
    """A staff profile that cannot be created as asked (one line for the user)."""


def staff_add(
    *,
    username: str,
    role: str,
    district: str | None = None,
    password: str | None = None,
    granted_by: str = "system:cli",
) -> Staff:
    """Create a back-office user with its role (and Django group). Without a password the user cannot log in
    until one is set (``changepassword``). Refuses a user who already has a staff profile."""
    user_model = get_user_model()
    username = user_model.normalize_username(username).strip()
    if not username:
        raise StaffError("a user name is required")
    try:
        user_model.username_validator(username)
    except ValidationError as exc:
        raise StaffError(f"user name {username!r}: " + " ".join(exc.messages)) from exc
    if role not in Role.values:
        raise StaffError(f"unknown role {role!r}; one of {', '.join(Role.values)}")
    district = (district or "").strip() or None
    if district is not None and district not in DISTRICTS:
        raise StaffError(f"unknown district {district!r}; one of {', '.join(sorted(DISTRICTS))}")
    if role == Role.DISTRICT_OFFICER and district is None:
        raise StaffError("a district officer needs --district")
    if role in {Role.CITY_ADMIN, Role.AUDITOR} and district is not None:
        raise StaffError(f"a {role} is city-wide: leave out --district")
    with transaction.atomic():
        twin = user_model.objects.filter(username__iexact=username).exclude(username=username).first()
        if twin is not None:
            # Django compares user names case-sensitively: a case twin would be another person to four eyes
            raise StaffError(
                f"user name {username!r} differs from the existing {twin.get_username()!r} only by case"
            )
        user, created = user_model.objects.get_or_create(username=username)
        if Staff.objects.filter(user=user).exists():
            raise StaffError(f"{username} already has a staff profile")
        if password is not None:
            validate_password(password, user)
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        staff = Staff.objects.create(user=user, role=role, district=district)
        user.groups.add(role_group(role))
        audit_record(
            actor=granted_by,
            action=Action.STAFF_ROLE_GRANTED,
            obj_type="staff",
            obj_id=str(user.pk),
            after={"username": username, "role": role, "district": district},
        )
    return staff


def staff_password_set(*, user: Any, password: str, actor: str) -> None:
    """Set ``user``'s password after Django's validators (settings.AUTH_PASSWORD_VALIDATORS) accept it
    (``ValidationError`` otherwise); recorded, without the password."""
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, actor_id=user.pk if actor == user.get_username() else None,
                     action=Action.STAFF_PASSWORD_CHANGED, obj_type="staff_account", obj_id=user.get_username(),
                     after={"password": "changed"})  # fmt: skip


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
