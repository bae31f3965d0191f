"""The public portal's own records: the receipt of an objection raised on the portal (its public reference and
the phone its status code goes to), one-time codes for the objection status page, and per-address counters.

The objection itself is a ``cases.Objection`` in the existing queue (recorded by ``cases.services``)."""

from __future__ import annotations

from django.db import models

from mianshen.cases.models import Notice, NoticeEntry, Objection


class ObjectionReceipt(models.Model):
    """An objection raised on the portal: its reference (``O-`` + 10 Crockford base32 characters, contracts §4)
    and the phone the objector gave (kept for the retention period on /privacy/, never shown in full)."""

    reference = models.CharField(max_length=12, unique=True)
    objection = models.OneToOneField(Objection, on_delete=models.PROTECT, related_name="portal_receipt")
    phone = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)


class StatusCode(models.Model):
    """A one-time code for /objections/status/: only its hash is kept; 10 minutes, used once, 5 tries.

    A row is written for every request, whether or not the reference exists (the same writes either way);
    ``sent`` says whether a message went out."""

    reference = models.CharField(max_length=12)
    phone = models.CharField(max_length=20, blank=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True)
    sent = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["reference", "-id"], name="portal_statuscode_ref"),
            models.Index(fields=["phone", "created_at"], name="portal_statuscode_phone"),
        ]


class AddressCounter(models.Model):
    """Requests of one client address for one purpose in the current window (an atomic database counter: an
    ``UPDATE … SET count = count + 1`` under the row's lock, never a cache that may lose it)."""

    purpose = models.CharField(max_length=20)
    address = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purpose", "address"], name="portal_counter_purpose_address")
        ]


class LookupRequest(models.Model):
    """A request for a lookup code (/lookup/): one row for every request, whether or not the credit code exists
    or has a phone on file (the same writes either way). The codes themselves are made by the job this request
    queues (``LookupCode``); the tries (5) and the lifetime (10 minutes) are counted here, per request, so that
    the answers to a typed code do not tell a known credit code from an unknown one."""

    credit_code = models.CharField(max_length=18)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["credit_code", "-id"], name="portal_lookupreq_code")]


class LookupCode(models.Model):
    """The code sent to one distinct phone on file for a request (only its hash), and the units whose phone it is:
    a session opened with this code sees these units only."""

    request = models.ForeignKey(LookupRequest, on_delete=models.CASCADE, related_name="codes")
    phone = models.CharField(max_length=20)
    unit_ids = models.JSONField(default=list)
    code_hash = models.CharField(max_length=64)
    sent = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request", "phone"], name="portal_lookupcode_request_phone")
        ]


class PublicityGram(models.Model):
    """The public list's index of short name fragments (PostgreSQL): one row for every character and every pair
    of adjacent characters of each line's unit name, so a search of one or two characters — what people type for a
    Chinese name — is an index-only range scan in list order instead of a scan of every line (a trigram index has
    nothing to look up for fewer than three characters). Written by ``publicity_index.index_notice`` when a notice
    opens (in its transaction); a notice's rows are deleted once it is no longer open. SQLite keeps it empty and
    searches by ``LIKE``."""

    pk = models.CompositePrimaryKey("gram", "notice", "entry")
    gram = models.CharField(max_length=2)
    # no index of its own: nothing looks a line's fragments up (and one more index to write per row, in the
    # rows' gram order: at random places)
    entry = models.ForeignKey(
        NoticeEntry, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    # no index of its own either: on PostgreSQL the table is partitioned by notice (one partition a notice, see
    # ``publicity_index``), so a notice's rows are found by its partition
    notice = models.ForeignKey(
        Notice, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    district = models.CharField(max_length=6)

    class Meta:
        indexes = [
            models.Index(fields=["gram", "notice", "district", "entry"], name="portal_gram_district"),
        ]
