"""The four-eyes helper itself (staff.foureyes), table-driven over the three kinds that use it: reviews,
account corrections and payment requests. Each row makes a real request row; the helper must lock it, refuse a
missing, decided or own request with that kind's refusal and write nothing, and stamp + audit a decision.
Runs on SQLite and, with ``MIANSHEN_DATABASE_URL``, on PostgreSQL (where the lock is a real ``FOR UPDATE``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, models, transaction
from django.test.utils import CaptureQueriesContext

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, Review
from mianshen.cases.services import REVIEW_FOUR_EYES, CaseError
from mianshen.cases.states import State
from mianshen.payments.models import Approval, ApprovalKind, Bank, Correction, CorrectionKind, Payment
from mianshen.payments.services.approvals import APPROVAL_FOUR_EYES
from mianshen.payments.services.common import PaymentError
from mianshen.payments.services.recovery import CORRECTION_FOUR_EYES
from mianshen.staff.foureyes import FourEyes, four_eyes_close, four_eyes_open

MAKER, CHECKER = "officer-li", "officer-wang"


def _case(unit: str) -> Case:
    return Case.objects.create(policy_id="beijing-2021", unit_id=unit, credit_code="91110105MA01234567",
                               unit_name="北京测试有限公司", district="110105", state=State.UNDER_REVIEW,
                               amount_fen=12_345)  # fmt: skip


def _review(unit: str) -> Review:
    return Review.objects.create(
        case=_case(unit), recommendation="approve", notes="材料齐全", prepared_by=MAKER
    )


def _correction(unit: str) -> Correction:
    case = _case(unit)
    payment = Payment.objects.create(case=case, amount_fen=case.amount_fen, released_by="system")
    bank, _ = Bank.objects.get_or_create(code="102", defaults={"name": "中国工商银行", "cooperating": True})
    return Correction.objects.create(payment=payment, kind=CorrectionKind.RESEND, bank=bank,
                                     branch_code="102100099996", account_no="6222020200112233",
                                     account_name="北京测试有限公司", prepared_by=MAKER)  # fmt: skip


def _approval(unit: str) -> Approval:
    return Approval.objects.create(kind=ApprovalKind.CANCEL_PAYMENT, case=_case(unit), reason="单位已注销",
                                   requested_by=MAKER)  # fmt: skip


@dataclass(frozen=True)
class Kind:
    rule: FourEyes[Any]
    make: Callable[[str], models.Model]
    error: type[Exception]
    outcome: str
    action: Action
    fields: dict[str, Any]
    missing: str  # what the refusal of a missing request says ("" : the model's DoesNotExist)


KINDS = {
    "review": Kind(REVIEW_FOUR_EYES, _review, CaseError, "approve", Action.CASE_REVIEWED, {}, ""),
    "correction": Kind(CORRECTION_FOUR_EYES, _correction, PaymentError, "refused",
                       Action.ACCOUNT_CORRECTION_REFUSED, {"decision_note": "账户已核实"}, "no correction"),
    "approval": Kind(APPROVAL_FOUR_EYES, _approval, PaymentError, "approved", Action.PAYMENT_APPROVAL_DECIDED,
                     {"decision_note": "核实注销", "result": {"case": 1}}, "no approval request"),
}  # fmt: skip
each_kind = pytest.mark.parametrize("kind", KINDS.values(), ids=KINDS.keys())


def _events() -> int:
    return AuditEvent.objects.count()


@pytest.mark.django_db
@each_kind
def test_a_second_officer_decides_stamped_saved_and_audited(kind: Kind) -> None:
    request = kind.make("U1")
    before = _events()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = four_eyes_open(kind.rule, request.pk, actor=CHECKER)
        assert type(locked) is kind.rule.model and locked.pk == request.pk
        four_eyes_close(kind.rule, locked, actor=CHECKER, outcome=kind.outcome, action=kind.action,
                        after={"outcome": kind.outcome}, reason="理由", fields=kind.fields)  # fmt: skip
    if connection.features.has_select_for_update:
        table = kind.rule.model._meta.db_table
        assert any("FOR UPDATE" in q["sql"] and table in q["sql"] for q in queries.captured_queries)
    request.refresh_from_db()
    assert (request.decided_by, request.outcome) == (CHECKER, kind.outcome)  # type: ignore[attr-defined]
    assert request.decided_at is not None  # type: ignore[attr-defined]
    for name, value in kind.fields.items():
        assert getattr(request, name) == value
    assert _events() == before + 1
    ev = AuditEvent.objects.order_by("-seq").first()
    assert ev is not None
    assert (ev.action, ev.actor, ev.object_type, ev.object_id, ev.reason) == (
        kind.action, CHECKER, kind.rule.obj_type, str(request.pk), "理由"
    )  # fmt: skip


@pytest.mark.django_db
@each_kind
def test_a_bulk_path_records_the_decision_with_its_other_events(kind: Kind) -> None:
    """``events``: the decision's audit event is handed to the bulk path's list, not recorded at once; recorded
    with the others it is the same event as one at a time."""
    from mianshen.payments.services.common import audit_many

    request = kind.make("U1")
    before = _events()
    events: list[dict[str, Any]] = [{"action": Action.PAYMENT_REISSUED, "obj_type": "payment_instruction",
                                     "obj_id": "E2E-1", "after": {"case": 1}, "reason": "correction 1"}]  # fmt: skip
    with transaction.atomic():
        locked = four_eyes_open(kind.rule, request.pk, actor=CHECKER)
        four_eyes_close(kind.rule, locked, actor=CHECKER, outcome=kind.outcome, action=kind.action,
                        after={"outcome": kind.outcome}, reason="理由", fields=kind.fields, events=events)  # fmt: skip
        assert _events() == before  # not recorded yet
        assert len(events) == 2
        audit_many(actor=CHECKER, events=events)
    request.refresh_from_db()
    assert (request.decided_by, request.outcome) == (CHECKER, kind.outcome)  # type: ignore[attr-defined]
    ev = AuditEvent.objects.order_by("-seq").first()
    assert ev is not None and _events() == before + 2
    assert (ev.action, ev.actor, ev.object_type, ev.object_id, ev.reason, ev.after) == (
        kind.action, CHECKER, kind.rule.obj_type, str(request.pk), "理由", {"outcome": kind.outcome}
    )  # fmt: skip


@pytest.mark.django_db
@each_kind
def test_the_maker_is_refused_and_nothing_is_written(kind: Kind) -> None:
    request = kind.make("U2")
    before = _events()
    with pytest.raises(kind.error, match="four eyes") as refused, transaction.atomic():
        four_eyes_open(kind.rule, request.pk, actor=MAKER)
    assert refused.value.text("zh-hans").startswith("双人复核")  # type: ignore[attr-defined]
    request.refresh_from_db()
    assert request.decided_by == "" and _events() == before  # type: ignore[attr-defined]


@pytest.mark.django_db
@each_kind
def test_a_decided_request_is_refused_naming_it(kind: Kind) -> None:
    request = kind.make("U3")
    with transaction.atomic():
        four_eyes_close(kind.rule, four_eyes_open(kind.rule, request.pk, actor=CHECKER), actor=CHECKER,
                        outcome=kind.outcome, action=kind.action, after={}, fields=kind.fields)  # fmt: skip
    before = _events()
    with pytest.raises(kind.error, match=f"{request.pk} was already decided"), transaction.atomic():
        four_eyes_open(kind.rule, request.pk, actor="officer-zhao")
    assert _events() == before


@pytest.mark.django_db
@each_kind
def test_a_missing_request_is_refused(kind: Kind) -> None:
    missing = kind.make("U4").pk + 1000
    expected: tuple[type[Exception], str | None] = (
        (kind.error, f"{kind.missing} {missing}") if kind.missing else (kind.rule.model.DoesNotExist, None)
    )
    with pytest.raises(expected[0], match=expected[1]), transaction.atomic():
        four_eyes_open(kind.rule, missing, actor=CHECKER)


@pytest.mark.django_db(transaction=True)
@each_kind
def test_the_lock_needs_a_transaction(kind: Kind) -> None:
    """Outside a transaction a FOR UPDATE lock would end at once: refused before anything is read."""
    request = kind.make("U5")
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        four_eyes_open(kind.rule, request.pk, actor=CHECKER)
