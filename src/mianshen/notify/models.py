"""The outbox: one row per message, written in the transaction of the event that causes it (contracts §4).

A message exists once per (recipient, event, channel): ``event`` names the cause (``notice12:case345``,
``case345:approved:v7``, ``E2E…:failed``, an otp request), so a cause replayed or re-run queues nothing twice.
Its state moves only through ``services.message_transition`` (``states.TRANSITIONS``; every move audited).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mianshen.cases.models import Case

from .callback_states import CALLBACK_STATE_LABELS, CallbackState
from .kinds import CHANNEL_LABELS, KIND_LABELS, Channel, Kind
from .states import STATE_LABELS, MessageState


class Message(models.Model):
    kind = models.CharField(max_length=24, choices=[(k.value, KIND_LABELS[k.value]) for k in Kind])
    channel = models.CharField(max_length=8, choices=[(c.value, CHANNEL_LABELS[c.value]) for c in Channel])
    to = models.CharField(max_length=254, help_text="phone, e-mail address, or unit id (inbox)")
    event = models.CharField(max_length=120, help_text="the cause: with to and channel, the message's key")
    unit_id = models.CharField(max_length=64, null=True)
    # no database constraint (like payment_id and round_id): a notice's 900,000 rows are not checked one by one
    case = models.ForeignKey(
        Case, on_delete=models.DO_NOTHING, null=True, related_name="+", db_index=False, db_constraint=False
    )
    payment_id = models.BigIntegerField(
        null=True, help_text="payments.Payment (no constraint: notify reads it)"
    )
    round_id = models.BigIntegerField(null=True, help_text="screening.ScreeningRound")
    language = models.CharField(max_length=8, default="zh-hans", help_text="the language sent")
    params = models.JSONField(default=dict, help_text="the template's parameters (SMS template params)")
    body_zh = models.TextField()
    body_en = models.TextField()
    state = models.CharField(
        max_length=10,
        choices=[(s.value, STATE_LABELS[s.value]) for s in MessageState],
        default=MessageState.QUEUED.value,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="when it is due (quiet hours, backoff)")
    last_error = models.CharField(max_length=300, blank=True)
    provider_id = models.CharField(max_length=80, blank=True, help_text="the provider's message id")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True)
    closed_at = models.DateTimeField(
        null=True, help_text="final: delivered, failed, suppressed, or no receipt"
    )

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(fields=["to", "event", "channel"], name="message_once"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="message_due"),
            # one-time codes to a phone (the sending limits); receipts by the provider's id: partial indexes,
            # so that queueing a notice's 900,000 messages maintains neither
            models.Index(fields=["to", "created_at"], name="message_otp", condition=models.Q(kind="otp")),
            models.Index(
                fields=["provider_id"], name="message_provider", condition=~models.Q(provider_id="")
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} {self.kind}/{self.channel} ({self.state})"

    @property
    def body(self) -> str:
        """The text in the message's language."""
        return self.body_en if self.language == "en" else self.body_zh


class EnquiryChannel(models.TextChoices):
    PHONE = "phone", _("电话咨询")
    LOOKUP = "lookup", _("网上查询登录")
    CALLBACK = "callback", _("呼我必回")


class EnquiryOutcome(models.TextChoices):
    ANSWERED = "answered", _("已答复")
    FORWARDED = "forwarded", _("已转办")
    SIGNED_IN = "signed_in", _("已登录查询")


class Enquiry(models.Model):
    """One enquiry from a unit or the public, by channel (issue 12 item 5), for the outcome statistics: a phone
    consultation staff recorded, a successful lookup sign-in in the portal (one per unit and day), a call-back.
    ``key`` makes a sign-in count once a day (``lookup:<unit>:<date>``); a phone consultation's key is unique."""

    channel = models.CharField(max_length=10, choices=EnquiryChannel.choices)
    key = models.CharField(max_length=120, unique=True)
    topic = models.CharField(max_length=200, blank=True)
    unit_id = models.CharField(max_length=64, null=True)
    district = models.CharField(max_length=6, blank=True)
    outcome = models.CharField(max_length=10, choices=EnquiryOutcome.choices)
    recorded_by = models.CharField(max_length=150)
    day = models.DateField(help_text="the Beijing date it came in")
    at = models.DateTimeField()

    class Meta:
        ordering = ("id",)
        indexes = [models.Index(fields=["day", "channel"], name="enquiry_day_channel")]

    def __str__(self) -> str:
        return f"enquiry {self.pk} ({self.channel})"


class MakeUpWorkday(models.Model):
    """A make-up working day (调休): a Saturday or Sunday worked in exchange for a holiday. With the holidays of
    ``payments.Holiday`` it is the calendar of working time (``workingtime``, call-back deadlines)."""

    day = models.DateField(primary_key=True)
    name = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"{self.day} {self.name}".strip()


class CallbackRequest(models.Model):
    """A call-back request (呼我必回, contracts §4): who asked, what, where it is routed, the deadline and its
    steps (reminders at 50 % and 80 %, escalation at 100 % and 200 % of the working time), the outcome and the
    rating. Its state moves only through ``callbacks.callback_transition`` (``callback_states``)."""

    reference = models.CharField(max_length=12, unique=True, help_text="C- + 10 Crockford base32")
    name = models.CharField(max_length=100)
    phone = models.CharField(max_length=20, help_text="the requester's phone (retention: docs/portal.md)")
    topic = models.CharField(max_length=200)
    question = models.TextField()
    credit_code = models.CharField(max_length=18, blank=True)
    unit_id = models.CharField(max_length=64, null=True)
    district = models.CharField(max_length=6, blank=True, help_text="routed to; empty: the city level")
    language = models.CharField(max_length=8, default="zh-hans")
    state = models.CharField(
        max_length=12, choices=[(s.value, CALLBACK_STATE_LABELS[s.value]) for s in CallbackState]
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(help_text="the clock's start: the request, or its reopening")
    due_at = models.DateTimeField(help_text="the deadline: the working time after started_at")
    step = models.PositiveSmallIntegerField(
        default=0, help_text="deadline steps done: 50 %, 80 %, 100 %, 200 %"
    )
    step_at = models.DateTimeField(null=True, help_text="when the next step is due (null: none)")
    escalated_at = models.DateTimeField(null=True, help_text="first escalated to the city level")
    called_at = models.DateTimeField(null=True)
    called_by = models.CharField(max_length=150, blank=True)
    outcome = models.CharField(max_length=12, blank=True, help_text="answered or unreachable (the last call)")
    outcome_at = models.DateTimeField(null=True)
    note = models.TextField(blank=True)
    rating = models.PositiveSmallIntegerField(null=True)
    rated_at = models.DateTimeField(null=True)
    reopened = models.PositiveSmallIntegerField(default=0)
    closed_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(fields=["state", "step_at"], name="callback_due"),
            models.Index(fields=["district", "state"], name="callback_district"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="callback_rating_1_5",
            )
        ]

    def __str__(self) -> str:
        return f"call-back {self.reference} ({self.state})"
