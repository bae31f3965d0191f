"""Screening rounds (比对): one run of a policy over a frozen snapshot, with every unit's decision and evidence.

A round records what is needed to replay it (design invariant 1): the snapshot's content hash, the policy id,
the parameter-set hash and the code version; per unit, the decision, the failed / unknown / route codes, the
amount and every evidence value behind the conditions. Explanations are rendered from those stored values.

A round is written whole or not at all: its decisions and its ``completed`` status commit in one
transaction; a worker that dies mid-round leaves a ``running`` row with no decisions, which the next worker
marks ``failed``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mianshen.registry.models import Snapshot


class Checkpoint(models.TextChoices):
    INITIAL = "initial", _("首轮比对")
    BEFORE_PUBLICITY = "before_publicity", _("公示前比对（检查点一）")
    BEFORE_PAYMENT = "before_payment", _("拨付前比对（检查点三）")
    AD_HOC = "ad_hoc", _("临时比对")


class RoundStatus(models.TextChoices):
    RUNNING = "running", _("运行中")
    COMPLETED = "completed", _("已完成")
    FAILED = "failed", _("失败")


# a unit's decision in a round (``policy.codes``), for people
DECISION_LABELS = {
    "eligible": _("符合条件"),
    "ineligible": _("不符合条件"),
    "manual_review": _("转人工审核"),
    "pending_confirmation": _("待实际用工单位确认"),
}


class ScreeningRound(models.Model):
    policy_id = models.CharField(max_length=40)
    number = models.PositiveIntegerField(help_text="1, 2, 3 … per policy")
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="rounds")
    snapshot_hash = models.CharField(max_length=64)
    as_of = models.DateField()
    checkpoint = models.CharField(max_length=20, choices=Checkpoint.choices, default=Checkpoint.AD_HOC)
    status = models.CharField(max_length=12, choices=RoundStatus.choices, default=RoundStatus.RUNNING)
    param_hash = models.CharField(max_length=64, blank=True)
    code_version = models.CharField(max_length=80, blank=True)
    started_by = models.CharField(max_length=150)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, help_text="{decision: units}, {condition: failing units} …")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["policy_id", "number"], name="round_number_unique"),
            # Two rounds started together: exactly one wins, the other gets a clean refusal.
            models.UniqueConstraint(
                fields=["policy_id"], condition=Q(status="running"), name="one_running_round_per_policy"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} round {self.number} ({self.status})"


class RoundDecision(models.Model):
    """One unit's outcome in one round (the columns of decisions.csv plus the evidence)."""

    round = models.ForeignKey(ScreeningRound, on_delete=models.PROTECT, related_name="decisions")
    unit_id = models.CharField(max_length=64)
    credit_code = models.CharField(max_length=18)
    decision = models.CharField(max_length=24)
    failed = models.CharField(max_length=200, blank=True)
    unknown = models.CharField(max_length=200, blank=True)
    routes = models.CharField(max_length=200, blank=True)
    amount_fen = models.BigIntegerField()
    evidence = models.JSONField(help_text="every value behind the conditions, as the engine produced it")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "unit_id"], name="decision_unique_in_round")]
        indexes = [models.Index(fields=["round", "decision"], name="decision_by_kind")]
