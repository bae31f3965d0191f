"""Cases: one per unit and policy year, moved only by ``cases.services.case_transition``.

Also the things that happen to a case: its history, public notices and objections, manual reviews (four eyes,
enforced by a database constraint), host-employer confirmations and applications.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from mianshen.screening.models import ScreeningRound

from .states import State


def case_number(case_id: int, policy_id: str) -> str:
    """The case number printed on notices and in remittance text (``Case.number``), from the case's id and
    policy alone: no model instance needed."""
    return f"{policy_id.upper()}-{case_id:08d}"


# the states and their allowed moves are in ``states`` (pure); their names for people here
STATE_LABELS = {
    State.IDENTIFIED: _("已识别"),
    State.AWAITING_CONFIRMATION: _("待用工单位确认"),
    State.AWAITING_APPLICATION: _("待申请"),
    State.UNDER_REVIEW: _("人工审核中"),
    State.RECHECKED: _("已复核"),
    State.PUBLICISED: _("公示中"),
    State.OBJECTED: _("有异议"),
    State.APPROVED: _("已核准"),
    State.EXCLUDED: _("不予返还"),
    State.RELEASED: _("拨付中"),
    State.PAID: _("已拨付"),
    State.AWAITING_CORRECTION: _("拨付未成功，待更正"),
    State.PAYMENT_CANCELLED: _("已撤销拨付"),
}
RECOMMENDATIONS = [("approve", _("同意")), ("reject", _("不同意"))]  # a review's
RAISED_BY = [("public", _("公众")), ("unit", _("单位"))]  # who raised an objection


# The states a person works through as a queue (few cases each), looked up by ``Case.queue``: a copy of the
# state kept by the database for these only (NULL in every other state), so that a case's own state is in no
# index. Then the bulk moves between the other states (a round approving 300,000 publicised cases, the release)
# change no indexed column, and PostgreSQL updates each row in place on its page (a HOT update: no new entry in
# any index), which the table's fillfactor leaves room for (migration 0009_premove_case_queue).
QUEUE_STATES = (
    State.AWAITING_CONFIRMATION,
    State.AWAITING_APPLICATION,
    State.UNDER_REVIEW,
    State.OBJECTED,
    State.AWAITING_CORRECTION,
    State.PAYMENT_CANCELLED,
)


def queue_of(state: State | str) -> str | None:
    """What the database keeps in ``Case.queue`` for a case in ``state`` (a moved case's instance is given it)."""
    return str(state) if State(state) in QUEUE_STATES else None


def in_states(*states: State | str, prefix: str = "") -> Q:
    """The filter for cases in one of ``states``: by the indexed ``queue`` when they are all queue states (the
    few cases of a queue), else by ``state`` (most of the cases: a scan in any order is what the database does)."""
    values = sorted({State(s).value for s in states})
    if values and all(State(v) in QUEUE_STATES for v in values):
        return Q(**{f"{prefix}queue__in": values})
    return Q(**{f"{prefix}state__in": values})


class Case(models.Model):
    policy_id = models.CharField(max_length=40)
    unit_id = models.CharField(max_length=64)
    credit_code = models.CharField(max_length=18)
    unit_name = models.CharField(max_length=500)
    district = models.CharField(max_length=6)  # indexed by ``case_by_district`` (no "_like" twin)
    state = models.CharField(max_length=24, choices=[(s.value, STATE_LABELS[s]) for s in State])
    queue = models.GeneratedField(
        expression=models.Case(
            models.When(state__in=[s.value for s in QUEUE_STATES], then=F("state")), default=None
        ),
        output_field=models.CharField(max_length=24, null=True),
        db_persist=True,
        help_text="the state when it is one of QUEUE_STATES, else NULL (kept by the database; indexed)",
    )
    amount_fen = models.BigIntegerField(default=0, help_text="the amount of the latest round that decided it")
    decision = models.CharField(max_length=24, blank=True, help_text="the latest round's decision")
    reason = models.CharField(max_length=300, blank=True, help_text="why it is where it is (codes or text)")
    key_supervision = models.BooleanField(default=False, help_text="重点监管: stays on the supervision list")
    # not indexed: nothing looks cases up by their round, and every round rewrites it (see Meta)
    last_round = models.ForeignKey(
        ScreeningRound, on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy_id", "unit_id"], name="one_case_per_unit_policy")
        ]
        # No index holds a column a bulk move changes (state, last round, amount, version): each would be written
        # again for every case a round moves, and would make every such UPDATE a non-HOT one. The queues by
        # ``queue`` (only its cases), a district officer's cases by district (a plain index, not Django's
        # ``db_index`` on a CharField, which adds a second ``varchar_pattern_ops`` index on PostgreSQL for LIKE
        # that no query makes).
        indexes = [
            models.Index(fields=["queue"], name="case_in_queue", condition=Q(queue__isnull=False)),
            models.Index(fields=["district"], name="case_by_district"),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} {self.unit_id} ({self.state})"

    @property
    def number(self) -> str:
        """The case number printed on notices and in remittance text."""
        return case_number(self.pk, self.policy_id)


class BenefitLedger(models.Model):
    """Once per unit, ever: a unit's one receipt of a once-only benefit (the retention-training subsidy), written
    in the transaction that approves its case (``receivers.record_once_only_benefits``). The unique constraint on
    (benefit, unit) is what makes it hold across rounds and policies, whatever the code above it does."""

    benefit = models.CharField(
        max_length=40, help_text="the policy family (policy.families), e.g. retention_training"
    )
    unit_id = models.CharField(max_length=64)
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="ledger_entry")
    policy_id = models.CharField(max_length=40)
    amount_fen = models.BigIntegerField(help_text="the amount approved")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["benefit", "unit_id"], name="benefit_once_per_unit")]

    def __str__(self) -> str:
        return f"{self.benefit} {self.unit_id} (case {self.case_id})"


class PersonLedger(models.Model):
    """Once per person, ever: a person paid for under a once-per-person benefit (the job-expansion subsidy), written
    in the transaction that approves the case of the unit the person counted for
    (``receivers.record_person_benefits``). The unique constraint on (benefit, person_id) is what makes "a person
    counts for one enterprise once" hold across rounds and policy ids (2023 after 2022), whatever the code above it
    does; the screening rounds read it back as the engine's ``paid_persons``. ``person_id`` is a pseudonym."""

    benefit = models.CharField(
        max_length=40, help_text="the policy family (policy.families), e.g. job_expansion"
    )
    person_id = models.CharField(
        max_length=64, help_text="pseudonym (HMAC-SHA256 hex), never an identity number"
    )
    unit_id = models.CharField(max_length=64)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="person_entries")
    policy_id = models.CharField(max_length=40)
    amount_fen = models.BigIntegerField(help_text="the amount paid for this person")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["benefit", "person_id"], name="benefit_once_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.benefit} {self.person_id[:12]}… (case {self.case_id})"


class CaseHistory(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="history")
    from_state = models.CharField(max_length=24, blank=True)
    to_state = models.CharField(max_length=24)
    actor = models.CharField(max_length=150)
    reason = models.CharField(max_length=500)
    round = models.ForeignKey(ScreeningRound, on_delete=models.PROTECT, null=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class Notice(models.Model):
    """A public notice (公示) batch: the list is frozen when it opens."""

    policy_id = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    opened_by = models.CharField(max_length=150)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="24:00 Beijing time of the last day")
    closed_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-id"]


class NoticeEntry(models.Model):
    """One line of a frozen notice: what the public saw."""

    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="entries")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notice_entries")
    unit_name = models.CharField(max_length=500)
    masked_credit_code = models.CharField(max_length=18)
    amount_fen = models.BigIntegerField()
    district = models.CharField(max_length=6)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notice", "case"], name="case_once_per_notice")]


class ObjectionOutcome(models.TextChoices):
    UPHELD = "upheld", _("成立")
    REJECTED = "rejected", _("不成立")
    WITHDRAWN = "withdrawn", _("撤回")


class Objection(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="objections")
    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="objections")
    raised_by = models.CharField(max_length=20, choices=RAISED_BY)
    contact = models.CharField(max_length=200)
    grounds = models.TextField()
    recorded_by = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=12, choices=ObjectionOutcome.choices, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["case", "outcome"], name="objection_open")]


class Review(models.Model):
    """A manual review with four eyes: prepared by one officer, decided by another (database constraint)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reviews")
    kind = models.CharField(max_length=30, help_text="manual_review / application / confirmation")
    recommendation = models.CharField(max_length=10, choices=RECOMMENDATIONS)
    prepared_by = models.CharField(max_length=150)
    prepared_at = models.DateTimeField(auto_now_add=True)
    notes = models.TextField()
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True)
    outcome = models.CharField(max_length=10, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by="") | ~Q(decided_by=F("prepared_by")), name="review_four_eyes"
            ),
            models.UniqueConstraint(
                fields=["case"], condition=Q(decided_by=""), name="one_open_review_per_case"
            ),
        ]


class HostConfirmation(models.Model):
    """Host employers' confirmation for a labour-dispatch unit, recorded in the back office."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="confirmations")
    confirmed_on = models.DateField()
    recorded_by = models.CharField(max_length=150)
    evidence = models.TextField()
    recorded_at = models.DateTimeField(auto_now_add=True)


class HostAnswerKind(models.TextChoices):
    CONFIRM = "confirm", _("确认")
    DISPUTE = "dispute", _("有异议")


class HostAnswer(models.Model):
    """A host employer's answer, given through the portal, on the workers a labour-dispatch unit declares it
    placed there (``registry.DispatchHost`` in the snapshot of the round that last decided the case): once per
    case and host credit code. ``reference`` is the public one (``A-`` + 10 Crockford base32 characters)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="host_answers")
    host_credit_code = models.CharField(max_length=18)
    host_unit_id = models.CharField(max_length=64, help_text="the signed-in unit that answered")
    declared_workers = models.BigIntegerField(help_text="the workers the dispatch unit declared")
    answer = models.CharField(max_length=10, choices=HostAnswerKind.choices)
    seen_workers = models.BigIntegerField(null=True, help_text="a dispute: the workers the host sees")
    note = models.TextField(blank=True)
    reference = models.CharField(max_length=12)
    answered_by = models.CharField(max_length=150)
    answered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "host_credit_code"], name="one_answer_per_case_host"),
            models.UniqueConstraint(fields=["reference"], name="host_answer_reference_unique"),
        ]
        indexes = [models.Index(fields=["host_credit_code"], name="host_answer_host")]


class ApplicationKind(models.TextChoices):
    TYPE_OUTSIDE_SCOPE = "type_outside_scope", _("类型不在自动范围")
    RELATED_TRANSFERS = "related_transfers", _("关联单位间转移")
    TYPE_CHANGE_MISSED = "type_change_missed", _("单位类型变更未识别")
    COMMITMENT_FULFILLED = "commitment_fulfilled", _("承诺已履行")
    BELIEVE_QUALIFY = "believe_qualify", _("认为符合条件未在名单")
    WRONG_BANK_DETAILS = "wrong_bank_details", _("银行信息有误致拨付失败")
    KEY_SUPERVISION = "key_supervision", _("重点监管单位申请")


class ApplicationOutcome(models.TextChoices):
    GRANTED = "granted", _("准予")
    REFUSED = "refused", _("不予")


class Application(models.Model):
    """The active-application channel (2021-08-01): the cases the automatic path misses. ``reference`` is the
    public one (``A-`` + 10 Crockford base32 characters, contracts §4); ``outcome`` is empty while open, then
    granted or refused (by the four-eyes review it put the case under, or — wrong bank details — by the re-issue
    to the account on file in a later drop)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="applications")
    reference = models.CharField(max_length=12, blank=True, default="")
    kind = models.CharField(max_length=30, choices=ApplicationKind.choices)
    statement = models.TextField()
    evidence = models.JSONField(default=dict)
    submitted_by = models.CharField(max_length=150)
    submitted_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=10, blank=True, choices=ApplicationOutcome.choices)
    review = models.ForeignKey(Review, on_delete=models.PROTECT, null=True, related_name="applications")
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reference"], condition=~Q(reference=""), name="application_reference_unique"
            ),
        ]


class ApplicationDocument(models.Model):
    """A document uploaded with an application: the bytes are stored outside the web root
    (``settings.APPLICATION_UPLOAD_DIR``, default ``var/uploads``) under a random name; only what is needed to
    serve them with a check is kept here. The content type is the one its first bytes show (PDF, JPEG, PNG)."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="documents")
    name = models.CharField(
        max_length=120, help_text="the file name as given, cleaned (shown, never used as a path)"
    )
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    stored_as = models.CharField(
        max_length=80, unique=True, help_text="the random file name under the upload dir"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
