"""The reports app's kept things: the back-office dashboard's figures between requests (``reports.dashboard``)
and documents — a PDF rendered once on request (a letter to a unit, a district's publicity list), stored with its
SHA-256 and served unchanged afterwards (docs/documents.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mianshen.cases.models import Case, Notice


class DashboardFigures(models.Model):
    """The dashboard's figures of one policy for the whole city (``district`` empty) or one district, as computed
    when the audit trail's last business event was ``fingerprint``: valid while no case, round, notice, payment
    or enquiry has changed since (every such change writes an audit event)."""

    policy_id = models.CharField(max_length=40)
    district = models.CharField(max_length=6, blank=True)
    fingerprint = models.CharField(max_length=40)
    payload = models.JSONField()
    computed_at = models.DateTimeField()
    seconds = models.FloatField(help_text="how long computing them took (a gauge for operators)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy_id", "district"], name="dashboard_figures_one_per_scope")
        ]


class DocumentKind(models.TextChoices):
    LETTER_LISTED = "letter_listed", _("告知书：列入公示名单")
    LETTER_PAID = "letter_paid", _("告知书：已拨付")
    LETTER_FAILED = "letter_failed", _("告知书：拨付未成功")
    PUBLICITY_LIST = "publicity_list", _("公示名单（张贴用）")


class Document(models.Model):
    """One rendered document. ``key`` names the fact it states (a notice entry, a payment attempt, a notice
    and district) and the language, so a document is made once and a later request gets the same bytes."""

    key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, related_name="+")
    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, null=True, related_name="+")
    district = models.CharField(max_length=6, blank=True)
    lang = models.CharField(max_length=8)
    filename = models.CharField(max_length=120)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150)

    class Meta:
        indexes = [models.Index(fields=["case", "kind"], name="document_by_case")]
