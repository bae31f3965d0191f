"""``units_accounts_on_file`` (a batch of corrections looks its units up together) answers exactly as
``unit_account_on_file`` one unit at a time, with one parameter for any number of units."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from mianshen.registry.models import BankAccount, Snapshot, Unit
from mianshen.registry.selectors import unit_account_on_file, units_accounts_on_file

pytestmark = pytest.mark.django_db


def _snapshot() -> Snapshot:
    return Snapshot.objects.create(
        content_hash=uuid.uuid4().hex * 2, source="tests", extracted_on=date(2021, 6, 30)
    )


def _account(snap: Snapshot, unit: str, number: str) -> BankAccount:
    return BankAccount(snapshot=snap, line=2, unit_id=unit, bank_code="102", branch_code="102100000999",
                       account_no=number, account_name="某单位")  # fmt: skip


def _unit(snap: Snapshot, unit: str) -> Unit:
    return Unit(snapshot=snap, line=2, unit_id=unit, credit_code="911100000000000001", name="某单位",
                unit_type="enterprise", industry="65", district="110105", dispatch=False)  # fmt: skip


def test_many_units_at_once_as_one_at_a_time(small_parameter_limit: int) -> None:
    n = 3 * small_parameter_limit  # more units than a statement may carry parameters
    old, new = _snapshot(), _snapshot()
    units = [f"U{i:05d}" for i in range(n)]
    # old: every unit with an account; new: a third with a new account, a third listed without one (no longer on
    # file), a third not listed at all (the old account is the one on file); one unit in no snapshot
    BankAccount.objects.bulk_create([_account(old, u, f"6222{i:012d}") for i, u in enumerate(units)])
    BankAccount.objects.bulk_create(
        [_account(new, u, f"6228{i:012d}") for i, u in enumerate(units) if i % 3 == 0]
    )
    Unit.objects.bulk_create([_unit(new, u) for i, u in enumerate(units) if i % 3 == 1])
    Unit.objects.bulk_create(
        [_unit(new, u) for i, u in enumerate(units) if i % 3 == 0]
    )  # listed with its account
    asked = [*units, "NOWHERE"]

    found = units_accounts_on_file(unit_ids=asked)

    assert "NOWHERE" not in found and unit_account_on_file(unit_id="NOWHERE") is None
    for unit in units:
        one = unit_account_on_file(unit_id=unit)
        assert one is not None
        snap, account = found[unit]
        assert snap.pk == one[0].pk
        assert (account.pk if account else None) == (one[1].pk if one[1] else None), unit
    assert found[units[0]][0] == new and found[units[0]][1].account_no == "6228000000000000"  # type: ignore[union-attr]
    assert found[units[1]] == (new, None)  # listed without an account: no longer on file
    assert found[units[2]][0] == old and found[units[2]][1].account_no == "6222000000000002"  # type: ignore[union-attr]


def test_no_units_no_query(django_assert_num_queries: Any) -> None:
    _snapshot()
    with django_assert_num_queries(0):
        assert units_accounts_on_file(unit_ids=[]) == {}
