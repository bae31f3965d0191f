"""Payments in the back-office world, built through the real path on top of ``world.build``.

Cases on public notice are approved (``case_transition``), handed over (``payments_release``), frozen into
pain.001 files (``bank_files_build``) and handed to a folder channel (``bank_files_upload_pending``); the banks'
answers are written with ``tests.payments_db.messages`` and ingested (``inbound_file_ingest``); corrections and
requests go through the recovery and approval services. In district ``D``:

- ``paid``: accepted and booked (camt.054): settled, the case ``paid``;
- ``inflight``: accepted (ACCP), its booking came in a camt.054 for an account that is not the fund's, which is
  quarantined (``quarantined``; processing it again succeeds once ``MIANSHEN_FUND_ACCOUNT`` = ``OTHER_FUND``);
- ``corrected``: rejected AC01, a corrected account entered by ``maker`` waits for a checker (``correction``);
- ``failed``: rejected AC01, nothing done yet (a later data drop carries ``NEW_ACCOUNT`` for it, as for
  ``corrected`` and ``reissued``: a correction must be the unit's account on file);
- ``cancel``: rejected AC04 (closed), a cancellation requested by ``maker`` waits (``approval``);
- ``reissued``: rejected BE01, corrected by ``maker``, approved by ``rev``: re-issued, waiting for the next file;
- ``defect``: in a file of its own (``defect_file``) that the bank rejected whole (AM10, our defect): the open
  hold ``hold`` waits, and the file's payments wait for a re-issue request;

and ``elsewhere``, rejected AC01 in a third district ``E`` (neither ``D`` nor the other officer's ``X``).
The money identity holds to the fen in this world.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

from mianshen.cases.models import Case
from mianshen.cases.states import State
from mianshen.cases.transitions import case_transition
from mianshen.payments.models import (
    Approval,
    ApprovalKind,
    BankFile,
    Correction,
    HoldItem,
    InboundFile,
    Instruction,
    Payment,
)
from mianshen.payments.services.approvals import approval_request
from mianshen.payments.services.bankfiles import bank_files_build, bank_files_upload_pending
from mianshen.payments.services.channel import FolderChannel
from mianshen.payments.services.common import bank_registry_load_defaults
from mianshen.payments.services.ingest import inbound_file_ingest
from mianshen.payments.services.instructions import payments_release
from mianshen.payments.services.reconcile import reconcile_record
from mianshen.payments.services.recovery import AccountInput, correction_decide, correction_prepare
from tests.payments_db.factories import later_drop
from tests.payments_db.messages import bookings, status_report

from .world import World

MON = date(2026, 11, 30)  # a Monday: files execute on Tuesday 1 December
BOOKED = date(2026, 12, 1)
OTHER_FUND = "110060000000000999"  # the fund's "new" account the quarantined booking names
NEW_ACCOUNT = ("105", "105100000001", "6210500000000001")  # a corrected account (bank, branch, number)
ROLES = ("paid", "inflight", "corrected", "failed", "cancel", "reissued", "defect")
ANSWER = {  # what the bank says about each payment of the first files
    "paid": ("ACSC", ()),
    "inflight": ("ACCP", ()),
    "corrected": ("RJCT", ("AC01",)),
    "failed": ("RJCT", ("AC01",)),
    "cancel": ("RJCT", ("AC04",)),
    "reissued": ("RJCT", ("BE01",)),
    "elsewhere": ("RJCT", ("AC01",)),
}


@dataclass(frozen=True)
class PayWorld(World):
    third_district: str
    paid: Case
    inflight: Case
    corrected: Case
    failed: Case
    cancel: Case
    reissued: Case
    defect: Case
    elsewhere: Case
    correction: Correction
    approval: Approval
    defect_file: BankFile
    hold: HoldItem
    quarantined: InboundFile
    files: tuple[BankFile, ...]


def _approve(cases: list[Case]) -> None:
    for case in cases:
        case_transition(case_id=case.pk, to=State.APPROVED, actor="city", reason="test: approved")


def _release(cases: list[Case], channel: FolderChannel) -> list[BankFile]:
    _approve(cases)
    released = payments_release(actor="system:test", case_ids=[c.pk for c in cases])
    assert released.released == len(cases)
    files = bank_files_build(actor="system:test", today=MON, later_batch=True)
    bank_files_upload_pending(actor="system:test", channel=channel, today=MON)
    return list(BankFile.objects.filter(pk__in=[f.pk for f in files]).order_by("pk"))


def _feed(data: bytes, name: str) -> InboundFile:
    return inbound_file_ingest(data=data, name=name, actor="system:bank").inbound


def _instructed(candidates: list[Case], n: int) -> list[Case]:
    """The first ``n`` candidates whose unit has a usable account on file in its round's snapshot (the checks
    ``payments_release`` makes), so that each gets an instruction."""
    from mianshen.payments.models import Bank
    from mianshen.payments.services.instructions import Account, account_problem
    from mianshen.registry.models import BankAccount

    banks = set(Bank.objects.values_list("code", flat=True))
    chosen = []
    for case in candidates:
        assert case.last_round is not None
        row = BankAccount.objects.filter(
            snapshot_id=case.last_round.snapshot_id, unit_id=case.unit_id
        ).first()
        if row is None:
            continue
        account = Account(row.bank_code, row.branch_code, row.account_no, row.account_name, "")
        if not account_problem(account, banks):
            chosen.append(case)
        if len(chosen) == n:
            return chosen
    raise AssertionError(f"only {len(chosen)} publicised cases with a usable account, {n} needed")


def build_payments(world: World, root: Path) -> PayWorld:
    bank_registry_load_defaults()
    channel = FolderChannel(root)
    publicised = Case.objects.select_related("last_round").filter(state=State.PUBLICISED).order_by("unit_id")
    in_d = _instructed(list(publicised.filter(district=world.district).exclude(pk=world.publicised.pk)), 7)
    cases = dict(zip(ROLES, in_d, strict=True))
    third = next(
        d
        for d in publicised.exclude(district__in=[world.district, world.other_district])
        .values_list("district", flat=True)
        .order_by("district")
    )
    [cases["elsewhere"]] = _instructed(list(publicised.filter(district=third)), 1)

    # the first files: every payment but the defective file's
    first = [cases[r] for r in ANSWER]
    files = _release(first, channel)
    current = {r: Instruction.objects.get(case=cases[r]) for r in ANSWER}
    for bf in files:
        lines = {i.end_to_end_id: ANSWER[r] for r, i in current.items() if i.bank_file_id == bf.pk}
        _feed(status_report(bf, lines), f"pain002-{bf.msg_id}.xml")
    _feed(bookings([current["paid"]], day=BOOKED), "camt054-paid.xml")
    quarantined = _feed(
        bookings([current["inflight"]], day=BOOKED, account=OTHER_FUND), "camt054-new-account.xml"
    )
    assert quarantined.status == "quarantined", quarantined.reason

    # a file of its own, rejected whole for a defect of ours (AM10: control sum)
    [defect_file] = _release([cases["defect"]], channel)
    _feed(status_report(defect_file, group="RJCT", group_codes=("AM10",), echo=False), "pain002-am10.xml")
    hold = HoldItem.objects.get(key=f"our_defect:{defect_file.msg_id}", resolved_at=None)

    bank, branch, number = NEW_ACCOUNT
    # the units fixed their accounts at the social-insurance office; the next data drop carries them
    later_drop({
        cases["failed"].unit_id: AccountInput(bank, branch, number, cases["failed"].unit_name),
        cases["corrected"].unit_id: AccountInput(bank, branch, number, cases["corrected"].unit_name),
        cases["reissued"].unit_id: AccountInput(bank, branch, "6210500000000002", cases["reissued"].unit_name),
    })  # fmt: skip
    correction = correction_prepare(
        case_id=cases["corrected"].pk,
        actor="maker",
        account=AccountInput(bank, branch, number, cases["corrected"].unit_name),
        note="单位来函更正账号",
    )
    fixed = correction_prepare(
        case_id=cases["reissued"].pk,
        actor="maker",
        account=AccountInput(bank, branch, "6210500000000002", cases["reissued"].unit_name),
        note="单位更名后的账户",
    )
    correction_decide(correction_id=fixed.pk, actor="rev", approve=True, note="核对无误")
    approval = approval_request(
        kind=ApprovalKind.CANCEL_PAYMENT, case_id=cases["cancel"].pk, actor="maker", reason="单位已注销"
    )

    for case in [*cases.values()]:
        case.refresh_from_db()
    expect = {
        "paid": State.PAID,
        "inflight": State.RELEASED,
        "reissued": State.RELEASED,
    }
    for role, case in cases.items():
        assert case.state == expect.get(role, State.AWAITING_CORRECTION), (role, case.state)
    assert Payment.objects.filter(case__in=cases.values()).count() == len(cases)
    report, _run = reconcile_record(actor="system:test")  # recorded: the overview shows the latest check
    assert report.ok, (report.case_problems, report.ledger_problems, report.difference_fen)
    base: dict[str, Any] = {f.name: getattr(world, f.name) for f in fields(World)}
    return PayWorld(
        **base,
        third_district=third,
        paid=cases["paid"],
        inflight=cases["inflight"],
        corrected=cases["corrected"],
        failed=cases["failed"],
        cancel=cases["cancel"],
        reissued=cases["reissued"],
        defect=cases["defect"],
        elsewhere=cases["elsewhere"],
        correction=correction,
        approval=approval,
        defect_file=defect_file,
        hold=hold,
        quarantined=quarantined,
        files=(*files, defect_file),
    )
