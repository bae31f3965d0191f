"""Kept documents: a PDF rendered once on request (a letter to a unit, a district's publicity list), stored with
its SHA-256 and served unchanged afterwards (docs/documents.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mianshen.cases.models import Case, Notice


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
