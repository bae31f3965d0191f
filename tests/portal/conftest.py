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
    """The file outbox under a temporary var/. Messages are sent after commit, so a test that reads them runs
    with real commits (a transactional test)."""
    settings.VAR_DIR = tmp_path
    return tmp_path / "outbox" / "sms"


def sent_codes(outbox: Path) -> list[str]:
    """The one-time codes in the outbox's messages, oldest first."""
    import re

    files = sorted(outbox.glob("portal-*.txt")) if outbox.exists() else []
    return [re.search(r"：(\d{6})", f.read_text(encoding="utf-8")).group(1) for f in files]  # type: ignore[union-attr]
