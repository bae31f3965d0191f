"""The back-office dashboard's figures, kept between requests (``reports.dashboard``)."""

from __future__ import annotations

from django.db import models


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
