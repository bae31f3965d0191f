"""Imported data drops: immutable, content-hashed snapshots of the agency's data (参保单位登记).

A snapshot holds the accepted rows of every table of a drop exactly as validated (normalised values), the
rejected rows with their reasons, and every problem the validation reported. Rows are written once, by
``registry.services.snapshot_import``, and never changed: no code path updates or deletes them, so a
screening round can always be replayed on the data it saw (the content hash shows a change; unlike the audit
trail, no database trigger refuses UPDATE or DELETE here yet).

Fact tables carry ``unit_id`` as text rather than a foreign key: the drop's own key is what the policy, the
reports and the agency speak, and bulk COPY stays a straight stream.
"""

from __future__ import annotations

from django.db import models

from mianshen.datadrop.schema import TABLES

# Column sizes come from the data-drop schema (``Column.max_length``), the one place that says how long a value
# may be: the validation rejects a longer one (TOO_LONG), so whatever it accepts fits here.
UNITS, HEADCOUNT, SEPARATIONS = TABLES["units"], TABLES["headcount"], TABLES["separations"]
CONTRIBUTIONS, BANK_ACCOUNTS, CREDIT_FLAGS = (
    TABLES["contributions"],
    TABLES["bank_accounts"],
    TABLES["credit_flags"],
)
CONFIRMATIONS = TABLES["dispatch_confirmations"]
DISPATCH_HOSTS = TABLES["dispatch_hosts"]
RISK_AREAS, PERSON_MONTHS = TABLES["risk_areas"], TABLES["person_months"]
HIRES, REGISTER, RECIPIENTS = (
    TABLES["hires"],
    TABLES["graduate_register"],
    TABLES["hiring_subsidy_recipients"],
)


class Snapshot(models.Model):
    content_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 over the drop's files")
    source = models.CharField(max_length=500, help_text="where the drop was read from")
    extracted_on = models.DateField(help_text="the extraction date of the drop (default as-of of rounds)")
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.CharField(max_length=150, blank=True)
    files = models.JSONField(default=list, help_text="[{table, filename, format, sha256, rows}]")
    rows_accepted = models.JSONField(default=dict, help_text="{table: accepted rows}")
    rows_rejected = models.JSONField(default=dict, help_text="{table: rejected rows}")
    errors = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"snapshot {self.pk} {self.content_hash[:12]} ({self.extracted_on})"


class _SnapshotRow(models.Model):
    # No database foreign-key constraint and no single-column index: rows are only ever written by
    # ``snapshot_import`` in the transaction that creates their snapshot, and snapshots are never deleted
    # (PROTECT). A constraint would cost one check per row at COMMIT (26M for a 500k-unit drop, half the
    # import time); every table has an index that starts with ``snapshot``.
    snapshot = models.ForeignKey(
        Snapshot, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    line = models.PositiveIntegerField(help_text="line of the record in its source file")

    class Meta:
        abstract = True


class Unit(_SnapshotRow):
    unit_id = models.CharField(max_length=UNITS.max_length("unit_id"))
    credit_code = models.CharField(max_length=UNITS.max_length("credit_code"))
    name = models.CharField(max_length=UNITS.max_length("name"))
    unit_type = models.CharField(max_length=UNITS.max_length("unit_type"))
    industry = models.CharField(max_length=UNITS.max_length("industry"))
    district = models.CharField(max_length=UNITS.max_length("district"))
    dispatch = models.BooleanField()
    size_class_declared = models.CharField(max_length=UNITS.max_length("size_class_declared"), null=True)
    employees = models.BigIntegerField(null=True)
    revenue_yuan = models.BigIntegerField(null=True)
    assets_yuan = models.BigIntegerField(null=True)
    deregistered_on = models.DateField(null=True)
    phone = models.CharField(max_length=UNITS.max_length("phone"), null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "unit_id"], name="unit_unique_in_snapshot")
        ]
        indexes = [models.Index(fields=["snapshot", "credit_code"], name="unit_credit_code")]


class Headcount(_SnapshotRow):
    unit_id = models.CharField(max_length=HEADCOUNT.max_length("unit_id"))
    month = models.CharField(max_length=HEADCOUNT.max_length("month"))
    insured = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["snapshot", "unit_id"], name="headcount_unit")]


class Separation(_SnapshotRow):
    unit_id = models.CharField(max_length=SEPARATIONS.max_length("unit_id"))
    month = models.CharField(max_length=SEPARATIONS.max_length("month"))
    reason = models.CharField(max_length=SEPARATIONS.max_length("reason"))
    persons = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["snapshot", "unit_id"], name="separation_unit")]


class Contribution(_SnapshotRow):
    unit_id = models.CharField(max_length=CONTRIBUTIONS.max_length("unit_id"))
    period = models.CharField(max_length=CONTRIBUTIONS.max_length("period"))
    due_fen = models.BigIntegerField()
    paid_fen = models.BigIntegerField()
    paid_on = models.DateField(null=True)

    class Meta:
        indexes = [models.Index(fields=["snapshot", "unit_id"], name="contribution_unit")]


class BankAccount(_SnapshotRow):
    unit_id = models.CharField(max_length=BANK_ACCOUNTS.max_length("unit_id"))
    bank_code = models.CharField(max_length=BANK_ACCOUNTS.max_length("bank_code"))
    branch_code = models.CharField(max_length=BANK_ACCOUNTS.max_length("branch_code"))
    account_no = models.CharField(max_length=BANK_ACCOUNTS.max_length("account_no"))
    account_name = models.CharField(max_length=BANK_ACCOUNTS.max_length("account_name"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "unit_id"], name="bank_account_unique_in_snapshot")
        ]


class CreditFlag(_SnapshotRow):
    credit_code = models.CharField(max_length=CREDIT_FLAGS.max_length("credit_code"))
    flag = models.CharField(max_length=CREDIT_FLAGS.max_length("flag"))
    listed_on = models.DateField()
    removed_on = models.DateField(null=True)
    source = models.CharField(max_length=CREDIT_FLAGS.max_length("source"))

    class Meta:
        indexes = [models.Index(fields=["snapshot", "credit_code"], name="credit_flag_code")]


class DispatchConfirmation(_SnapshotRow):
    unit_id = models.CharField(max_length=CONFIRMATIONS.max_length("unit_id"))
    confirmed_on = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["snapshot", "unit_id"], name="confirmation_unit")]


class DispatchHost(_SnapshotRow):
    """A host employer (实际用工单位) of a labour-dispatch unit, by its credit code (a unit of the city or not),
    and the workers the dispatch unit declares it placed there."""

    unit_id = models.CharField(max_length=DISPATCH_HOSTS.max_length("unit_id"))
    host_credit_code = models.CharField(max_length=DISPATCH_HOSTS.max_length("host_credit_code"))
    workers = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "unit_id", "host_credit_code"], name="dispatch_host_unique_in_snapshot"
            )
        ]
        indexes = [models.Index(fields=["snapshot", "host_credit_code"], name="dispatch_host_code")]


class RiskArea(_SnapshotRow):
    """A medium- or high-risk area of the retention-training family (the city is the pooling region)."""

    district = models.CharField(max_length=RISK_AREAS.max_length("district"))
    level = models.CharField(max_length=RISK_AREAS.max_length("level"))
    from_on = models.DateField()
    to_on = models.DateField(null=True)

    class Meta:
        indexes = [models.Index(fields=["snapshot", "from_on"], name="risk_area_from")]


class PersonMonth(_SnapshotRow):
    """A pseudonymous person insured at a unit in a month (never an identity number)."""

    person_id = models.CharField(max_length=PERSON_MONTHS.max_length("person_id"))
    unit_id = models.CharField(max_length=PERSON_MONTHS.max_length("unit_id"))
    month = models.CharField(max_length=PERSON_MONTHS.max_length("month"))

    class Meta:
        indexes = [models.Index(fields=["snapshot", "unit_id"], name="person_month_unit")]


class Hire(_SnapshotRow):
    """A pseudonymous person hired by a unit (the job-expansion family; never an identity number)."""

    unit_id = models.CharField(max_length=HIRES.max_length("unit_id"))
    person_id = models.CharField(max_length=HIRES.max_length("person_id"))
    hired_on = models.DateField()
    contract_start = models.DateField(null=True)
    contribution_months = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["snapshot", "unit_id"], name="hire_unit")]


class RegisterEntry(_SnapshotRow):
    """A graduate or registered-unemployed youth of the outside register, by pseudonym."""

    person_id = models.CharField(max_length=REGISTER.max_length("person_id"))
    category = models.CharField(max_length=REGISTER.max_length("category"))
    graduation_year = models.BigIntegerField(null=True)
    birth_year = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["snapshot", "person_id"], name="register_person")]


class HiringSubsidyRecipient(_SnapshotRow):
    """A person for whom the one-off hiring subsidy was granted (the job-expansion subsidy is not paid for them)."""

    person_id = models.CharField(max_length=RECIPIENTS.max_length("person_id"))
    granted_on = models.DateField(null=True)

    class Meta:
        indexes = [models.Index(fields=["snapshot", "person_id"], name="hiring_recipient_person")]


class RejectedRow(_SnapshotRow):
    """A row the validation rejected, kept with its values as read and its reasons (nothing is lost)."""

    file = models.CharField(max_length=100)
    codes = models.CharField(max_length=500, help_text="error codes, sorted, joined by |")
    values = models.JSONField(help_text="the row's values as read (normalised text)")

    class Meta:
        indexes = [models.Index(fields=["snapshot", "file", "line"], name="rejected_row_place")]


class Problem(_SnapshotRow):
    """One problem the validation reported (errors and warnings), as in `validate --report`."""

    file = models.CharField(max_length=100)
    column = models.CharField(max_length=60, blank=True)
    code = models.CharField(max_length=40)
    severity = models.CharField(max_length=10)
    message = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["snapshot", "file", "line"], name="problem_place")]
