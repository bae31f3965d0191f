"""Wrong bank details (from ``awaiting_correction``): the unit applies on /apply/ with its account in use; the
account is compared with the unit's account on file in a drop imported AFTER the failure (never paid to as typed):
not yet on file, differing (the fields named, the account on file never shown), then matching."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Application, Case, CaseHistory
from mianshen.cases.states import State
from mianshen.payments.models import Bank, Instruction, Payment
from mianshen.payments.services.recovery import application_account_check
from mianshen.registry.models import BankAccount, Snapshot, Unit

from .conftest import make_cases
from .test_applications import sign_in

ACCOUNT = {"bank_code": "102", "branch_code": "102100000009", "account_no": "6222 0202 0099 8877",
           "account_name": "北京第700号测试有限公司"}  # fmt: skip


@pytest.fixture
def failed(db: None, settings: Any, tmp_path: Path) -> Case:
    settings.VAR_DIR = tmp_path
    (case,) = make_cases(1, start=700)
    old = Snapshot.objects.create(content_hash="70" * 32, source="old", extracted_on=date(2021, 6, 30))
    Snapshot.objects.filter(pk=old.pk).update(imported_at=timezone.now() - timedelta(hours=2))
    Unit.objects.create(snapshot=old, line=2, unit_id=case.unit_id, credit_code=case.credit_code, name=case.unit_name,
                        unit_type="enterprise", industry="65", district=case.district, dispatch=False)  # fmt: skip
    BankAccount.objects.create(snapshot=old, line=2, unit_id=case.unit_id, bank_code="102",
                               branch_code="102100000001", account_no="6222000000000001", account_name=case.unit_name)  # fmt: skip
    CaseHistory.objects.create(
        case=case, from_state=State.RELEASED, to_state=State.AWAITING_CORRECTION, actor="t", reason="t"
    )
    Case.objects.filter(pk=case.pk).update(state=State.AWAITING_CORRECTION)
    payment = Payment.objects.create(case=case, amount_fen=case.amount_fen, released_by="test")
    bank = Bank.objects.get_or_create(code="102", defaults={"name": "中国工商银行", "cooperating": True})[0]
    instruction = Instruction.objects.create(
        payment=payment, case=case, attempt=1, end_to_end_id=f"E2E{case.pk:012d}", amount_fen=case.amount_fen, bank=bank,
        creditor_branch_code="102100000001", creditor_account="6222000000000001", creditor_name=case.unit_name,
        remittance="稳岗返还", account_source=f"snapshot:{old.pk}", status="rejected", reject_codes="AC01",
        created_by="test",
    )  # fmt: skip
    Instruction.objects.filter(pk=instruction.pk).update(created_at=timezone.now() - timedelta(hours=1))
    Payment.objects.filter(pk=payment.pk).update(current=instruction)
    case.refresh_from_db()
    return case


def _new_drop(case: Case, **account: str) -> Snapshot:
    snap = Snapshot.objects.create(
        content_hash=f"{Snapshot.objects.count() + 71}" * 32, source="new", extracted_on=date(2021, 7, 5)
    )
    BankAccount.objects.create(snapshot=snap, line=2, unit_id=case.unit_id, **account)
    return snap


def test_the_account_given_is_confirmed_against_the_next_drop_only(client: Client, failed: Case) -> None:
    sign_in(client, failed.unit_id)
    page = client.get("/apply/").content.decode()
    assert f"/apply/new/{failed.pk}/wrong_bank_details/" in page
    bad = client.post(
        f"/apply/new/{failed.pk}/wrong_bank_details/", {**ACCOUNT, "branch_code": "103100000009"}
    )
    assert bad.status_code == 400 and "前 3 位须与开户银行代码一致" in bad.content.decode()
    assert client.post(f"/apply/new/{failed.pk}/wrong_bank_details/", ACCOUNT).status_code == 302
    client.post("/apply/check/")
    assert "不会直接拨付到您填写的账户" in client.get("/apply/done/").content.decode()
    app = Application.objects.get(case=failed)
    assert app.evidence["account_no"] == "6222020200998877"  # as drops normalise it
    failed.refresh_from_db()
    assert failed.state == State.AWAITING_CORRECTION  # the payment side keeps the case

    before = application_account_check(application_id=app.pk, actor="officer-a")
    assert not before.matches and "尚未导入" in before.why
    _new_drop(failed, bank_code="102", branch_code="102100000009", account_no="6222020200990000",
              account_name=failed.unit_name)  # fmt: skip
    differs = application_account_check(application_id=app.pk, actor="officer-a")
    assert not differs.matches and "账号" in differs.why and "6222020200990000" not in differs.why
    snap = _new_drop(failed, bank_code="102", branch_code="102100000009", account_no="6222-0202-0099-8877",
                     account_name=failed.unit_name)  # fmt: skip
    ok = application_account_check(application_id=app.pk, actor="officer-a")
    assert (ok.matches, ok.snapshot_id) == (True, snap.pk)
    assert AuditEvent.objects.filter(action=Action.APPLICATION_ACCOUNT_CHECKED).count() == 3
    assert Application.objects.get(pk=app.pk).outcome == ""  # granted only by the re-issue (four eyes)
