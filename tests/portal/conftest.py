"""A small public notice for the portal's tests: cases rechecked, then publicised by ``cases.services.notice_open``
(the same service the back office calls), open today."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from mianshen.cases.models import Case, Notice, NoticeEntry
from mianshen.cases.services import notice_open
from mianshen.cases.states import State

POLICY = "beijing-2021"
DISTRICTS = ("110105", "110108", "110101")


def credit_code(i: int) -> str:
    """18 characters, distinct per unit: 911101 + 8 digits + 4 digits."""
    return f"9111{i % 100:02d}{i:08d}X{i % 1000:03d}"


@dataclass(frozen=True)
class Listed:
    notice: Notice
    cases: list[Case]

    def entry(self, case: Case) -> NoticeEntry:
        return NoticeEntry.objects.get(notice=self.notice, case=case)


def make_cases(n: int, *, start: int = 0, names: tuple[str, ...] = ()) -> list[Case]:
    cases = []
    for i in range(start, start + n):
        name = names[i - start] if i - start < len(names) else f"北京第{i}号测试有限公司"
        cases.append(
            Case.objects.create(
                policy_id=POLICY,
                unit_id=f"U{i:06d}",
                credit_code=credit_code(i),
                unit_name=name,
                district=DISTRICTS[i % len(DISTRICTS)],
                state=State.RECHECKED,
                amount_fen=100_000 + i * 123,
            )
        )
    return cases


def open_notice(cases: list[Case], *, days: int = 7, start: object = None) -> Notice:
    return notice_open(
        policy_id=POLICY, actor="city", start=start or timezone.localdate(), days=days, title="测试公示"
    )


@pytest.fixture
def listed(db: None) -> Listed:
    names = (
        "北京星光科技有限公司",
        "北京晨曦餐饮管理有限公司",
        "Acme Beijing Trading Co",
        "北京律和律师事务所",
    )
    cases = make_cases(45, names=names)
    return Listed(open_notice(cases), cases)


@pytest.fixture
def outbox(settings: Any, tmp_path: Path, transactional_db: None) -> Path:
    """A temporary var/ (where notify's file senders write). Codes are made by a job queued in the request's
    transaction, so a test that reads them runs with real commits (a transactional test)."""
    settings.VAR_DIR = tmp_path
    return tmp_path


def sent_codes(_outbox: object = None, *, to: str | None = None) -> list[str]:
    """Run the queued jobs (the portal's code jobs, notify's deliveries), then the one-time codes of the notify
    outbox's ``otp`` messages that were not suppressed, oldest first (as ``notify outbox --kind otp --unmask``
    lists them)."""
    from mianshen.core.jobs import job_drain
    from mianshen.notify.selectors import outbox as notify_outbox
    from mianshen.notify.states import MessageState

    job_drain()
    rows = notify_outbox(kind="otp", to=to).exclude(state=MessageState.SUPPRESSED)
    return [str(m.params["code"]) for m in rows]


def paid(case: Case, *, account: str = "6222020200112233445") -> Case:
    """Put ``case`` where a settled payment leaves it: its history to approved, released and paid, a payment
    whose current instruction the bank booked (rows as the payments app writes them)."""
    from datetime import timedelta

    from mianshen.cases.models import CaseHistory
    from mianshen.payments.models import Bank, Instruction, Payment

    now = timezone.now()
    for before, after in ((case.state, State.PUBLICISED), (State.PUBLICISED, State.APPROVED),
                          (State.APPROVED, State.RELEASED), (State.RELEASED, State.PAID)):  # fmt: skip
        CaseHistory.objects.create(case=case, from_state=before, to_state=after, actor="test", reason="test")
    Case.objects.filter(pk=case.pk).update(state=State.PAID)
    payment = Payment.objects.create(case=case, amount_fen=case.amount_fen, released_by="test")
    instruction = Instruction.objects.create(
        payment=payment, case=case, attempt=1, end_to_end_id=f"E2E{case.pk:012d}", amount_fen=case.amount_fen,
        bank=Bank.objects.get_or_create(code="102", defaults={"name": "中国工商银行", "cooperating": True})[0], creditor_branch_code="102100000001", creditor_account=account,
        creditor_name=case.unit_name[:140], remittance=f"稳岗返还 {case.number}", account_source="snapshot:1",
        status="settled", booked_on=(now - timedelta(days=1)).date(), created_by="test",
    )  # fmt: skip
    Payment.objects.filter(pk=payment.pk).update(current=instruction)
    case.refresh_from_db()
    return case
