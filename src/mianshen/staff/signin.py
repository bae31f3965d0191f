"""Sign-in protections: failed sign-ins counted per account and per client address, a lockout that only an
administrator lifts, and an audit event for every sign-in, failure, throttling, lockout, unlock and sign-out
(the password or code typed is never kept).

The counters are rows of ``SignInCounter``, read and written under a row lock in one transaction (on SQLite the
transaction itself is the lock: BEGIN IMMEDIATE), so concurrent attempts are counted exactly, by every process.
Both are fixed windows of ``settings.SIGNIN_WINDOW_SECONDS`` that begin at the first failure:

- an account name (known or not, so a lockout says nothing about whether a user exists) with
  ``SIGNIN_ACCOUNT_MAX_FAILURES`` failures in a window is locked, and stays locked until an administrator lifts
  it (``sign_in_unlock``: `mianshen staff unlock NAME` or the back office's staff page); while locked even the
  right password is refused, without being checked. A wrong second factor counts like a wrong password.
- a client address with ``SIGNIN_ADDRESS_MAX_FAILURES`` failures in a window is refused (429) until the window
  ends, before any password is checked; the refused attempts write nothing (the first throttling is one event).

A successful sign-in clears the account's failures (not a lock: a locked account cannot sign in), never the
address's: one valid account does not buy an address more guesses at others.

This is the staff identity's lockout state, below the apps; the web side (which address a request comes from,
``backoffice.views.signin.client_address``; the pages) is the back office's.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record

from .models import CounterScope, SignInCounter

NAME_LIMIT = 150  # Django's user name length: a longer name is no user's
ACCOUNT = "staff_account"  # audit object type of the account events (object id: the account name)


class Refused(StrEnum):
    """Why an attempt is refused before any password is checked."""

    THROTTLED = "throttled"  # the client address: until its window ends (429)
    LOCKED = "locked"  # the account: until an administrator lifts the lock


class Failure(StrEnum):
    PASSWORD = "password"  # unknown user, wrong password or inactive user: the page says the same for each
    LOCKED = "locked"  # the account is locked: not even checked
    SECOND_FACTOR = "second_factor"  # the password was right, the TOTP or recovery code was not


@dataclass(frozen=True)
class FailureOutcome:
    locked: bool  # the account is locked (by this failure or before)
    throttled: bool  # the address has reached its limit for this window


def sign_in_name(text: str) -> str:
    """The account name as Django compares user names (NFKC, surrounding blanks removed), with characters that
    cannot be stored (controls, lone surrogates) shown as U+FFFD, at most 150 characters."""
    name = unicodedata.normalize("NFKC", text).strip()
    shown = "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cs") else c for c in name)
    return shown[:NAME_LIMIT]


def _window() -> timedelta:
    return timedelta(seconds=settings.SIGNIN_WINDOW_SECONDS)


def _in_window(row: SignInCounter, now: datetime) -> int:
    """The row's failures if its window is still running, else 0."""
    return row.failures if row.window_start > now - _window() else 0


def sign_in_refusal(*, name: str, address: str, now: datetime | None = None) -> Refused | None:
    """Whether an attempt by ``address`` as ``name`` is refused before its password is looked at."""
    now = now or timezone.now()
    by_address = SignInCounter.objects.filter(scope=CounterScope.ADDRESS, key=address).first()
    if by_address is not None and _in_window(by_address, now) >= settings.SIGNIN_ADDRESS_MAX_FAILURES:
        return Refused.THROTTLED
    if account_locked(name):
        return Refused.LOCKED
    return None


def account_locked(name: str) -> bool:
    return SignInCounter.objects.filter(
        scope=CounterScope.ACCOUNT, key=sign_in_name(name), locked_at__isnull=False
    ).exists()


def _count(scope: CounterScope, key: str, now: datetime) -> SignInCounter:
    """One more failure for ``key``, under the row's lock (a new window if the last one is over)."""
    row, _created = SignInCounter.objects.select_for_update().get_or_create(
        scope=scope, key=key, defaults={"window_start": now}
    )
    if row.window_start <= now - _window():
        row.failures, row.window_start = 0, now
    row.failures += 1
    row.last_failure_at = now
    row.save(update_fields=["failures", "window_start", "last_failure_at"])
    return row


def sign_in_failure_record(
    *, name: str, address: str, failure: Failure, user_id: int | None = None, now: datetime | None = None
) -> FailureOutcome:
    """Count a failed attempt against the account and the address, lock the account or throttle the address
    when it reaches its limit, and record the failure (and the lockout / throttling) in the audit trail."""
    now = now or timezone.now()
    name = sign_in_name(name)
    actor = name or "(no name)"
    with transaction.atomic():
        account = _count(CounterScope.ACCOUNT, name, now)  # always account first, then address: no deadlock
        by_address = _count(CounterScope.ADDRESS, address, now)
        locks_now = account.locked_at is None and account.failures >= settings.SIGNIN_ACCOUNT_MAX_FAILURES
        if locks_now:
            account.locked_at = now
            account.save(update_fields=["locked_at"])
        audit_record(actor=actor, actor_id=user_id, action=Action.STAFF_SIGN_IN_FAILED, obj_type=ACCOUNT,
                     obj_id=name, after={"address": address, "failure": str(failure),
                                         "account_failures": account.failures,
                                         "address_failures": by_address.failures})  # fmt: skip
        if locks_now:
            audit_record(actor=actor, actor_id=user_id, action=Action.STAFF_LOCKED_OUT, obj_type=ACCOUNT,
                         obj_id=name, after={"address": address, "failures": account.failures,
                                             "window_seconds": settings.SIGNIN_WINDOW_SECONDS},
                         reason="too many failed sign-ins: locked until an administrator lifts it")  # fmt: skip
        if by_address.failures == settings.SIGNIN_ADDRESS_MAX_FAILURES:
            audit_record(actor=f"address:{address}", action=Action.STAFF_SIGN_IN_THROTTLED,
                         obj_type="client_address", obj_id=address,
                         after={"failures": by_address.failures, "until": by_address.window_start + _window()},
                         reason="too many failed sign-ins from one address")  # fmt: skip
    return FailureOutcome(
        locked=account.locked_at is not None,
        throttled=by_address.failures >= settings.SIGNIN_ADDRESS_MAX_FAILURES,
    )


def sign_in_success_record(*, user: Any, address: str, second_factor: str) -> None:
    """A completed sign-in: the account's failures are cleared (a lock is not: it is checked before) and the
    sign-in is recorded, with the second factor used (``none``, ``totp``, ``recovery_code``)."""
    name = user.get_username()
    with transaction.atomic():
        SignInCounter.objects.filter(
            scope=CounterScope.ACCOUNT, key=sign_in_name(name), locked_at__isnull=True
        ).delete()
        audit_record(actor=name, actor_id=user.pk, action=Action.STAFF_SIGNED_IN, obj_type=ACCOUNT, obj_id=name,
                     after={"address": address, "second_factor": second_factor})  # fmt: skip


def sign_out_record(*, user: Any, address: str) -> None:
    name = user.get_username()
    audit_record(actor=name, actor_id=user.pk, action=Action.STAFF_SIGNED_OUT, obj_type=ACCOUNT, obj_id=name,
                 after={"address": address})  # fmt: skip


def sign_in_unlock(*, name: str, actor: str, actor_id: int | None = None) -> bool:
    """Lift the lock of account ``name`` (and forget its failures); recorded. False if it was not locked."""
    name = sign_in_name(name)
    with transaction.atomic():
        row = (
            SignInCounter.objects.select_for_update()
            .filter(scope=CounterScope.ACCOUNT, key=name, locked_at__isnull=False)
            .first()
        )
        if row is None:
            return False
        audit_record(actor=actor, actor_id=actor_id, action=Action.STAFF_UNLOCKED, obj_type=ACCOUNT, obj_id=name,
                     before={"locked_at": row.locked_at, "failures": row.failures}, after={"locked": False},
                     reason="sign-in lock lifted by an administrator")  # fmt: skip
        row.delete()
    return True


def locked_accounts() -> QuerySet[SignInCounter]:
    """The locked account names, the most recent lock first."""
    return SignInCounter.objects.filter(scope=CounterScope.ACCOUNT, locked_at__isnull=False).order_by(
        "-locked_at", "key"
    )
