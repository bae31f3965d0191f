"""The numbered catalogue of audit event types (全程留痕: every step leaves a trace).

Each event type has a stable integer code (stored in ``AuditEvent.action`` and hashed into the chain), a dotted
name and a one-line description. Codes are grouped by hundreds, one block per domain:

====  ==========================================================
1xx   data drops and snapshots
2xx   screening rounds (比对)
3xx   cases: state transitions, manual review (four eyes), applications
4xx   public notice (公示) and objections (异议)
5xx   payments: instructions, bank files, bank status, recovery
6xx   bank-account corrections (maker and checker)
7xx   staff access to personal or bank data (reads worth a trace)
8xx   notifications and call-backs (呼我必回)
9xx   the audit trail itself and administration
====  ==========================================================

Rules: a code, once released, is never renumbered, reused or removed (old events keep their meaning); add new
codes at the end of their block; a retired type stays here with "(retired)" in its description.
"""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class Action(IntEnum):
    """An audit event type: ``Action.ROUND_STARTED == 200``, ``.dotted == "round.started"``."""

    dotted: str
    description: str

    def __new__(cls, code: int, dotted: str = "", description: str = "") -> Action:
        member = int.__new__(cls, code)
        member._value_ = code
        member.dotted = dotted
        member.description = description
        return member

    # 1xx data
    SNAPSHOT_IMPORTED = 100, "snapshot.imported", "a data drop was imported as an immutable snapshot"
    SNAPSHOT_REJECTED = 101, "snapshot.rejected", "a data drop was refused whole (unusable)"
    SNAPSHOT_IMPORT_REPEATED = (
        102,
        "snapshot.import_repeated",
        "a data drop already imported was imported again; nothing was written",
    )

    # 2xx screening rounds
    ROUND_STARTED = 200, "round.started", "a screening round started over a frozen snapshot"
    ROUND_COMPLETED = 201, "round.completed", "a screening round finished and stored its decisions"
    ROUND_FAILED = 202, "round.failed", "a screening round failed; nothing of it was kept"

    # 3xx cases
    CASE_TRANSITION = 300, "case.transition", "a case changed state (before/after: the states)"
    CASE_OPENED = 301, "case.opened", "a case was opened for a unit and policy year"
    CASE_REVIEWED = 310, "case.reviewed", "a manual review was approved or refused (checker)"
    CASE_REVIEW_PREPARED = 311, "case.review_prepared", "a manual review was prepared (maker)"
    DISPATCH_CONFIRMED = 320, "dispatch.confirmed", "the host employer confirmed dispatched workers"
    APPLICATION_RECEIVED = 330, "application.received", "a unit applied through the portal"
    DISPATCH_HOST_CONFIRMED = (
        340,
        "dispatch.host_confirmed",
        "a host employer confirmed, through the portal, the workers a dispatch unit placed with it",
    )
    DISPATCH_HOST_DISPUTED = (
        341,
        "dispatch.host_disputed",
        "a host employer disputed, through the portal, the workers a dispatch unit declares it placed there",
    )
    BENEFIT_RECORDED = (
        360,
        "benefit.recorded",
        "a once-only benefit (retention training subsidy) was entered in the ledger for a unit: once, ever",
    )
    PERSONS_RECORDED = (
        361,
        "benefit.persons_recorded",
        "the persons a once-per-person benefit (job-expansion subsidy) was approved for were entered in the person "
        "ledger (pseudonyms): once per person, ever",
    )

    # 4xx public notice and objections
    NOTICE_OPENED = 400, "notice.opened", "a public notice (公示) list was published"
    NOTICE_CLOSED = 401, "notice.closed", "a public notice period ended"
    OBJECTION_RECORDED = 410, "objection.recorded", "an objection was received during public notice"
    OBJECTION_DECIDED = 411, "objection.decided", "an objection was decided"

    # 5xx payments
    PAYMENT_INSTRUCTION_CREATED = 500, "payment.instruction_created", "a payment instruction was created"
    PAYMENT_INSTRUCTION_CANCELLED = (
        501,
        "payment.instruction_cancelled",
        "a payment instruction was cancelled",
    )
    PAYMENT_REISSUED = 502, "payment.reissued", "a failed payment was re-issued (new EndToEndId)"
    BANK_FILE_FROZEN = 510, "bank_file.frozen", "a bank file was frozen (bytes and SHA-256 stored)"
    BANK_FILE_UPLOADED = 511, "bank_file.uploaded", "a frozen bank file was handed to a bank"
    BANK_FILE_RECEIVED = 512, "bank_file.received", "a status or booking file was received from a bank"
    BANK_REGISTRY_LOADED = 515, "bank.registry_loaded", "banks were added to the bank registry"
    BANK_STATUS_APPLIED = 520, "bank_status.applied", "a bank status line changed a payment"
    PAYMENT_HELD = 530, "payment.held", "a payment was put on hold"
    PAYMENT_RELEASED = 531, "payment.released", "a held payment was released"
    PAYMENT_RECOVERED = 540, "payment.recovered", "a failed or returned payment was recovered"
    RECONCILED = 541, "payment.reconciled", "the money identity was checked and its result recorded"
    PAYMENT_APPROVAL_REQUESTED = (
        550,
        "payment.approval_requested",
        "a payment action needing a second officer was requested (cancel, file re-issue)",
    )
    PAYMENT_APPROVAL_DECIDED = 551, "payment.approval_decided", "a requested payment action was decided"
    INBOUND_FILE_REPROCESSED = (
        513,
        "bank_file.reprocessed",
        "a quarantined bank file was processed again by an officer",
    )
    BANK_FILE_UPLOAD_STARTED = (
        514,
        "bank_file.upload_started",
        "a hand-over of a frozen bank file was claimed (attempt, owner, lease; an expired one taken over)",
    )

    # 6xx bank-account corrections
    ACCOUNT_CORRECTION_PREPARED = 600, "account.correction_prepared", "an account correction was prepared"
    ACCOUNT_CORRECTION_APPROVED = 601, "account.correction_approved", "an account correction was approved"
    ACCOUNT_CORRECTION_REFUSED = 602, "account.correction_refused", "an account correction was refused"
    ACCOUNT_CORRECTION_NOT_ON_FILE = (
        603,
        "account.correction_not_on_file",
        "a correction or re-send was refused: not the unit's account on file in a drop imported after the failure",
    )

    # 7xx staff access to sensitive data
    STAFF_VIEWED_BANK_DATA = 700, "staff.viewed_bank_data", "a staff member viewed a unit's bank account"
    STAFF_VIEWED_CONTACT = 701, "staff.viewed_contact", "a staff member viewed a unit's contact details"
    STAFF_EXPORTED = 702, "staff.exported", "a staff member exported a report or list"
    STAFF_DOWNLOADED_BANK_FILE = (
        703,
        "staff.downloaded_bank_file",
        "a staff member downloaded a bank file (accounts of many units)",
    )

    # 8xx notifications and call-backs
    NOTIFICATION_QUEUED = 800, "notification.queued", "a notification was queued in the outbox"
    NOTIFICATION_TRANSITION = (
        801,
        "notification.transition",
        "an outbox message changed state, or an attempt to deliver it was recorded (before/after: the states)",
    )
    ENQUIRY_RECORDED = (
        803,
        "enquiry.recorded",
        "an enquiry was recorded: a phone consultation, a portal lookup sign-in (once a unit and day), a call-back",
    )
    NOTIFICATION_UNMASKED = (
        802,
        "notification.unmasked",
        "an operator listed outbox messages unmasked (full addresses and one-time codes)",
    )
    CALLBACK_REQUESTED = 810, "callback.requested", "a call-back was requested (呼我必回)"
    CALLBACK_CLOSED = 811, "callback.closed", "a call-back was closed (rated 3–5 after its outcome)"
    CALLBACK_TRANSITION = (
        812,
        "callback.transition",
        "a call-back changed state: routed, called, its outcome recorded, reopened by a rating of 1–2",
    )
    CALLBACK_REMINDED = (
        813,
        "callback.reminded",
        "the officers were reminded of a call-back (50 % / 80 % of its time)",
    )
    CALLBACK_ESCALATED = (
        814,
        "callback.escalated",
        "a call-back passed its deadline (or twice it): escalated to the city",
    )
    CALLBACK_RATED = 815, "callback.rated", "the requester rated a call-back (1–5, 好差评)"
    CALENDAR_WORKDAYS_LOADED = (
        816,
        "calendar.workdays_loaded",
        "make-up working days (调休) were added to the calendar",
    )
    LIST_EXPORTED = (
        840,
        "list.exported",
        "a staff member downloaded a list or a dashboard table (CSV/XLSX): which list, format, filters, rows",
    )
    DOCUMENT_KEPT = (
        850,
        "document.kept",
        "a PDF document (a letter to a unit, a district's publicity list) was rendered and kept with its SHA-256",
    )
    DOCUMENT_DOWNLOADED = (
        851,
        "document.downloaded",
        "a staff member downloaded a kept document (a letter to a unit, a publicity list)",
    )
    DOCUMENT_UNIT_DOWNLOADED = (
        852,
        "document.unit_downloaded",
        "a unit signed in through the portal's lookup downloaded its own letter",
    )
    RECONCILE_REQUESTED = (
        853,
        "payment.reconcile_requested",
        "a staff member queued a check of the money identity (the worker records its result as 541)",
    )

    APPLICATION_DECIDED = (
        820,
        "application.decided",
        "an application was granted or refused (by its four-eyes review, or — wrong bank details — by the re-issue)",
    )
    APPLICATION_DOCUMENT_STORED = (
        821,
        "application.document_stored",
        "a document was stored with an application (type checked by its content, size, SHA-256)",
    )
    APPLICATION_DOCUMENT_OPENED = (
        822,
        "application.document_opened",
        "an application's document was opened (by a member of staff, or by the unit's own session)",
    )
    APPLICATION_ACCOUNT_CHECKED = (
        823,
        "application.account_checked",
        "the account a unit gave was compared with its account on file in a drop imported after the failure",
    )
    CALLBACK_PHONE_VIEWED = (
        830,
        "callback.phone_viewed",
        "a staff member revealed a call-back requester's full phone number",
    )

    # 9xx the audit trail itself
    AUDIT_CHECKPOINT = 900, "audit.checkpoint", "the chain head was written to the checkpoint file"
    AUDIT_RESTORE_ACCEPTED = (
        901,
        "audit.restore_accepted",
        "events lost in a restore from backup were acknowledged; the checkpoints naming them were set aside",
    )
    AUDIT_PROTECTION_REMOVED = (
        910,
        "audit.protection_removed",
        "an administrator removed append-only protection",
    )
    AUDIT_PROTECTION_RESTORED = 911, "audit.protection_restored", "append-only protection was restored"
    STAFF_ROLE_GRANTED = 920, "staff.role_granted", "a back-office role (and district) was granted to a user"
    STAFF_SIGNED_IN = (
        921,
        "staff.signed_in",
        "a staff member signed in to the back office (password and, where needed, second factor)",
    )
    STAFF_SIGN_IN_FAILED = (
        922,
        "staff.sign_in_failed",
        "a sign-in failed: wrong password, unknown user, locked account or wrong second factor (no secret kept)",
    )
    STAFF_LOCKED_OUT = 923, "staff.locked_out", "an account was locked after repeated failed sign-ins"
    STAFF_UNLOCKED = 924, "staff.unlocked", "an administrator lifted a sign-in lockout"
    STAFF_SIGN_IN_THROTTLED = (
        925,
        "staff.sign_in_throttled",
        "a client address was refused further sign-ins for a while after repeated failures",
    )
    STAFF_SIGNED_OUT = 926, "staff.signed_out", "a staff member signed out of the back office"
    STAFF_SECOND_FACTOR_ENROLLED = (
        927,
        "staff.second_factor_enrolled",
        "a second factor (TOTP and recovery codes) was enrolled for a user (no secret kept)",
    )
    STAFF_PASSWORD_CHANGED = 928, "staff.password_changed", "a staff member changed their password"
    DASHBOARD_RECOMPUTED = (
        929,
        "reports.dashboard_recomputed",
        "a staff member had the dashboard's outcome figures computed now (no figure changes with it)",
    )

    @classmethod
    def by_dotted(cls, dotted: str) -> Action:
        """The event type named ``dotted`` ("round.started"); ``KeyError`` when there is none."""
        for member in cls:
            if member.dotted == dotted:
                return member
        raise KeyError(dotted)


# Event types that nothing records yet: the step they name is not built (call-backs, exports, closing a notice,
# recovering money are to come with the portal, reporting and recovery work). They are released codes all the
# same (never reused). When a service starts recording one, take it out of this set:
# tests/audit/test_coverage.py checks that every other type is recorded somewhere in the source, and that none of
# these is.
RESERVED: frozenset[Action] = frozenset(
    {
        Action.NOTICE_CLOSED,
        Action.PAYMENT_RECOVERED,
        Action.STAFF_EXPORTED,
    }
)


def action_choices() -> list[tuple[int, str]]:
    """Choices for the model field: ``(code, "code dotted.name")``."""
    return [(member.value, f"{member.value} {member.dotted}") for member in Action]
