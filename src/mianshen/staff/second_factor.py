"""The second factor of a staff sign-in (django-otp): a TOTP device (an authenticator app) and ten single-use
recovery codes (a static device).

Required for the roles in ``settings.SECOND_FACTOR_REQUIRED_ROLES`` (city administrators and reviewers, and any
role the setting adds); a member of another role who has enrolled must use it too. A session is verified the way
django-otp intends (``django_otp.login``: the device's id in the session, checked by ``OTPMiddleware``).

Enrolment: by an administrator (`mianshen staff add` for a required role, `mianshen staff enrol-totp NAME` for
anyone, replacing lost devices), which prints the secret once; or, for a user who has none, on the first sign-in
(``totp_pending`` → ``totp_confirm``): the page shows the secret, and the device counts only once a code from the
app has been typed back. Either way the audit event names the devices, never the secret.
"""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp import user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record

from .roles import staff_of

RECOVERY_CODES = 10
TOTP_NAME = "TOTP"
PENDING_NAME = "TOTP (not yet confirmed)"
RECOVERY_NAME = "recovery codes"


class Step(StrEnum):
    """What a signed-in user must still do before the office opens."""

    VERIFY = "verify"  # type a code from the app (or a recovery code)
    ENROL = "enrol"  # required, but no device yet


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, to type into an authenticator app
    uri: str  # otpauth://totp/…, the same as a QR code would carry
    recovery_codes: tuple[str, ...]


def second_factor_required(user: Any) -> bool:
    staff = staff_of(user)
    return staff is not None and staff.role in settings.SECOND_FACTOR_REQUIRED_ROLES


def second_factor_step(user: Any) -> Step | None:
    """``None`` when the session may use the office (verified, or neither enrolled nor required)."""
    if getattr(user, "otp_device", None) is not None:
        return None
    if user_has_device(user):
        return Step.VERIFY
    return Step.ENROL if second_factor_required(user) else None


def totp_secret(device: TOTPDevice) -> str:
    return b32encode(device.bin_key).decode("ascii")


def _recovery_codes(user: Any) -> tuple[str, ...]:
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = tuple(StaticToken.random_token() for _ in range(RECOVERY_CODES))
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _record_enrolment(user: Any, *, actor: str, actor_id: int | None, via: str) -> None:
    audit_record(actor=actor, actor_id=actor_id, action=Action.STAFF_SECOND_FACTOR_ENROLLED, obj_type="staff_account",
                 obj_id=user.get_username(), after={"devices": ["totp", "recovery_codes"],
                                                    "recovery_codes": RECOVERY_CODES, "via": via})  # fmt: skip


def second_factor_enrol(*, user: Any, actor: str, actor_id: int | None = None) -> Enrolment:
    """Give ``user`` a new TOTP device and new recovery codes, replacing any they had (a lost phone); the
    caller shows the secret once."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=True)
        codes = _recovery_codes(user)
        _record_enrolment(user, actor=actor, actor_id=actor_id, via="administrator")
    return Enrolment(totp_secret(device), device.config_url, codes)


def totp_pending(user: Any) -> TOTPDevice:
    """The unconfirmed TOTP device of a user enrolling on the page (the same one until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=PENDING_NAME, confirmed=False)


def totp_confirm(*, user: Any, token: str) -> tuple[str, ...] | None:
    """Confirm the pending device with a code from the app: recovery codes are created and returned (shown
    once), the enrolment recorded. ``None`` if the code is wrong, or if the user has a confirmed device already
    (one cannot add a device with only a password)."""
    with transaction.atomic():
        if user_has_device(user):
            return None
        device = (
            TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        )
        if device is None or not device.verify_token(normalise_token(token)):
            return None
        device.confirmed, device.name = True, TOTP_NAME
        device.save(update_fields=["confirmed", "name"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _recovery_codes(user)
        _record_enrolment(user, actor=user.get_username(), actor_id=user.pk, via="sign-in page")
    return codes


def normalise_token(text: str) -> str:
    """A code as typed: blanks and dashes removed, lower case (recovery codes are lower-case base32)."""
    return "".join(c for c in text if c not in " -\t").lower()


def second_factor_verify(*, user: Any, token: str) -> Device | None:
    """The confirmed device that accepts ``token`` (six digits: the TOTP device; anything else: a recovery code,
    used up), or ``None``. Devices are locked while they check, so a code cannot be used twice at once."""
    token = normalise_token(token)
    model: type[Device] = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    with transaction.atomic():
        for device in model.objects.devices_for_user(user, confirmed=True).select_for_update():
            if device.verify_token(token):
                return device
    return None


def device_kind(device: Device) -> str:
    return "totp" if isinstance(device, TOTPDevice) else "recovery_code"
