"""The reconciliation page shows the latest kept check (``ReconcileRun``) instead of recomputing the identity on
each request (issue 13: every page ≤ 1 s at 441,300 payments): the kept report equals a fresh ``reconcile_run``
(also when it finds problems), it is never called current once an audit event may have moved money since, and
"recompute" queues one job per money mark that the worker runs. The world is ``payworld.PayWorld``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.services import audit_record
from mianshen.core.jobs import job_run_next
from mianshen.core.models import Job, JobStatus
from mianshen.payments.models import Booking, BookingKind, Instruction, ReconcileRun
from mianshen.payments.services import reconcile as rec
from mianshen.payments.services.recovery import correction_decide

from .payworld import BOOKED, PayWorld

pytestmark = pytest.mark.django_db
Login = Callable[[str | None], Client]
URL = "backoffice:reconciliation"
RECOMPUTE = "backoffice:reconciliation_recompute"


def _page(client: Client) -> str:
    response = client.get(reverse(URL))
    assert response.status_code == 200
    return response.content.decode()


def test_the_kept_check_is_the_fresh_check(pay: PayWorld) -> None:
    latest = rec.reconcile_latest()
    assert latest is not None and latest.current and not latest.events_since
    assert latest.report == rec.reconcile_run()
    assert latest.report.ok and latest.run.ok


def test_the_kept_check_is_the_fresh_check_with_problems(pay: PayWorld) -> None:
    """A case placed wrong, a booking a fen short and a return without its debit: every list and every bank day
    comes back from the record exactly as ``reconcile_run`` finds them."""
    Instruction.objects.filter(case=pay.failed).update(amount_fen=F("amount_fen") + 100)
    paid = Instruction.objects.get(case=pay.paid, status="settled")
    Booking.objects.filter(end_to_end_id=paid.end_to_end_id, kind=BookingKind.DEBIT).update(
        amount_fen=F("amount_fen") - 1
    )
    inflight = Instruction.objects.get(case=pay.inflight)
    Booking.objects.create(instruction=inflight, end_to_end_id=inflight.end_to_end_id, bank_id=inflight.bank_id,
                           kind=BookingKind.RETURN, amount_fen=inflight.amount_fen, booking_date=BOOKED,
                           inbound=pay.quarantined)  # fmt: skip
    fresh = rec.reconcile_run()
    assert fresh.case_problems and fresh.day_differences and fresh.ledger_problems and not fresh.ok
    report, run = rec.reconcile_record(actor="system:test")
    assert report == fresh
    assert rec.stored_report(ReconcileRun.objects.get(pk=run.pk)) == fresh  # through the JSON column
    assert run.problems == len(fresh.case_problems) + len(fresh.ledger_problems) + len(fresh.day_differences)
    assert not run.ok and run.difference_fen == fresh.difference_fen == -100


def test_only_the_first_problems_are_kept(
    pay: PayWorld, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rec, "PROBLEMS_KEPT", 1)
    Instruction.objects.filter(case__in=[pay.failed, pay.corrected]).update(amount_fen=F("amount_fen") + 1)
    fresh = rec.reconcile_run()
    assert len(fresh.case_problems) >= 2
    _report, run = rec.reconcile_record(actor="system:test")
    kept = rec.stored_report(ReconcileRun.objects.get(pk=run.pk))
    assert kept.case_problems == fresh.case_problems[:1] and run.problems == len(fresh.case_problems)
    page = _page(login("city"))
    assert (
        'id="problems-cut"' in page and fresh.case_problems[0] in page and fresh.case_problems[1] not in page
    )


def test_never_current_once_money_moved(pay: PayWorld, login: Login) -> None:
    client = login("city")
    page = _page(client)
    assert 'data-current="yes"' in page and 'class="verdict ok"' in page
    assert 'id="latest-stale"' not in client.get(reverse("backoffice:payments")).content.decode()
    # an event that moves no money (a staff read, 7xx) leaves the check current
    audit_record(actor="city", action=Action.STAFF_VIEWED_BANK_DATA, obj_type="case", obj_id=pay.paid.pk)
    assert 'data-current="yes"' in _page(client)
    # a correction approved: a new instruction re-issues the payment (6xx and 5xx events)
    correction_decide(correction_id=pay.correction.pk, actor="rev", approve=True, note="核对无误")
    latest = rec.reconcile_latest()
    assert latest is not None and not latest.current and latest.events_since
    page = _page(client)
    assert 'data-current="no"' in page and 'class="verdict ok stale"' in page and "（当时）" in page
    assert 'id="latest-stale"' in client.get(reverse("backoffice:payments")).content.decode()
    # checked again: current, and still equal to a fresh check
    rec.reconcile_record(actor="system:test")
    latest = rec.reconcile_latest()
    assert latest is not None and latest.current and latest.report == rec.reconcile_run()
    assert 'data-current="yes"' in _page(client)


def test_a_record_without_a_mark_is_not_current(pay: PayWorld, login: Login) -> None:
    ReconcileRun.objects.update(money_mark=None)  # a check recorded before the mark was kept
    latest = rec.reconcile_latest()
    assert latest is not None and not latest.current and not latest.events_since
    assert 'data-current="no"' in _page(login("aud"))


def test_recompute_queues_one_job_per_money_mark(pay: PayWorld, login: Login) -> None:
    client = login("rev")
    requested = AuditEvent.objects.filter(action=Action.RECONCILE_REQUESTED)
    assert client.post(reverse(RECOMPUTE)).status_code == 302
    assert client.post(reverse(RECOMPUTE)).status_code == 302
    jobs = Job.objects.filter(kind=rec.RECONCILE_JOB)
    assert jobs.count() == 1 and requested.count() == 2, "asked twice, queued once, both asks audited"
    [job] = list(jobs.all())  # (a copy: ``jobs`` stays unevaluated, counted afresh below)
    assert job.created_by == "rev" and job.params == {"money_mark": rec.money_mark()}
    page = _page(client)
    assert f'data-pending="{job.pk}"' in page and 'action="' + reverse(RECOMPUTE) not in page
    done = job_run_next(kinds=[rec.RECONCILE_JOB])
    assert done is not None and done.status == JobStatus.DONE and done.result["ok"] is True
    run = ReconcileRun.objects.first()
    assert run is not None and run.by == "rev" and run.pk == done.result["run"]
    page = _page(client)
    assert (
        'data-current="yes"' in page
        and "data-pending" not in page
        and 'action="' + reverse(RECOMPUTE) in page
    )
    # asked again before money moved: the same (done) job, nothing new to run
    assert client.post(reverse(RECOMPUTE)).status_code == 302
    assert jobs.count() == 1 and job_run_next(kinds=[rec.RECONCILE_JOB]) is None
    # a failed check is queued again
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
    assert client.post(reverse(RECOMPUTE)).status_code == 302
    assert jobs.count() == 2 and jobs.filter(status=JobStatus.QUEUED).get().key == f"{job.key}:1"


def test_recompute_is_a_post_for_city_staff_who_may_write(pay: PayWorld, login: Login) -> None:
    assert login("city").get(reverse(RECOMPUTE)).status_code == 405
    assert login("own").post(reverse(RECOMPUTE)).status_code == 403
    auditor = login("aud")
    assert auditor.post(reverse(RECOMPUTE)).status_code == 403  # a read-only role
    assert 'action="' + reverse(RECOMPUTE) not in _page(auditor)
    assert not Job.objects.filter(kind=rec.RECONCILE_JOB).exists()


def test_nothing_recorded_yet(pay: PayWorld, login: Login) -> None:
    ReconcileRun.objects.all().delete()
    client = login("city")
    page = _page(client)
    assert 'id="verdict"' in page and "尚无对账记录" in page and 'id="identity"' not in page
    assert 'action="' + reverse(RECOMPUTE) in page
    response = client.get(reverse(URL), {"export": "csv"})
    assert response.status_code == 302 and response["Location"] == reverse(URL)


def _unbooked_before(*, limit: int) -> list[str]:
    """``reconcile_run``'s query before this change (``NOT IN``), in the order the database gives."""
    debits = Booking.objects.filter(kind=BookingKind.DEBIT).values("end_to_end_id")
    unbooked = Instruction.objects.filter(status="settled").exclude(end_to_end_id__in=debits)
    return list(unbooked.values_list("end_to_end_id", flat=True)[:limit])


def test_the_anti_join_finds_what_not_in_found(pay: PayWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old against new on a world with a return, a re-issue, a cancellation carried out, a settled payment whose
    debit is missing and one booked: the whole report is the same with either query."""
    from mianshen.payments.services.approvals import approval_decide

    approval_decide(approval_id=pay.approval.pk, actor="rev", approve=True, note="同意撤销")  # cancelled
    correction_decide(correction_id=pay.correction.pk, actor="rev", approve=True, note="核对无误")  # re-issue
    paid = Instruction.objects.get(case=pay.paid, status="settled")
    Booking.objects.filter(end_to_end_id=paid.end_to_end_id, kind=BookingKind.DEBIT).delete()
    inflight = Instruction.objects.get(case=pay.inflight)
    Instruction.objects.filter(pk=inflight.pk).update(status="settled", booked_on=BOOKED)
    Booking.objects.create(instruction=inflight, end_to_end_id=inflight.end_to_end_id, bank_id=inflight.bank_id,
                           kind=BookingKind.RETURN, amount_fen=inflight.amount_fen, booking_date=BOOKED,
                           inbound=pay.quarantined)  # fmt: skip
    new = rec.unbooked_settled(limit=100)
    assert sorted(new) == sorted(_unbooked_before(limit=100)) == new
    assert set(new) == {paid.end_to_end_id, inflight.end_to_end_id}
    assert rec.unbooked_settled(limit=1) == new[:1]
    report = rec.reconcile_run()
    monkeypatch.setattr(rec, "unbooked_settled", lambda *, limit: sorted(_unbooked_before(limit=limit)))
    before = rec.reconcile_run()
    assert report == before and not report.ok
    assert any("without a debit booking" in p for p in report.ledger_problems)
    assert report.buckets_count["cancelled"] == 1
