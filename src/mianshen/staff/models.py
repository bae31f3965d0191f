"""Staff models: the staff profile (``roles.Staff``, imported here so Django registers it) and the sign-in
counters (``SignInCounter``: failed sign-ins and the lockout, read and written by ``signin``). Both tables keep
the names they had in the back office (``backoffice_staff``, ``backoffice_signincounter``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .roles import Staff

__all__ = ["CounterScope", "SignInCounter", "Staff"]


class CounterScope(models.TextChoices):
    ACCOUNT = "account", _("账户")
    ADDRESS = "address", _("地址")


class SignInCounter(models.Model):
    """Failed sign-ins of one account name (as typed, normalised: known or not, so a lockout says nothing about
    whether a user exists) or one client address, in the current window. An account row with ``locked_at``
    set is locked until an administrator lifts it, whatever the window."""

    scope = models.CharField(max_length=10, choices=CounterScope.choices)
    key = models.CharField(max_length=150, help_text="the account name or the client address")
    failures = models.PositiveIntegerField(default=0, help_text="failed attempts in the current window")
    window_start = models.DateTimeField(help_text="when the current window began (its first failure)")
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True, help_text="accounts: locked since (until lifted)")

    class Meta:
        db_table = "backoffice_signincounter"  # created by backoffice.0003, before the model moved here
        verbose_name = _("登录失败计数")
        verbose_name_plural = _("登录失败计数")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="signin_counter_scope_key"),
            models.CheckConstraint(
                condition=models.Q(scope=CounterScope.ACCOUNT) | models.Q(locked_at__isnull=True),
                name="signin_counter_only_accounts_lock",
            ),
        ]
        indexes = [models.Index(fields=["scope", "locked_at"], name="signin_counter_locked")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}: {self.failures}{' locked' if self.locked_at else ''}"
