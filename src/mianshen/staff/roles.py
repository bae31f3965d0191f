"""Staff roles, districts and who may see and do what (design invariant 9: least privilege).

The staff app sits just above core and audit, so every app that routes work to staff or checks what they may
do (cases, payments, notifications to come, the back office, the command line) can use it.

Four roles, each a Django ``Group`` of the same name (created by migration 0002) and recorded on the user's
``Staff`` profile, which is what the checks read:

- ``city_admin`` (市级管理员): every district; starts rounds, opens notices, and may do every case action;
- ``district_officer`` (区经办人): its own district only; records objections and confirmations, prepares
  reviews, enters account corrections and asks for a payment to be cancelled (the maker of four eyes);
- ``reviewer`` (复核人): decides reviews, objections, account corrections and payment requests (the checker);
  city-wide, or one district if it has one; a city-wide reviewer also resolves the payment hold queue;
- ``auditor`` (审计员): reads everything, changes nothing (any write request is refused with 403); it may
  download a bank file (an audited read).

A case of another district is not found (404), never "forbidden": a district officer cannot even learn that it
exists. Every view asks ``visible_cases`` (the back office's ``roles``) / ``can_view_case`` first and ``can_act``
second; these read only a case's ``district``, so this module imports no app above it.

Staff accounts. Only a city administrator sees the staff page (``manage_staff``): the roles, who has a second
factor, which accounts are locked after failed sign-ins, and lifts a lock. Every staff member may change their
own password (an auditor too: its own account is not a business write).

Payments. A bank file holds the accounts of every district's units, so the file-level pages (bank files and
their download, inbound bank answers, the hold queue, reconciliation, file re-issue requests) are city-level:
``CITY_PERMS``, refused (403) to district staff whatever their role. District staff see the payments of their
own district's cases only: the overview shows them their district's payment states and links to the failures,
corrections, requests and re-issues of their district; another district's payment is 404 like its case.

=====================  ==========  ================  ========  =======
permission             city_admin  district_officer  reviewer  auditor
=====================  ==========  ================  ========  =======
view_payment_files     yes         —                 yes [1]   yes
download_bank_file     yes         —                 —         yes
prepare_correction     yes         own district      —         —
decide_correction      yes         —                 yes       —
request_cancel         yes         own district      —         —
request_reissue        yes         —                 —         —
decide_approval        yes         —                 yes [2]   —
resolve_hold           yes         —                 yes [1]   —
reprocess_inbound      yes         —                 —         —
manage_staff           yes         —                 —         —
record_callback        yes         own district [3]  —         —
=====================  ==========  ================  ========  =======

[1] a city-wide reviewer only (city-level permission). [2] a district reviewer decides the cancellation
requests of its district's cases; a file re-issue request needs a city-wide one. Four eyes: the officer who
entered a correction or asked for a cancellation / re-issue cannot decide it (the payment services refuse it,
and the database's check constraints too).
[3] a call-back routed to the district (one routed to the city level: city administrators only); every staff
member sees the call-back queue of its scope.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Group
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Beijing's districts (GB/T 2260 codes, domain.md glossary): names are proper nouns, shown as they are.
DISTRICTS: dict[str, Promise] = {
    "110101": _("东城区"),
    "110102": _("西城区"),
    "110105": _("朝阳区"),
    "110106": _("丰台区"),
    "110107": _("石景山区"),
    "110108": _("海淀区"),
    "110109": _("门头沟区"),
    "110111": _("房山区"),
    "110112": _("通州区"),
    "110113": _("顺义区"),
    "110114": _("昌平区"),
    "110115": _("大兴区"),
    "110116": _("怀柔区"),
    "110117": _("平谷区"),
    "110118": _("密云区"),
    "110119": _("延庆区"),
}


class Role(models.TextChoices):
    CITY_ADMIN = "city_admin", _("市级管理员")
    DISTRICT_OFFICER = "district_officer", _("区经办人")
    REVIEWER = "reviewer", _("复核人")
    AUDITOR = "auditor", _("审计员")


class Perm(StrEnum):
    """What a role may do: ``CITY_PERMS`` are city-wide (a city-level profile is needed); the others are done
    to one case."""

    START_ROUND = "start_round"
    OPEN_NOTICE = "open_notice"
    RECORD_OBJECTION = "record_objection"
    DECIDE_OBJECTION = "decide_objection"
    PREPARE_REVIEW = "prepare_review"
    DECIDE_REVIEW = "decide_review"
    RECORD_CONFIRMATION = "record_confirmation"
    VIEW_BANK = "view_bank"  # a read, but an audited one (Action.STAFF_VIEWED_BANK_DATA)
    VIEW_CONTACT = "view_contact"  # likewise (Action.STAFF_VIEWED_CONTACT)
    # payments
    VIEW_PAYMENT_FILES = "view_payment_files"  # bank files, inbound answers, holds, reconciliation
    DOWNLOAD_BANK_FILE = "download_bank_file"  # audited (Action.STAFF_DOWNLOADED_BANK_FILE)
    PREPARE_CORRECTION = "prepare_correction"  # maker: a corrected account or a re-send
    DECIDE_CORRECTION = "decide_correction"  # checker
    REQUEST_CANCEL = "request_cancel"  # maker: ask for a payment to be cancelled
    REQUEST_REISSUE = "request_reissue"  # maker: ask for a defective file's payments to be re-issued
    DECIDE_APPROVAL = "decide_approval"  # checker of the two requests above
    RESOLVE_HOLD = "resolve_hold"
    REPROCESS_INBOUND = "reprocess_inbound"
    # staff accounts
    MANAGE_STAFF = "manage_staff"  # the staff page: who is locked out, lift a lock (Action.STAFF_UNLOCKED)
    # 呼我必回
    RECORD_CALLBACK = "record_callback"  # the officer's call-back outcome (answered / unreachable + note)
    # the outbox and enquiries (notify)
    RETRY_MESSAGE = "retry_message"  # put a failed message (dead letter) back in the outbox's queue
    RECORD_ENQUIRY = "record_enquiry"  # record a phone consultation (enquiries by channel)


READS = frozenset({Perm.VIEW_BANK, Perm.VIEW_CONTACT})
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.CITY_ADMIN: frozenset(Perm),
    Role.DISTRICT_OFFICER: READS
    | frozenset(
        {
            Perm.RECORD_OBJECTION,
            Perm.PREPARE_REVIEW,
            Perm.RECORD_CONFIRMATION,
            Perm.PREPARE_CORRECTION,
            Perm.REQUEST_CANCEL,
            Perm.RECORD_CALLBACK,
            Perm.RETRY_MESSAGE,
            Perm.RECORD_ENQUIRY,
        }
    ),
    Role.REVIEWER: READS
    | frozenset(
        {
            Perm.DECIDE_REVIEW,
            Perm.DECIDE_OBJECTION,
            Perm.DECIDE_CORRECTION,
            Perm.DECIDE_APPROVAL,
            Perm.RESOLVE_HOLD,
            Perm.VIEW_PAYMENT_FILES,
        }
    ),
    Role.AUDITOR: READS | frozenset({Perm.VIEW_PAYMENT_FILES, Perm.DOWNLOAD_BANK_FILE}),
}
# city-wide: a city-level profile is needed whatever the role table says (bank files hold every district)
CITY_PERMS = frozenset(
    {
        Perm.START_ROUND,
        Perm.OPEN_NOTICE,
        Perm.VIEW_PAYMENT_FILES,
        Perm.DOWNLOAD_BANK_FILE,
        Perm.REQUEST_REISSUE,
        Perm.RESOLVE_HOLD,
        Perm.REPROCESS_INBOUND,
        Perm.MANAGE_STAFF,
    }
)
CASE_PERMS = frozenset(Perm) - CITY_PERMS


class Staff(models.Model):
    """A staff user's role and, for district roles, its district; an officer's phone and e-mail (optional) are
    where reminders reach them. The table is still ``backoffice_staff`` (the model moved from the back office
    without a data migration)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=20, choices=Role.choices)
    district = models.CharField(
        max_length=6,
        null=True,
        blank=True,
        choices=sorted(DISTRICTS.items()),
        help_text="district officers: their district; reviewers: optional; others: none (city-wide)",
    )
    phone = models.CharField(max_length=32, blank=True, default="", help_text="for reminders (optional)")
    email = models.EmailField(max_length=254, blank=True, default="", help_text="for reminders (optional)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "backoffice_staff"
        verbose_name = _("工作人员")
        verbose_name_plural = _("工作人员")
        constraints = [
            models.CheckConstraint(
                condition=Q(role=Role.DISTRICT_OFFICER, district__isnull=False)
                | Q(role__in=[Role.CITY_ADMIN, Role.AUDITOR], district__isnull=True)
                | Q(role=Role.REVIEWER),
                name="staff_role_district",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}{' ' + self.district if self.district else ''})"

    @property
    def city_level(self) -> bool:
        return self.district is None

    @property
    def read_only(self) -> bool:
        return self.role == Role.AUDITOR

    def may(self, perm: Perm) -> bool:
        return perm in ROLE_PERMS.get(self.role, frozenset())


def role_group(role: str) -> Group:
    """The Django group of a role (the data migration creates them; created here if someone removed one)."""
    group, _created = Group.objects.get_or_create(name=Role(role).value)
    return group


def staff_of(user: Any) -> Staff | None:
    """The user's staff profile, or None (anonymous, inactive, or a user who is not staff). Cached on the
    user object, which lives for one request."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated or not user.is_active:
        return None
    if not hasattr(user, "_backoffice_staff"):
        user._backoffice_staff = Staff.objects.filter(user=user).first()
    cached: Staff | None = user._backoffice_staff
    return cached


def can(user: Any, perm: Perm) -> bool:
    """Whether ``user`` may do ``perm`` at all (city-wide actions: start a round, open a notice, the payment
    files; for a case action: whether the role has it at all, before any case is looked at)."""
    staff = staff_of(user)
    if staff is None or not staff.may(perm):
        return False
    # city-wide actions need a city-level profile, whatever the role table says
    return perm in CASE_PERMS or staff.city_level


def scope(queryset: QuerySet[Any], user: Any, *, district_field: str = "district") -> QuerySet[Any]:
    """``queryset`` narrowed to what ``user`` may see: everything for city-level staff, one district for
    district staff, nothing for anyone else."""
    staff = staff_of(user)
    if staff is None:
        return queryset.none()
    if staff.city_level:
        return queryset
    return queryset.filter(**{district_field: staff.district})


class InDistrict(Protocol):
    """Anything that belongs to one district: a case, a payment of a case."""

    district: str


def can_view_case(user: Any, case: InDistrict) -> bool:
    staff = staff_of(user)
    return staff is not None and (staff.city_level or case.district == staff.district)


def can_act(user: Any, case: InDistrict, perm: Perm) -> bool:
    """Whether ``user`` may do ``perm`` to ``case``: the role allows it and the case is in its view."""
    staff = staff_of(user)
    return staff is not None and perm in CASE_PERMS and staff.may(perm) and can_view_case(user, case)


def allowed_perms(user: Any, case: InDistrict) -> frozenset[Perm]:
    """Every case action ``user`` may do to ``case`` (for showing the right forms)."""
    return frozenset(p for p in CASE_PERMS if can_act(user, case, p))
