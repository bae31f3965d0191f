"""Background jobs: a table the worker (`mianshen worker`) polls. Jobs survive restarts and are idempotent."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    DONE = "done", _("完成")
    FAILED = "failed", _("失败")


class Job(models.Model):
    kind = models.CharField(max_length=60)
    params = models.JSONField(default=dict)
    key = models.CharField(max_length=120, unique=True, help_text="business key: the same job is queued once")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    worker = models.CharField(max_length=120, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    result = models.JSONField(default=dict)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "id"], name="job_queue")]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} ({self.status})"
