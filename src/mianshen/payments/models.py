"""Payments in the database: one :class:`Payment` per released case, its :class:`Instruction` attempts, the
frozen outbound :class:`BankFile`, every inbound file and line, the booking ledger, the hold queue, the notices to
units and the four-eyes account corrections.

Constraints that carry the invariants (design §3):

- ``one_live_instruction_per_case``: partial unique index — at most one live instruction per case (3);
- ``MsgId`` / ``PmtInfId`` / ``EndToEndId`` unique (columns, constraint) on rows never deleted (PROTECT):
  unique forever (3); a bank file's bytes, hash and ids cannot be updated (triggers, migration 0002);
- ``correction_four_eyes``: the officer who decides a correction is not the one who entered it (6);
- ``inbound_file_sha256`` and ``booking_once``: the same bank file or booking is applied once (5);
- amounts are integer fen, positive (4).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from mianshen.cases.models import Case

from .lifecycle import FAILED, LIVE, InstructionStatus
from .reasons import Action
from .states import BankFileStatus

ID = 35  # Max35Text: MsgId, PmtInfId, EndToEndId


class Bank(models.Model):
    """A bank by its 3-digit CNAPS code (the registry; defaults in ``banks.DEFAULT_BANKS``)."""

    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=100)
    cooperating = models.BooleanField(help_text="paid in the first batch (16 cooperating banks)")
    reports_only_rejects = models.BooleanField(default=False, help_text="silence on a line means accepted")
    silence_days = models.PositiveSmallIntegerField(default=2, help_text="working days before 'no answer'")

    class Meta:
        ordering = ("-cooperating", "code")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Holiday(models.Model):
    """A non-working day (weekends are skipped anyway)."""

    day = models.DateField(primary_key=True)
    name = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"{self.day} {self.name}".strip()


class Payment(models.Model):
    """One released case on the payment side: its approved amount and its current instruction."""

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="payment")
    amount_fen = models.BigIntegerField(help_text="the approved amount, copied at hand-over")
    released_at = models.DateTimeField(auto_now_add=True)
    released_by = models.CharField(max_length=150)
    current = models.ForeignKey(
        "Instruction", on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    note = models.CharField(max_length=300, blank=True, help_text="why it waits (e.g. no account on file)")
    cancelled_at = models.DateTimeField(null=True)
    cancelled_by = models.CharField(max_length=150, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = (models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payment_amount_positive"),)
        # the failures queue (``backoffice.payment_selectors.failures``): payments never instructed (no usable
        # account) found without reading every payment; an entry is not rewritten once a payment is instructed
        indexes = (
            models.Index(
                fields=["id"], condition=Q(current=None, cancelled_at=None), name="payment_uninstructed"
            ),
        )

    def __str__(self) -> str:
        return f"payment of case {self.case_id} ({self.amount_fen} fen)"


# an attempt that did not pay (a payment whose current instruction is one of these waits for a correction)
NOT_PAID = FAILED | {InstructionStatus.CANCELLED}

# the statuses and their allowed moves are in ``lifecycle`` / ``states`` (pure); their names for people here
INSTRUCTION_STATUS_LABELS = {
    InstructionStatus.CREATED: _("待生成文件"),
    InstructionStatus.FROZEN: _("已冻结，待交付"),
    InstructionStatus.UPLOADED: _("已交付银行，未答复"),
    InstructionStatus.NO_ANSWER: _("银行超时未答复"),
    InstructionStatus.ACCEPTED: _("银行已受理"),
    InstructionStatus.SETTLED: _("已入账"),
    InstructionStatus.REJECTED: _("银行拒绝"),
    InstructionStatus.RETURNED: _("已退回"),
    InstructionStatus.DISPUTED: _("有争议，待核查"),
    InstructionStatus.CANCELLED: _("已撤销"),
}
# what a failure makes the system do (``reasons.Action``), for staff
ACTION_LABELS = {
    Action.NEEDS_CORRECTION: _("需更正账户"),
    Action.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT: _("账户已销户：须登记新账户"),
    Action.HELD_FOR_REVIEW: _("账户冻结：复核后处理"),
    Action.DUPLICATE_ALERT: _("重复警报：不得重发"),
    Action.OUR_DEFECT_RESEND: _("我方文件缺陷：修正后整批重发"),
    Action.TREASURY_INCIDENT: _("基金账户问题"),
    Action.MANUAL_TRIAGE: _("人工核查"),
}
# the buckets of the reconciliation (``services.reconcile``)
BUCKET_LABELS = {
    "settled": _("已入账"),
    "in_flight": _("在途"),
    "awaiting_correction": _("待更正"),
    "cancelled": _("已撤销"),
}
# a correction's or an approval's decision (``approved`` / ``refused``, "" while it waits)
DECIDED_LABELS = {"approved": _("已同意"), "refused": _("未同意"), "": _("待决定")}


class Instruction(models.Model):
    """One attempt to pay a case: the account copied in, ids fixed before any file leaves."""

    # no single-column indexes on payment, case, bank: (payment, attempt), the live index and the waiting index
    # serve the lookups, and every index costs on the 450,000-row inserts and status updates
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="instructions", db_index=False
    )
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="payment_instructions", db_index=False
    )
    attempt = models.PositiveSmallIntegerField()
    end_to_end_id = models.CharField(max_length=ID)  # unique: constraint instruction_e2e_unique
    amount_fen = models.BigIntegerField()
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+", db_index=False)
    creditor_branch_code = models.CharField(max_length=12)
    creditor_account = models.CharField(max_length=34)
    creditor_name = models.CharField(max_length=140)
    remittance = models.CharField(max_length=140)
    account_source = models.CharField(max_length=60, help_text="snapshot:<id> or correction:<id>")
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, related_name="reissue", help_text="the failed attempt"
    )
    status = models.CharField(
        max_length=12, choices=[(s.value, INSTRUCTION_STATUS_LABELS[s]) for s in InstructionStatus]
    )
    bank_file = models.ForeignKey(
        "BankFile", on_delete=models.PROTECT, null=True, related_name="instructions"
    )
    # What the bank said (lifecycle.Summary): merged, never overwritten.
    bank_status = models.CharField(max_length=4, blank=True)
    rejected = models.BooleanField(default=False)
    reject_codes = models.CharField(max_length=200, blank=True, help_text="space-separated, sorted")
    booked_on = models.DateField(null=True)
    returned_on = models.DateField(null=True)
    return_reason = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=40, blank=True, help_text="reasons.Action of a failure")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(status__in=sorted(s.value for s in LIVE)),
                name="one_live_instruction_per_case",
            ),
            # a constraint rather than unique=True: no second ("_like") index on PostgreSQL to maintain
            models.UniqueConstraint(fields=["end_to_end_id"], name="instruction_e2e_unique"),
            models.UniqueConstraint(fields=["payment", "attempt"], name="instruction_attempt_unique"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="instruction_amount_positive"),
            models.CheckConstraint(condition=~Q(end_to_end_id=""), name="instruction_e2e_not_empty"),
        )
        # only the instructions waiting for a file: an entry is never rewritten when a payment moves on
        indexes = (
            models.Index(fields=["bank"], condition=Q(status="created"), name="instruction_waiting_by_bank"),
            # the failed and withdrawn attempts (a few percent): the failures queue reads them, not every attempt
            models.Index(
                fields=["payment"],
                condition=Q(status__in=sorted(s.value for s in NOT_PAID)),
                name="instruction_not_paid",
            ),
        )

    def __str__(self) -> str:
        return f"{self.end_to_end_id} ({self.status})"


# the statuses and their allowed moves are in ``states`` (pure); the labels of the choices here
BANK_FILE_STATUS_LABELS = {
    BankFileStatus.FROZEN: _("已冻结"),
    BankFileStatus.UPLOADING: _("交付中"),
    BankFileStatus.UPLOADED: _("已交付，未答复"),
    BankFileStatus.NO_ANSWER: _("超时未答复"),
    BankFileStatus.ANSWERED: _("已答复"),
    BankFileStatus.REJECTED: _("整体拒绝"),
}


class BankFile(models.Model):
    """One pain.001.001.09 file: one bank, one execution date; frozen (bytes + SHA-256) before it leaves."""

    msg_id = models.CharField(max_length=ID, unique=True)
    pmt_inf_id = models.CharField(max_length=ID, unique=True)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    execution_date = models.DateField()
    created_at = models.DateTimeField(help_text="GrpHdr/CreDtTm, part of the frozen bytes")
    nb_of_txs = models.PositiveIntegerField()
    ctrl_sum_fen = models.BigIntegerField()
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=10,
        choices=[(s.value, label) for s, label in BANK_FILE_STATUS_LABELS.items()],
        default=BankFileStatus.FROZEN.value,
    )
    frozen_by = models.CharField(max_length=150)
    upload_attempts = models.PositiveIntegerField(default=0, help_text="hand-overs started (same bytes each)")
    first_upload_at = models.DateTimeField(null=True)
    last_upload_at = models.DateTimeField(null=True)
    last_upload_on = models.DateField(null=True, help_text="business date of the latest completed hand-over")
    answered_at = models.DateTimeField(null=True)
    # the hand-over under way (services.bankfiles): who is sending the bytes, and until when that claim holds;
    # both cleared when the hand-over is recorded (nullable: added to SQLite without remaking the table)
    upload_owner = models.CharField(max_length=120, null=True, help_text="host:pid:thread of the uploader")
    upload_lease_until = models.DateTimeField(null=True)

    class Meta:
        ordering = ("id",)
        constraints = (
            models.CheckConstraint(condition=Q(nb_of_txs__gt=0), name="bank_file_not_empty"),
            models.CheckConstraint(condition=Q(ctrl_sum_fen__gt=0), name="bank_file_ctrl_sum_positive"),
        )
        indexes = (models.Index(fields=["status"], name="bank_file_by_status"),)

    def __str__(self) -> str:
        return f"{self.msg_id} ({self.status})"

    @property
    def file_name(self) -> str:
        return f"{self.msg_id}.xml"


class InboundStatus(models.TextChoices):
    APPLIED = "applied", _("已应用")
    QUARANTINED = "quarantined", _("已隔离")


class InboundFile(models.Model):
    """Every file a bank sent us, stored by SHA-256: a repeat is recognised and changes nothing."""

    sha256 = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    bank_code = models.CharField(max_length=3, blank=True, help_text="the folder it came from, if known")
    kind = models.CharField(max_length=20, blank=True, help_text="pain.002.001.12, camt.054.001.08, …")
    msg_id = models.CharField(max_length=ID, blank=True)
    original_msg_id = models.CharField(max_length=ID, blank=True)
    content = models.BinaryField()
    size = models.BigIntegerField()
    truncated = models.BooleanField(default=False, help_text="oversized: only the first bytes are kept")
    status = models.CharField(max_length=12, choices=InboundStatus.choices)
    reason = models.TextField(blank=True, help_text="why it was quarantined")
    reason_code = models.CharField(max_length=10, blank=True)
    counts = models.JSONField(default=dict)
    received_by = models.CharField(max_length=150)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class LineOutcome(models.TextChoices):
    APPLIED = "applied", _("已应用：指令已变更")
    SAME = "same", _("重复：无新内容")
    STALE = "stale", _("过时：早于已知状态")
    CONTRADICTION = "contradiction", _("矛盾：转入挂起队列")
    LATE = "late", _("迟到：重发之后，转入挂起队列")
    IGNORED = "ignored", _("忽略：重试交付引起的 DU01")
    INFO = "info", _("信息：非记账")
    NOT_OURS = "not_ours", _("非我方：无我方编号的入账")
    REPEAT = "repeat", _("重复记账：已由另一文件记录")


class StatusLine(models.Model):
    """One line of an applied inbound file (pain.002 transaction or group status, camt.054 entry), keyed."""

    inbound = models.ForeignKey(InboundFile, on_delete=models.PROTECT, related_name="lines", db_index=False)
    seq = models.PositiveIntegerField()
    instruction = models.ForeignKey(Instruction, on_delete=models.PROTECT, null=True, related_name="lines")
    end_to_end_id = models.CharField(max_length=ID, blank=True)
    kind = models.CharField(max_length=10, help_text="tx, implicit, group, debit, return, entry")
    status = models.CharField(max_length=4, blank=True)
    reason_codes = models.CharField(max_length=200, blank=True)
    amount_fen = models.BigIntegerField(null=True)
    booking_date = models.DateField(null=True)
    outcome = models.CharField(max_length=14, choices=LineOutcome.choices)

    class Meta:
        constraints = (models.UniqueConstraint(fields=["inbound", "seq"], name="status_line_key"),)

    def __str__(self) -> str:
        return f"line {self.seq} of inbound {self.inbound_id}: {self.end_to_end_id} {self.status} ({self.outcome})"


class BookingKind(models.TextChoices):
    DEBIT = "debit", _("付款记账")
    RETURN = "return", _("退回")


class Booking(models.Model):
    """The ledger of the fund's account as the bank booked it (camt.054), one debit and one return per id."""

    instruction = models.ForeignKey(Instruction, on_delete=models.PROTECT, related_name="bookings")
    end_to_end_id = models.CharField(max_length=ID)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=6, choices=BookingKind.choices)
    amount_fen = models.BigIntegerField()
    booking_date = models.DateField()
    reason_code = models.CharField(max_length=40, blank=True)
    inbound = models.ForeignKey(
        InboundFile, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["end_to_end_id", "kind"], name="booking_once"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="booking_amount_positive"),
        )
        indexes = (models.Index(fields=["bank", "booking_date"], name="booking_by_bank_day"),)

    def __str__(self) -> str:
        return f"{self.kind} {self.end_to_end_id} {self.amount_fen} fen on {self.booking_date}"


class HoldKind(models.TextChoices):
    CONTRADICTION = "contradiction", _("矛盾的银行回执")
    LATE = "late", _("重发后迟到的回执")
    DUPLICATE = "duplicate", _("银行报重复")
    DU01_UNEXPECTED = "du01", _("未重发的文件被报重复")
    NO_ANSWER = "no_answer", _("超时未答复")
    REVIEW = "review", _("账户冻结待复核")
    TREASURY = "treasury", _("基金账户无法扣款")
    TRIAGE = "triage", _("原因不明待人工核查")
    REPEAT_BOOKING = "repeat_booking", _("重复记账")
    OUR_DEFECT = "our_defect", _("我方文件缺陷")
    QUARANTINED = "quarantined", _("银行回执已隔离")
    IRREGULAR_FILE = "irregular_file", _("银行目录中的异常文件")


class HoldItem(models.Model):
    """The hold queue: something a person must look at (each creation is an audit event = the alert)."""

    key = models.CharField(max_length=120, unique=True, help_text="business key: raised once")
    kind = models.CharField(max_length=16, choices=HoldKind.choices)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, related_name="+")
    instruction = models.ForeignKey(Instruction, on_delete=models.PROTECT, null=True, related_name="holds")
    bank_file = models.ForeignKey(BankFile, on_delete=models.PROTECT, null=True, related_name="holds")
    inbound = models.ForeignKey(InboundFile, on_delete=models.PROTECT, null=True, related_name="holds")
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ("id",)
        indexes = (models.Index(fields=["resolved_at", "kind"], name="hold_open"),)

    def __str__(self) -> str:
        return f"hold {self.key} ({'resolved' if self.resolved_at else 'open'})"


class CorrectionKind(models.TextChoices):
    ACCOUNT = "account", _("更正账户")
    RESEND = "resend", _("原账户重发")


class Correction(models.Model):
    """A corrected account (or a re-send) for a failed payment: entered by one officer, decided by another."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="corrections")
    failed = models.ForeignKey(Instruction, on_delete=models.PROTECT, null=True, related_name="corrections")
    kind = models.CharField(max_length=8, choices=CorrectionKind.choices)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    branch_code = models.CharField(max_length=12)
    account_no = models.CharField(max_length=34)
    account_name = models.CharField(max_length=140)
    note = models.TextField(blank=True)
    prepared_by = models.CharField(max_length=150)
    prepared_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True)
    outcome = models.CharField(max_length=8, blank=True, help_text="approved / refused")
    decision_note = models.TextField(blank=True)
    reissue = models.OneToOneField(
        Instruction, on_delete=models.PROTECT, null=True, related_name="correction"
    )
    snapshot = models.ForeignKey(
        "registry.Snapshot",
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_index=False,
        help_text="the data drop whose account on file it matched (closed loop); empty if entered before that rule",
    )

    class Meta:
        constraints = (
            models.CheckConstraint(
                condition=Q(decided_by="") | ~Q(decided_by=F("prepared_by")), name="correction_four_eyes"
            ),
            models.CheckConstraint(
                condition=(Q(decided_by="") & Q(outcome=""))
                | (~Q(decided_by="") & Q(outcome__in=["approved", "refused"])),
                name="correction_outcome_with_decider",
            ),
            models.UniqueConstraint(
                fields=["payment"], condition=Q(decided_by=""), name="one_open_correction_per_payment"
            ),
        )

    def __str__(self) -> str:
        return f"correction {self.pk} of payment {self.payment_id} ({self.outcome or 'open'})"


class ApprovalKind(models.TextChoices):
    CANCEL_PAYMENT = "cancel_payment", _("撤销拨付")
    REISSUE_FILE = "reissue_file", _("缺陷文件重发")


class Approval(models.Model):
    """A payment action that needs a second officer (four eyes): requested by one, decided by another, and
    carried out (by the decider) only when approved. The target is a case (cancel) or a bank file (re-issue)."""

    kind = models.CharField(max_length=16, choices=ApprovalKind.choices)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, related_name="payment_approvals")
    bank_file = models.ForeignKey(BankFile, on_delete=models.PROTECT, null=True, related_name="approvals")
    reason = models.TextField()
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True)
    outcome = models.CharField(max_length=8, blank=True, help_text="approved / refused")
    decision_note = models.TextField(blank=True)
    result = models.JSONField(default=dict, help_text="what the approved action did")

    class Meta:
        ordering = ("id",)
        constraints = (
            models.CheckConstraint(
                condition=Q(decided_by="") | ~Q(decided_by=F("requested_by")), name="approval_four_eyes"
            ),
            models.CheckConstraint(
                condition=(Q(decided_by="") & Q(outcome=""))
                | (~Q(decided_by="") & Q(outcome__in=["approved", "refused"])),
                name="approval_outcome_with_decider",
            ),
            models.CheckConstraint(
                condition=(Q(kind="cancel_payment") & Q(case__isnull=False) & Q(bank_file__isnull=True))
                | (Q(kind="reissue_file") & Q(case__isnull=True) & Q(bank_file__isnull=False)),
                name="approval_target_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "case"], condition=Q(decided_by="", kind="cancel_payment"),
                name="one_open_cancel_per_case",
            ),
            models.UniqueConstraint(
                fields=["kind", "bank_file"], condition=Q(decided_by="", kind="reissue_file"),
                name="one_open_reissue_per_file",
            ),
        )  # fmt: skip

    def __str__(self) -> str:
        target = f"case {self.case_id}" if self.case_id else f"file {self.bank_file_id}"
        return f"{self.kind} of {target} ({self.outcome or 'open'})"


class ReconcileRun(models.Model):
    """One recorded reconciliation (``mianshen reconcile``, the disbursement cycle, the demo): what the overview
    shows without recomputing the identity over every case, and a history of the checks for auditors."""

    at = models.DateTimeField(auto_now_add=True)
    by = models.CharField(max_length=150)
    ok = models.BooleanField()
    cases = models.PositiveIntegerField()
    approved_fen = models.BigIntegerField()
    difference_fen = models.BigIntegerField()
    buckets = models.JSONField(help_text="bucket → {cases, fen}")
    problems = models.PositiveIntegerField(help_text="case, ledger and bank-day problems found")
    approved_waiting = models.PositiveIntegerField(default=0)
    money_mark = models.BigIntegerField(
        null=True,
        help_text="seq of the last audit event that may move money, read before the check (None: unknown)",
    )
    detail = models.JSONField(
        default=dict,
        help_text="days: [bank, day, settled, debit, returned]; case_problems, ledger_problems (the first 1,000)",
    )

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"reconciliation {self.pk} at {self.at:%Y-%m-%d %H:%M} ({'ok' if self.ok else 'FAILED'})"
