"""Portal services: an objection raised by the public (through ``cases.services.objection_record``, the same
service the back office uses) with its public reference; the one-time code that opens its status page; the
per-address limit on code requests.

Codes follow contracts §4: 6 digits, 10 minutes, used once, 5 tries; they are sent through the notify outbox,
whose per-phone limits (1 a minute, 5 an hour, 10 a day) are the only ones (beyond them nothing is sent and the
answer is unchanged); one client address at most
``PORTAL_ADDRESS_MAX_REQUESTS`` code requests an hour (only this limit answers 429)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mianshen.cases.documents import documents_sweep
from mianshen.cases.models import Objection
from mianshen.cases.services import CaseError, mask_credit_code, objection_record
from mianshen.core import http
from mianshen.core.jobs import job_enqueue
from mianshen.notify.callbacks import callbacks_forget
from mianshen.notify.models import CallbackRequest
from mianshen.policy.families import words_of

from .codes import code_hash, code_sender, new_code, new_reference, normalise_reference
from .models import AddressCounter, LookupRequest, ObjectionReceipt, StatusCode
from .selectors import open_entry

ACTOR = "公众 portal"
PHONE = re.compile(r"^1[3-9]\d{9}$")
CODE_LIFETIME = timedelta(minutes=10)
CODE_TRIES = 5
ADDRESS_WINDOW = timedelta(hours=1)


class PortalError(CaseError):
    """A request the portal refuses; ``field`` names the form field it belongs to (or "")."""

    def __init__(self, message: str | Promise, /, *, field: str = "", **params: Any) -> None:
        super().__init__(message, **params)
        self.field = field


def client_address(request: HttpRequest) -> str:
    """The client's address (``core.http.client_address``) behind the header named by ``PORTAL_CLIENT_ADDRESS_HEADER``."""
    return http.client_address(request, settings.PORTAL_CLIENT_ADDRESS_HEADER)


def clean_phone(text: str) -> str:
    phone = "".join(str(text).split()).replace("-", "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if not PHONE.match(phone):
        raise PortalError(_("请输入 11 位手机号码，例如 13812345678"), field="phone")
    return phone


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


@dataclass(frozen=True)
class ObjectionDraft:
    entry_id: int
    grounds: str
    name: str
    phone: str


def objection_check(*, entry_id: object, grounds: str, name: str, phone: str) -> ObjectionDraft:
    """The answers of the objection form checked (every problem named by its field, the first one raised)."""
    entry = open_entry(entry_id)
    if entry is None:
        raise PortalError(_("该单位不在公示期内的名单上：仅在公示期内受理异议"), field="entry")
    grounds = str(grounds or "").strip()
    if len(grounds) < 10:
        raise PortalError(_("请说明异议理由，至少 10 个字"), field="grounds")
    if len(grounds) > 2000:
        raise PortalError(_("异议理由不能超过 2000 字"), field="grounds")
    name = " ".join(str(name or "").split())
    if len(name) > 50:
        raise PortalError(_("姓名不能超过 50 个字"), field="name")
    if any(ord(c) < 32 for c in grounds.replace("\n", "").replace("\r", "").replace("\t", "")):
        raise PortalError(_("异议理由含有无法保存的字符"), field="grounds")
    return ObjectionDraft(entry.pk, grounds, name, clean_phone(phone))


def objection_submit(draft: ObjectionDraft, now: datetime | None = None) -> ObjectionReceipt:
    """Record the objection in the existing queue and give it a public reference (one transaction)."""
    entry = open_entry(draft.entry_id, now)
    if entry is None:
        raise PortalError(_("公示期已结束，不再受理异议"), field="entry")
    contact = f"{draft.name} {draft.phone}".strip() if draft.name else draft.phone
    for _attempt in range(5):
        try:
            with transaction.atomic():
                objection = objection_record(
                    case_id=entry.case_id,
                    raised_by="public",
                    contact=contact,
                    grounds=draft.grounds,
                    actor=ACTOR,
                    now=now,
                )
                return ObjectionReceipt.objects.create(
                    reference=new_reference("O"), objection=objection, phone=draft.phone
                )
        except IntegrityError:  # a reference drawn twice (50 random bits): draw again
            continue
    raise PortalError(_("未能生成受理编号，请重试"))


@dataclass(frozen=True)
class ObjectionStatus:
    reference: str
    unit_name: str
    masked_credit_code: str
    recorded_at: datetime
    outcome: str  # "" while open
    decided_at: datetime | None
    decision_reason: str
    policy_id: str = ""

    @property
    def words(self) -> dict[str, str]:
        """The benefit's words in the active language (what an upheld objection stops being paid)."""
        return words_of(self.policy_id).params(get_language() or "zh-hans")


def objection_status(reference: str) -> ObjectionStatus | None:
    receipt = (
        ObjectionReceipt.objects.select_related("objection", "objection__case")
        .filter(reference=normalise_reference(reference))
        .first()
    )
    if receipt is None:
        return None
    o: Objection = receipt.objection
    return ObjectionStatus(
        receipt.reference,
        o.case.unit_name,
        mask_credit_code(o.case.credit_code),
        o.recorded_at,
        o.outcome,
        o.decided_at,
        o.decision_reason,
        o.case.policy_id,
    )


# ---- one-time codes ------------------------------------------------------------------------------------------


class CodeCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY = "too_many"

    @property
    def message(self) -> Promise:
        """What a page says next to the code field (the user's language)."""
        return CODE_MESSAGES[self]

    @property
    def api_message(self) -> str:
        """What the API says (English, as the API's other problems)."""
        return {"wrong": "wrong code", "expired": "code expired or used", "too_many": "too many tries"}[
            self.value
        ]


CODE_MESSAGES: dict[CodeCheck, Promise] = {
    CodeCheck.WRONG: _("验证码不正确，请核对短信后重新输入"),
    CodeCheck.EXPIRED: _("验证码已过期或已使用，请重新获取"),
    CodeCheck.TOO_MANY: _("尝试次数过多，请重新获取验证码"),
}


def address_allowed(address: str, purpose: str, now: datetime | None = None) -> bool:
    """Count one request of ``address`` for ``purpose``; False once it passes the hourly limit (an atomic
    database counter, under the row's lock)."""
    now = now or timezone.now()
    with transaction.atomic():
        row, _created = AddressCounter.objects.select_for_update().get_or_create(
            purpose=purpose, address=address, defaults={"window_start": now}
        )
        if row.window_start <= now - ADDRESS_WINDOW:
            AddressCounter.objects.filter(pk=row.pk).update(window_start=now, count=1)
            return True
        AddressCounter.objects.filter(pk=row.pk).update(count=F("count") + 1)
        row.refresh_from_db(fields=["count"])
        return row.count <= int(settings.PORTAL_ADDRESS_MAX_REQUESTS)


def _phone_of(ref: str) -> str:
    """The phone a status code for ``ref`` goes to (locked): the objector's (``O-``) or the call-back
    requester's (``C-``); "" when the reference is unknown."""
    if ref.startswith("C-"):
        callback = CallbackRequest.objects.select_for_update().filter(reference=ref).first()
        return callback.phone if callback is not None else ""
    receipt = ObjectionReceipt.objects.select_for_update().filter(reference=ref).first() if ref else None
    return receipt.phone if receipt is not None else ""


def status_code_request(reference: str, now: datetime | None = None) -> None:
    """Ask for a status code for ``reference`` (an objection ``O-`` or a call-back ``C-``). The same writes
    whatever the reference: a code row and a job (``portal.codes``) that, after commit, finds the phone the
    objector or requester gave and queues the code in the notify outbox (past the phone's limits notify
    suppresses it: nothing is sent). The caller answers the same always."""
    now = now or timezone.now()
    ref = normalise_reference(reference)
    with transaction.atomic():
        row = StatusCode.objects.create(
            reference=ref or "-", phone="", code_hash="", created_at=now, expires_at=now + CODE_LIFETIME
        )
        job_enqueue(kind="portal.codes", key=f"portal.codes:status:{row.pk}", params={"status": row.pk},
                    actor=ACTOR)  # fmt: skip


def status_code_send(row_id: int) -> bool:
    """The job's half of a status code request: a code to the objector's or call-back requester's phone
    (idempotent: once per row)."""
    with transaction.atomic():
        row = StatusCode.objects.select_for_update().filter(pk=row_id).first()
        if row is None or row.code_hash:
            return False
        phone = _phone_of(row.reference)
        if not phone:
            return False
        code = new_code()
        row.phone, row.code_hash = phone, code_hash(row.reference, code)
        purpose = "callback_status" if row.reference.startswith("C-") else "objection_status"
        row.sent = code_sender().send(phone=phone, code=code, key=str(row.pk), purpose=purpose)
        row.save(update_fields=["phone", "code_hash", "sent"])
        return row.sent


def status_code_check(reference: str, code: str, now: datetime | None = None) -> CodeCheck:
    """Check a code typed for ``reference`` against the newest code issued for it (used once, 5 tries)."""
    now = now or timezone.now()
    ref = normalise_reference(reference)
    code = "".join(str(code or "").split())
    with transaction.atomic():
        issued = StatusCode.objects.select_for_update().filter(reference=ref or "-").order_by("-id")
        row = issued.filter(sent=True).first() or issued.first()
        if row is None or row.used_at is not None:
            return CodeCheck.EXPIRED
        if row.tries >= CODE_TRIES:
            return CodeCheck.TOO_MANY
        if row.expires_at <= now:
            return CodeCheck.EXPIRED
        StatusCode.objects.filter(pk=row.pk).update(tries=F("tries") + 1)
        if not (ref and row.sent and len(code) == 6 and code.isdigit()) or row.code_hash != code_hash(
            ref, code
        ):
            return CodeCheck.TOO_MANY if row.tries + 1 >= CODE_TRIES else CodeCheck.WRONG
        StatusCode.objects.filter(pk=row.pk).update(used_at=now)
        return CodeCheck.OK


# ---- retention (the periods on /privacy/) ------------------------------------------------------------------

CODE_RETENTION = timedelta(days=30)
PHONE_RETENTION = timedelta(days=365)


@dataclass(frozen=True)
class Swept:
    codes: int  # one-time code rows deleted (older than 30 days): status codes and lookup requests
    counters: int  # per-address counters whose window ended
    phones: int  # objectors' phones blanked (a year after the objection was decided)
    callbacks: int = 0  # call-back requesters' names and phones blanked (a year after the request was closed)
    documents: int = 0  # uploaded files no application names (a question page never submitted), a day old


def portal_sweep(now: datetime | None = None) -> Swept:
    """Delete what is past its retention period (docs/portal.md, /privacy/): code rows after 30 days,
    per-address counters after their window, the objector's phone on a receipt a year after the decision, and
    a call-back requester's name and phone a year after the request was closed (the references stay, so the
    status pages still answer, but no code can be sent any more)."""
    now = now or timezone.now()
    with transaction.atomic():
        codes, _ = StatusCode.objects.filter(created_at__lt=now - CODE_RETENTION).delete()
        _all, lookups = LookupRequest.objects.filter(created_at__lt=now - CODE_RETENTION).delete()
        codes += lookups.get("portal.LookupRequest", 0)  # with their LookupCode rows (hashes and phones)
        counters, _ = AddressCounter.objects.filter(window_start__lt=now - ADDRESS_WINDOW).delete()
        phones = (
            ObjectionReceipt.objects.exclude(phone="")
            .filter(objection__decided_at__lt=now - PHONE_RETENTION)
            .update(phone="")
        )
        callbacks = callbacks_forget(now=now)
    documents = documents_sweep(now)  # files only: after the rows above are committed or not, either way safe
    return Swept(codes, counters, phones, callbacks, documents)
