"""The release's accounts on file: one prefetching join for the whole release gives exactly what the per-chunk
lookups give (the snapshot of the approving round; for a case no round decided, the newest snapshot holding the
unit's account), and an entry is not used when the locked case names another snapshot than the prefetch saw."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from mianshen.cases.models import Case
from mianshen.cases.states import State
from mianshen.payments.models import Instruction
from mianshen.payments.services import instructions
from mianshen.payments.services.instructions import _accounts, _accounts_prefetch, payments_release
from mianshen.registry.models import BankAccount, Snapshot
from mianshen.screening.models import ScreeningRound

from .factories import POLICY, account_no, approved_cases, snapshot

pytestmark = pytest.mark.django_db
ACTOR = "system:test"


def _round(snap: Snapshot, number: int) -> ScreeningRound:
    return ScreeningRound.objects.create(
        policy_id=POLICY, number=number, snapshot=snap, snapshot_hash=snap.content_hash,
        as_of=date(2021, 7, 1), started_by="test", status="completed",
    )  # fmt: skip


def _world() -> tuple[list[Case], Snapshot, Snapshot]:
    """Cases decided by round 1 (snapshot A), by round 2 (snapshot B, a newer account for some units), by no
    round (loose: the newest snapshot holding one), and units with no account in their round's snapshot."""
    cases = approved_cases(24, banks=("102", "313"))  # their accounts are in the first snapshot, A
    a = Snapshot.objects.order_by("pk").last()
    assert a is not None
    b = snapshot()
    r1, r2 = _round(a, 1), _round(b, 2)
    for i, case in enumerate(cases):
        if i % 4 in (1, 2) or i == 7:
            BankAccount.objects.create(snapshot=b, line=i + 2, unit_id=case.unit_id, bank_code="313",
                                       branch_code="313100000999", account_no=account_no("313", 5_000 + i),
                                       account_name=case.unit_name)  # fmt: skip
    for i, case in enumerate(cases):
        case.last_round = None if i % 4 == 3 else (r1 if i % 4 == 0 else r2)
    cases[8].last_round = r2  # i % 4 == 0: no account in B: waits, although A has one
    Case.objects.bulk_update(cases, ["last_round"])
    return cases, a, b


def _rows(cases: list[Case]) -> list[dict[str, Any]]:
    return list(
        Case.objects.filter(pk__in=[c.pk for c in cases])
        .order_by("pk")
        .values("pk", "policy_id", "unit_id", "credit_code", "amount_fen", "last_round__snapshot_id")
    )


def test_the_prefetch_gives_what_the_lookups_give() -> None:
    cases, a, b = _world()
    rows = _rows(cases)
    known = _accounts_prefetch(Case.objects.filter(state=State.APPROVED))
    assert len(known) == 18  # every case a round decided (the loose ones are looked up as before)
    assert _accounts(rows, known) == _accounts(rows)
    found = _accounts(rows, known)
    assert found[cases[0].unit_id].source == f"snapshot:{a.pk}"
    assert found[cases[1].unit_id].source == f"snapshot:{b.pk}" and found[cases[1].unit_id].bank_code == "313"
    assert found[cases[3].unit_id].source == f"snapshot:{a.pk}"  # loose: the newest snapshot holding one
    assert found[cases[7].unit_id].source == f"snapshot:{b.pk}"  # loose, and B has one
    assert cases[8].unit_id not in found and cases[4].unit_id in found


def test_a_stale_entry_is_looked_up_again() -> None:
    cases, a, b = _world()
    known = _accounts_prefetch(Case.objects.filter(state=State.APPROVED))
    # after the prefetch, a later round decides case 0 again (its unit has an account in B now)
    BankAccount.objects.create(snapshot=b, line=999, unit_id=cases[0].unit_id, bank_code="102",
                               branch_code="102100000777", account_no=account_no("102", 7_777),
                               account_name=cases[0].unit_name)  # fmt: skip
    Case.objects.filter(pk=cases[0].pk).update(last_round=ScreeningRound.objects.get(number=2))
    rows = _rows(cases)
    assert known[cases[0].pk][0] == a.pk
    found = _accounts(rows, known)
    assert found == _accounts(rows)
    assert found[cases[0].unit_id].source == f"snapshot:{b.pk}" and found[cases[0].unit_id].bank_code == "102"


@pytest.mark.parametrize("chunk", [5, 10_000])
def test_release_instructs_the_accounts_the_lookups_give(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instructions, "CHUNK", chunk)
    cases, _a, _b = _world()
    expected = _accounts(_rows(cases))
    released = payments_release(actor=ACTOR)
    assert (released.released, released.instructed, released.awaiting_account) == (24, 23, 1)
    got = {
        unit: (bank, branch, no, name, source)
        for unit, bank, branch, no, name, source in Instruction.objects.values_list(
            "case__unit_id",
            "bank_id",
            "creditor_branch_code",
            "creditor_account",
            "creditor_name",
            "account_source",
        )
    }
    assert got == {
        u: (acc.bank_code, acc.branch_code, acc.account_no, acc.account_name, acc.source)
        for u, acc in expected.items()
    }
