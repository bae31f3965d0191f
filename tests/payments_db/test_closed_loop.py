"""Closed-loop corrections: money goes only to the unit's social-insurance account in use. A corrected account must
be the unit's account on file in a data drop imported after the failure (the newest drop listing the unit), it
is paid as on file, the checker's approval checks it again, a re-send only goes to the account still on file,
and every refusal is one bilingual line and an audit event (nothing else written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.payments.models import Correction, Instruction
from mianshen.payments.services.closedloop import AccountNotOnFile
from mianshen.payments.services.common import PaymentError
from mianshen.payments.services.recovery import AccountInput, correction_decide, correction_prepare

from .factories import ingest as feed
from .factories import later_drop, uploaded
from .messages import status_report

pytestmark = pytest.mark.django_db
NAME = "北京新账户科技有限公司"


def account(n: int = 1, name: str = NAME) -> AccountInput:
    return AccountInput("105", "105100000001", f"621050000000{n:04d}", name)


def failed_one(root: Path, code: str = "AC01") -> Instruction:
    [bf] = uploaded(1, root=root)
    inst = bf.instructions.get()
    feed(status_report(bf, {inst.end_to_end_id: ("RJCT", (code,))}))
    inst.refresh_from_db()
    assert inst.status == "rejected"
    return inst


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=Action.ACCOUNT_CORRECTION_NOT_ON_FILE))


def refused(failed: Instruction, entered: AccountInput | None, match: str) -> AccountNotOnFile:
    """The correction (or, with ``None``, the re-send) is refused with ``match``; nothing but the refusal's
    audit event is written."""
    before = (Correction.objects.count(), Instruction.objects.count(), len(refusals()))
    with pytest.raises(AccountNotOnFile, match=match) as info:
        correction_prepare(case_id=failed.case_id, actor="li", account=entered)
    assert (Correction.objects.count(), Instruction.objects.count()) == before[:2]
    [*_, event] = refusals()
    assert len(refusals()) == before[2] + 1 and event.actor == "li" and event.object_id == str(failed.case_id)
    assert event.reason == info.value.en and event.after["stage"] == "prepare"
    assert "\n" not in info.value.en and "\n" not in info.value.zh
    return info.value


def test_refused_when_no_drop_was_imported_after_the_failure(tmp_path: Path) -> None:
    failed = failed_one(tmp_path)
    refusal = refused(failed, account(), "no data drop imported since the payment failed")
    assert "ask the unit to update its account at the social-insurance office" in refusal.en
    assert "社保经办机构更新在用账户" in refusal.zh and "下一批数据" in refusal.zh
    assert refusals()[-1].after["entered"] == {"bank": "105", "branch": "105100000001",
                                               "account_no": "6210500000000001", "name": NAME}  # fmt: skip


def test_refused_when_the_matching_drop_is_older_than_the_failure(tmp_path: Path) -> None:
    [bf] = uploaded(1, root=tmp_path)
    inst = bf.instructions.get()
    later_drop({inst.case.unit_id: account()})  # on file before the bank's answer came: not after the failure
    feed(status_report(bf, {inst.end_to_end_id: ("RJCT", ("AC01",))}))
    refused(inst, account(), "no data drop imported since the payment failed")


def test_refused_when_the_later_drop_has_another_account(tmp_path: Path) -> None:
    failed = failed_one(tmp_path)
    later_drop({failed.case.unit_id: account(2)})
    refusal = refused(failed, account(1), r"not unit U\d+'s account on file in snapshot \d+")
    assert "the account number differs" in refusal.en and "账号不同" in refusal.zh
    assert "6210500000000002" not in refusal.en + refusal.zh  # the account on file is not shown
    wrong_name = refused(failed, account(2, name="北京别家科技有限公司"), "the account name differs")
    assert "户名不同" in wrong_name.zh
    other_branch = AccountInput("105", "105100000002", "6210500000000002", NAME)
    refused(failed, other_branch, "the branch code differs")


def test_the_newest_drop_listing_the_unit_counts(tmp_path: Path) -> None:
    failed = failed_one(tmp_path)
    unit = failed.case.unit_id
    later_drop({unit: account(1)})
    later_drop({unit: account(2)})  # the unit changed its account again
    later_drop({"U-SOMEONE-ELSE": account(3)})  # a drop without the unit says nothing about it
    refused(failed, account(1), "the account number differs")
    assert correction_prepare(case_id=failed.case_id, actor="li", account=account(2)).account_no.endswith(
        "0002"
    )


def test_refused_when_the_newest_drop_lists_the_unit_without_an_account(tmp_path: Path) -> None:
    failed = failed_one(tmp_path)
    later_drop({failed.case.unit_id: account()})
    later_drop({failed.case.unit_id: None})
    refused(failed, account(), "lists unit U\\d+ without an account")


def test_refused_when_the_later_drop_still_carries_the_account_that_failed(tmp_path: Path) -> None:
    failed = failed_one(tmp_path, "AC01")
    same = AccountInput(
        failed.bank_id, failed.creditor_branch_code, failed.creditor_account, failed.creditor_name
    )
    later_drop({failed.case.unit_id: same})  # the unit changed nothing
    refused(failed, same, "is still the account that failed \\(AC01\\)")


def test_accepted_when_it_matches_and_paid_as_on_file(tmp_path: Path) -> None:
    failed = failed_one(tmp_path)
    on_file = AccountInput("105", "105100000001", "6210500000000001", "北京新账户（中国）科技有限公司")
    snap = later_drop({failed.case.unit_id: on_file})
    typed = AccountInput("１０５", " 105100000001", "6210 5000-0000 0001", "北京新账户(中国)科技有限公司 ")
    c = correction_prepare(case_id=failed.case_id, actor="li", account=typed, note="单位在社保更新了账户")
    assert (c.snapshot_id, c.bank_id, c.branch_code, c.account_no, c.account_name) == (
        snap.pk, "105", "105100000001", "6210500000000001", "北京新账户（中国）科技有限公司")  # fmt: skip
    prepared = AuditEvent.objects.get(action=Action.ACCOUNT_CORRECTION_PREPARED)
    assert prepared.after["snapshot"] == snap.pk and not refusals()
    new = correction_decide(correction_id=c.pk, actor="wang", approve=True).reissue
    assert new is not None and new.replaces_id == failed.pk and new.account_source == f"correction:{c.pk}"
    assert (new.bank_id, new.creditor_account, new.creditor_name) == (
        "105", "6210500000000001", "北京新账户（中国）科技有限公司")  # fmt: skip


def test_the_checkers_approval_checks_again(tmp_path: Path) -> None:
    failed = failed_one(tmp_path)
    later_drop({failed.case.unit_id: account(1)})
    c = correction_prepare(case_id=failed.case_id, actor="li", account=account(1))
    later_drop({failed.case.unit_id: account(2)})  # a newer drop: the unit's account changed again
    instructions = Instruction.objects.count()
    with pytest.raises(AccountNotOnFile, match="the account number differs"):
        correction_decide(correction_id=c.pk, actor="wang", approve=True)
    c.refresh_from_db()
    assert (c.decided_by, c.reissue_id, Instruction.objects.count()) == ("", None, instructions)
    [event] = refusals()
    assert (event.actor, event.after) == ("wang", {"stage": "decide", "correction": c.pk})
    assert (
        correction_decide(correction_id=c.pk, actor="wang", approve=False, note="账户已变更").outcome
        == "refused"
    )
    c2 = correction_prepare(case_id=failed.case_id, actor="li", account=account(2))
    assert correction_decide(correction_id=c2.pk, actor="wang", approve=True).reissue is not None


def test_a_resend_goes_only_to_the_account_still_on_file(tmp_path: Path) -> None:
    failed = failed_one(tmp_path, "MS03")  # manual triage: nothing wrong with the account as far as we know
    c = correction_prepare(case_id=failed.case_id, actor="li", note="核实后重发")
    assert c.kind == "resend" and c.account_no == failed.creditor_account
    later_drop({failed.case.unit_id: account()})  # meanwhile the unit moved to another account
    with pytest.raises(AccountNotOnFile, match="a re-send would pay an account no longer in use"):
        correction_decide(correction_id=c.pk, actor="wang", approve=True)
    correction_decide(correction_id=c.pk, actor="wang", approve=False)
    refusal = refused(failed, None, "account on file changed in snapshot")
    assert "原账户重发将拨付至非在用账户" in refusal.zh
    assert correction_prepare(case_id=failed.case_id, actor="li", account=account()).kind == "account"


def test_a_refusal_is_a_payment_error_in_both_languages(tmp_path: Path) -> None:
    failed = failed_one(tmp_path)
    with pytest.raises(PaymentError) as info:
        correction_prepare(case_id=failed.case_id, actor="li", account=account())
    assert info.value.text("en") == info.value.en and info.value.text("zh-hans") == info.value.zh
    assert info.value.zh.startswith(f"案件 {failed.case_id}：") and info.value.en.startswith(
        f"case {failed.case_id}:"
    )


# Tables that grow with the city (hundreds of thousands of rows at Beijing's size): no statement of a one-case
# service may read them whole.
BIG = ("payments_instruction", "payments_payment", "cases_case", "registry_unit", "registry_bankaccount",
       "payments_statusline", "payments_booking", "audit_auditevent", "cases_casehistory")  # fmt: skip


def test_a_correction_reads_no_big_table_whole(tmp_path: Path) -> None:
    """Regression: the re-issue checked for a live instruction with ``case_id = ? AND status IN (?, …)``, which
    SQLite cannot answer from the partial index one_live_instruction_per_case (bound parameters), so each of the
    demo's 14,448 corrections at Beijing's size scanned every instruction. Every SELECT of prepare and decide is
    explained; none may scan a table that grows with the city."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip(
            "the plans checked are SQLite's (PostgreSQL plans a bound IN list against a partial index)"
        )
    failed = failed_one(tmp_path)
    on_file = AccountInput("105", "105100000001", "6210500000000001", NAME)
    later_drop({failed.case.unit_id: on_file})
    statements: list[tuple[str, tuple[object, ...]]] = []

    def keep(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if not many and sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        c = correction_prepare(case_id=failed.case_id, actor="li", account=on_file)
        assert correction_decide(correction_id=c.pk, actor="wang", approve=True).reissue is not None
    assert statements
    scans = []
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            for *_, detail in cursor.fetchall():
                newest = " INDEX " in detail and sql.rstrip().endswith(
                    "LIMIT 1"
                )  # one row from an index's end
                if detail.startswith("SCAN ") and any(detail[5:].startswith(t) for t in BIG) and not newest:
                    scans.append(f"{detail}: {sql[:160]}")
    assert scans == []
