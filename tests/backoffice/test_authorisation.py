"""The authorisation matrix: role × page (× own / other district) → status.

Roles: city admin, district officer of the case's district (own) and of another district (other), reviewer,
auditor, a logged-in user without a staff profile, anonymous. 404 for another district's objects (their
existence is not revealed), 403 for a role that may not act, 302 to the login page for anonymous users; a
successful write redirects (302) to the page of what it changed. A refused request writes nothing.

The world is ``payworld.PayWorld`` (the back-office world with payments): the payment pages are here too. Bank
files hold every district's accounts, so the file-level pages are 403 for district officers (own and other
alike); a payment of another district's case is 404 like the case.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import resolve, reverse
from django.utils import timezone

from mianshen.audit.models import AuditEvent
from mianshen.cases.documents import document_store
from mianshen.cases.models import Application, ApplicationDocument, Case
from mianshen.cases.states import State
from mianshen.cases.transitions import case_transition
from mianshen.notify.callbacks import callback_check, callback_request
from mianshen.notify.kinds import benefit
from mianshen.notify.models import CallbackRequest
from mianshen.staff.models import SignInCounter

from .payworld import NEW_ACCOUNT, OTHER_FUND, PayWorld
from .world import AS_OF, POLICY

pytestmark = pytest.mark.django_db

ROLES = ("city", "own", "other", "rev", "aud", "nobody", None)


@dataclass(frozen=True)
class Page:
    method: str
    url: Callable[[PayWorld], str]
    expect: dict[str | None, int]  # role → status
    data: Callable[[PayWorld], dict[str, Any]] = field(default=lambda w: {})
    prepare: Callable[[PayWorld], None] = field(default=lambda w: None)
    env: dict[str, str] = field(default_factory=dict)  # environment for the request (configuration fixed)


def _all(status: int) -> dict[str | None, int]:
    return {
        "city": status,
        "own": status,
        "other": status,
        "rev": status,
        "aud": status,
        "nobody": 403,
        None: 302,
    }


def _only(ok: int, *roles: str, other: int = 403) -> dict[str | None, int]:
    """``ok`` for ``roles``, 403 for the other staff, ``other`` for the other district's officer."""
    expect: dict[str | None, int] = {r: (ok if r in roles else 403) for r in ("city", "own", "rev", "aud")}
    expect.update({"other": ok if "other" in roles else other, "nobody": 403, None: 302})
    return expect


CASE_READ = {"city": 200, "own": 200, "other": 404, "rev": 200, "aud": 200, "nobody": 403, None: 302}
CITY_READ = _only(200, "city", "rev", "aud")  # the payment files: city-level staff only
# reads that are audited: exactly one event each
AUDITED_READS = frozenset(
    {
        "bank_panel",
        "contact_panel",
        "payment_accounts",
        "bank_file_download",
        "queue_export_csv",
        "queue_export_xlsx",
        "case_letter",
        "notice_list_pdf",
        "application_document",
    }
)


def _make_rechecked(w: PayWorld) -> None:
    """open-notice needs a rechecked case: put back one that round 2 excluded."""
    case = Case.objects.filter(state=State.EXCLUDED).order_by("pk").first()
    assert case is not None
    case_transition(case_id=case.pk, to=State.RECHECKED, actor="test", reason="test: rechecked")


def _letter_kept(w: PayWorld) -> None:
    """the paid case's letter made and kept already: the request is then the download alone (one event)"""
    from mianshen.reports.letters import letter_document

    letter_document(case=w.paid, kind="paid", actor="test")


def _list_kept(w: PayWorld) -> None:
    from mianshen.cases.models import Notice
    from mianshen.reports.publicity_list import publicity_list_document

    publicity_list_document(notice=Notice.objects.get(pk=w.notice_id), district=w.district, actor="test")


def _locked_account(w: PayWorld) -> None:
    """a sign-in lockout for the staff page to lift"""
    SignInCounter.objects.create(
        scope="account",
        key="locked-officer",
        failures=5,
        window_start=timezone.now(),
        locked_at=timezone.now(),
    )


def _awaiting_confirmation(w: PayWorld) -> None:
    case_transition(case_id=w.to_prepare.pk, to=State.AWAITING_CONFIRMATION, actor="test", reason="test")


def _callback(w: PayWorld) -> None:
    """a call-back routed to the world's district D"""
    draft = callback_check(
        name="张三", phone="13800138000", topic="何时到账", question="?", district=w.district
    )
    callback_request(draft, now=timezone.now())


def _callback_pk(w: PayWorld) -> int:
    last = CallbackRequest.objects.filter(district=w.district).order_by("-id").first()
    return last.pk if last is not None else 0  # 0: the URL's name only (test_matrix_covers_every_url)


def _document_pk(w: PayWorld) -> int:
    """a document uploaded with an application on the publicised case (district D); 0 before ``_document``"""
    doc = ApplicationDocument.objects.filter(application__case=w.publicised).first()
    return doc.pk if doc is not None else 0


def _document(w: PayWorld) -> None:
    app = Application.objects.create(case=w.publicised, kind="believe_qualify", statement="我认为符合条件。",
                                     submitted_by="单位 portal", reference="A-0000000001")  # fmt: skip
    stored = document_store("证明.pdf", b"%PDF-1.4 test")
    ApplicationDocument.objects.create(application=app, name=stored.name, content_type=stored.content_type,
                                       size=stored.size, sha256=stored.sha256, stored_as=stored.stored_as)  # fmt: skip


def _wrong_bank_pk(w: PayWorld) -> int:
    app = Application.objects.filter(case=w.failed, kind="wrong_bank_details").first()
    return app.pk if app is not None else 0


def _wrong_bank(w: PayWorld) -> None:
    evidence = dict(zip(("bank_code", "branch_code", "account_no"), NEW_ACCOUNT[:3], strict=True))
    Application.objects.create(case=w.failed, kind="wrong_bank_details", statement="", submitted_by="单位 portal",
                               evidence={**evidence, "account_name": w.failed.unit_name})  # fmt: skip


def _dead_letter(w: PayWorld) -> None:
    """a failed SMS about a case of the world's district D, for the outbox's retry"""
    from mianshen.notify.services import message_queue, message_transition
    from mianshen.notify.states import MessageState

    case = Case.objects.filter(district=w.district).order_by("pk").first()
    assert case is not None
    msg = message_queue(kind="approved", channel="sms", to="13800138000", key=f"auth:{uuid.uuid4().hex}",
                        context={**benefit("beijing-2021"), "unit_name": case.unit_name, "amount": "1.00"}, case_id=case.pk,
                        unit_id=case.unit_id)  # fmt: skip
    message_transition(message_id=msg.pk, to=MessageState.FAILED, actor="test", reason="test: refused")


def _dead_letter_pk(w: PayWorld) -> int:
    from mianshen.notify.models import Message

    last = Message.objects.filter(state="failed", case__district=w.district).order_by("-id").first()
    return last.pk if last is not None else 0


PAGES: dict[str, Page] = {
    "application_document": Page(
        "get",
        lambda w: reverse("backoffice:application_document", args=[_document_pk(w)]),
        {"city": 200, "own": 200, "other": 404, "rev": 200, "aud": 403, "nobody": 403, None: 302},
        prepare=_document,
    ),
    "application_account_check": Page(
        "post",
        lambda w: reverse("backoffice:application_account_check", args=[_wrong_bank_pk(w)]),
        _only(302, "city", "own", other=404),
        prepare=_wrong_bank,
    ),
    "dashboard": Page("get", lambda w: reverse("backoffice:dashboard"), _all(200)),
    "rounds": Page("get", lambda w: reverse("backoffice:rounds"), _all(200)),
    "round_detail": Page("get", lambda w: reverse("backoffice:round_detail", args=[w.round2.pk]), _all(200)),
    "round_progress": Page(
        "get", lambda w: reverse("backoffice:round_progress", args=[w.round2.pk]), _all(200)
    ),
    "start_round_get": Page("get", lambda w: reverse("backoffice:round_start"), _only(200, "city")),
    "start_round_post": Page(
        "post",
        lambda w: reverse("backoffice:round_start"),
        _only(302, "city"),
        data=lambda w: {
            "policy": POLICY,
            "snapshot": w.snapshot.pk,
            "as_of": AS_OF.isoformat(),
            "checkpoint": "ad_hoc",
        },
    ),
    "callbacks": Page("get", lambda w: reverse("backoffice:callbacks"), _all(200), prepare=_callback),
    "callback": Page(
        "get", lambda w: reverse("backoffice:callback", args=[_callback_pk(w)]), CASE_READ, prepare=_callback
    ),
    "callback_outcome": Page(
        "post",
        lambda w: reverse("backoffice:callback", args=[_callback_pk(w)]),
        _only(302, "city", "own", other=404),
        data=lambda w: {"outcome": "answered", "note": "已电话答复"},
        prepare=_callback,
    ),
    "callback_phone": Page(  # the full number: an audited read, a POST
        "post",
        lambda w: reverse("backoffice:callback_phone", args=[_callback_pk(w)]),
        CASE_READ,
        prepare=_callback,
    ),
    "outbox": Page("get", lambda w: reverse("backoffice:outbox"), _all(200), prepare=_dead_letter),
    "outbox_retry": Page(
        "post",
        lambda w: reverse("backoffice:outbox_retry", args=[_dead_letter_pk(w)]),
        _only(302, "city", "own", other=404),
        prepare=_dead_letter,
    ),
    "enquiries": Page("get", lambda w: reverse("backoffice:enquiries"), _all(200)),
    "enquiry_record": Page(
        "post",
        lambda w: reverse("backoffice:enquiries"),
        _only(302, "city", "own", "other"),
        data=lambda w: {"topic": "何时到账", "credit_code": "", "outcome": "answered"},
    ),
    "queue_review": Page("get", lambda w: reverse("backoffice:queue", args=["review"]), _all(200)),
    "queue_confirmation": Page(
        "get", lambda w: reverse("backoffice:queue", args=["confirmation"]), _all(200)
    ),
    "queue_objections": Page("get", lambda w: reverse("backoffice:queue", args=["objections"]), _all(200)),
    "queue_applications": Page(
        "get", lambda w: reverse("backoffice:queue", args=["applications"]), _all(200)
    ),
    "queue_supervision": Page("get", lambda w: reverse("backoffice:queue", args=["supervision"]), _all(200)),
    "queue_export_csv": Page(
        "get", lambda w: reverse("backoffice:queue_export", args=["supervision", "csv"]), _all(200)
    ),
    "queue_export_xlsx": Page(
        "get", lambda w: reverse("backoffice:queue_export", args=["cases", "xlsx"]), _all(200)
    ),
    "case": Page("get", lambda w: reverse("backoffice:case", args=[w.publicised.pk]), CASE_READ),
    "case_explanation_en": Page(
        "get",
        lambda w: reverse("backoffice:case_explanation", args=[w.publicised.pk]) + "?lang=en",
        {**CASE_READ, "city": 302, "own": 302, "rev": 302, "aud": 302},  # without htmx: back to the case page
    ),
    "bank_panel": Page("get", lambda w: reverse("backoffice:case_bank", args=[w.publicised.pk]), CASE_READ),
    "contact_panel": Page(
        "get", lambda w: reverse("backoffice:case_contact", args=[w.publicised.pk]), CASE_READ
    ),
    "notices": Page("get", lambda w: reverse("backoffice:notices"), _all(200)),
    "case_letter": Page(
        "get",
        lambda w: reverse("backoffice:case_letter", args=[w.paid.pk, "paid"]),
        CASE_READ,
        prepare=_letter_kept,
    ),
    "notice_list_pdf": Page(
        "get",
        lambda w: reverse("backoffice:notice_list_pdf", args=[w.notice_id, w.district]),
        CASE_READ,
        prepare=_list_kept,
    ),
    "notice_detail": Page(
        "get", lambda w: reverse("backoffice:notice_detail", args=[w.notice_id]), _all(200)
    ),
    "open_notice_get": Page("get", lambda w: reverse("backoffice:notice_open"), _only(200, "city")),
    "open_notice_post": Page(
        "post",
        lambda w: reverse("backoffice:notice_open"),
        _only(302, "city"),
        data=lambda w: {"policy": POLICY, "start": "2021-08-01", "days": 7, "title": ""},
        prepare=_make_rechecked,
    ),
    "record_objection": Page(
        "post",
        lambda w: reverse("backoffice:objection_record", args=[w.publicised.pk]),
        _only(302, "city", "own", other=404),
        data=lambda w: {"raised_by": "public", "contact": "13900000000", "grounds": "裁员未申报"},
    ),
    "decide_objection": Page(
        "post",
        lambda w: reverse("backoffice:objection_decide", args=[w.objection.pk]),
        _only(302, "city", "rev", other=404),
        data=lambda w: {"outcome": "rejected", "reason": "经核实不成立"},
    ),
    "prepare_review": Page(
        "post",
        lambda w: reverse("backoffice:review_prepare", args=[w.to_prepare.pk]),
        _only(302, "city", "own", other=404),
        data=lambda w: {"recommendation": "approve", "notes": "材料齐全"},
    ),
    "decide_review": Page(
        "post",
        lambda w: reverse("backoffice:review_decide", args=[w.review.pk]),
        _only(302, "city", "rev", other=404),
        data=lambda w: {"decision": "approve", "reason": "同意"},
    ),
    "record_confirmation": Page(
        "post",
        lambda w: reverse("backoffice:confirmation_record", args=[w.to_prepare.pk]),
        _only(302, "city", "own", other=404),
        data=lambda w: {"confirmed_on": "2021-07-05", "evidence": "用工单位盖章确认函"},
        prepare=_awaiting_confirmation,
    ),
    # ---- payments: pages
    "payments": Page("get", lambda w: reverse("backoffice:payments"), _all(200)),
    "payment_failures": Page("get", lambda w: reverse("backoffice:payment_failures"), _all(200)),
    "corrections": Page("get", lambda w: reverse("backoffice:corrections"), _all(200)),
    "approvals": Page("get", lambda w: reverse("backoffice:approvals"), _all(200)),
    "reissues": Page("get", lambda w: reverse("backoffice:reissues"), _all(200)),
    "case_with_payment": Page("get", lambda w: reverse("backoffice:case", args=[w.failed.pk]), CASE_READ),
    "payment_accounts": Page(
        "get", lambda w: reverse("backoffice:case_payment_accounts", args=[w.corrected.pk]), CASE_READ
    ),
    "bank_files": Page("get", lambda w: reverse("backoffice:bank_files"), CITY_READ),
    "bank_file": Page(
        "get", lambda w: reverse("backoffice:bank_file", args=[w.defect_file.msg_id]), CITY_READ
    ),
    "bank_file_download": Page(
        "get",
        lambda w: reverse("backoffice:bank_file_download", args=[w.files[0].msg_id]),
        _only(200, "city", "aud"),
    ),
    "reconciliation": Page("get", lambda w: reverse("backoffice:reconciliation"), CITY_READ),
    "reconciliation_recompute": Page(
        "post", lambda w: reverse("backoffice:reconciliation_recompute"), _only(302, "city", "rev")
    ),
    "inbound_files": Page("get", lambda w: reverse("backoffice:inbound_files"), CITY_READ),
    # every staff member may compute their own scope's dashboard figures now; an auditor writes nothing
    "dashboard_recompute": Page(
        "post", lambda w: reverse("backoffice:dashboard_recompute"), _only(302, "city", "own", "other", "rev")
    ),
    # ---- payments: actions
    "correction_prepare": Page(
        "post",
        lambda w: reverse("backoffice:correction_prepare", args=[w.failed.pk]),
        _only(302, "city", "own", other=404),
        data=lambda w: {
            "kind": "account",
            "bank_code": NEW_ACCOUNT[0],
            "branch_code": NEW_ACCOUNT[1],
            "account_no": NEW_ACCOUNT[2],
            "account_name": w.failed.unit_name,
            "note": "单位来函",
        },
    ),
    "correction_decide": Page(
        "post",
        lambda w: reverse("backoffice:correction_decide", args=[w.correction.pk]),
        _only(302, "city", "rev", other=404),
        data=lambda w: {"decision": "approve", "reason": "核对无误"},
    ),
    "payment_cancel_request": Page(
        "post",
        lambda w: reverse("backoffice:payment_cancel_request", args=[w.failed.pk]),
        _only(302, "city", "own", other=404),
        data=lambda w: {"reason": "单位已注销"},
    ),
    "approval_decide": Page(
        "post",
        lambda w: reverse("backoffice:approval_decide", args=[w.approval.pk]),
        _only(302, "city", "rev", other=404),
        data=lambda w: {"decision": "approve", "reason": "核实注销"},
    ),
    "bank_file_reissue_request": Page(
        "post",
        lambda w: reverse("backoffice:bank_file_reissue_request", args=[w.defect_file.msg_id]),
        _only(302, "city"),
        data=lambda w: {"reason": "控制总额已修正"},
    ),
    "hold_resolve": Page(
        "post",
        lambda w: reverse("backoffice:hold_resolve", args=[w.hold.pk]),
        _only(302, "city", "rev"),
        data=lambda w: {"resolution": "已与银行核实"},
    ),
    "inbound_reprocess": Page(
        "post",
        lambda w: reverse("backoffice:inbound_reprocess", args=[w.quarantined.pk]),
        _only(302, "city"),
        env={"MIANSHEN_FUND_ACCOUNT": OTHER_FUND},  # the cause fixed: the fund's new account configured
    ),
    # ---- staff accounts (the sign-in pages themselves: test_signin, test_second_factor)
    "password_change": Page("get", lambda w: reverse("backoffice:password_change"), _all(200)),
    "staff_accounts": Page("get", lambda w: reverse("backoffice:staff_accounts"), _only(200, "city")),
    "staff_unlock": Page(
        "post",
        lambda w: reverse("backoffice:staff_unlock"),
        _only(302, "city"),
        data=lambda w: {"name": "locked-officer"},
        prepare=_locked_account,
    ),
}


@pytest.mark.parametrize("role", ROLES, ids=[r or "anonymous" for r in ROLES])
@pytest.mark.parametrize("page", list(PAGES))
def test_matrix(
    pay: PayWorld,
    login: Callable[[str | None], Any],
    monkeypatch: pytest.MonkeyPatch,
    page: str,
    role: str | None,
) -> None:
    spec = PAGES[page]
    expected = spec.expect[role]
    spec.prepare(pay)
    for name, value in spec.env.items():
        monkeypatch.setenv(name, value)
    client = login(role)
    events = AuditEvent.objects.count()
    response = getattr(client, spec.method)(spec.url(pay), spec.data(pay))
    assert response.status_code == expected, (page, role, response.status_code, response.content[:300])
    if role is None:
        assert response["Location"].startswith(reverse("backoffice:login") + "?next=")
        assert AuditEvent.objects.count() == events
    elif expected in (403, 404):
        assert AuditEvent.objects.count() == events, "a refused request wrote an audit event"
    elif spec.method == "post":
        assert AuditEvent.objects.count() > events, "a write left no trace"
    elif page in AUDITED_READS:
        assert AuditEvent.objects.count() == events + 1
    else:
        assert AuditEvent.objects.count() == events, "a plain read wrote an audit event"


def test_matrix_covers_every_url(pay: PayWorld) -> None:
    """Every named back-office URL is in the matrix (or is a step of signing in or out, or the language): the
    names are those the
    matrix's URLs resolve to, so a new view cannot be forgotten."""
    from mianshen.backoffice.urls import urlpatterns

    names = {str(p.name) for p in urlpatterns}
    covered = {"login", "sign_in_verify", "sign_in_enrol", "logout", "set_language"}
    in_matrix = {str(resolve(urlsplit(spec.url(pay)).path).url_name) for spec in PAGES.values()}
    assert names == covered | in_matrix, sorted(names ^ (covered | in_matrix))
