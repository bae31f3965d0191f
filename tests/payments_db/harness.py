"""A small world for the crash and property tests: approved cases, the disbursement worker, the simulated
banks behind the exchange folder, two officers who fix failed payments (four eyes), and the checks that must hold
after any number of crashes and restarts."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from mianshen.cases.models import Case
from mianshen.cases.states import State
from mianshen.payments import crashpoints
from mianshen.payments.banks import next_working_day
from mianshen.payments.formats import parse_camt054
from mianshen.payments.lifecycle import Bucket, InstructionStatus, bucket
from mianshen.payments.models import BankFile, Correction, HoldItem, Instruction, Payment, ReconcileRun
from mianshen.payments.reasons import Action
from mianshen.payments.services.channel import FolderChannel
from mianshen.payments.services.cycle import disbursement_cycle
from mianshen.payments.services.reconcile import reconcile_run
from mianshen.payments.services.recovery import AccountInput, correction_decide, correction_prepare
from mianshen_banksim import BankProfile, BankSimulator

from .factories import MON, account_no, approved_cases, later_drop, simulator

WORKER = "system:disbursement"
MAKER, CHECKER = "officer-li", "officer-wang"
NEW_ACCOUNT = {Action.NEEDS_CORRECTION.value, Action.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT.value}
BLOCKING_HOLDS = ("duplicate", "contradiction", "late", "repeat_booking", "du01")


def crash_profiles(rnd: random.Random, *, lossy: bool = False) -> dict[str, BankProfile]:
    """Banks that lose files, block accounts and return payments now and then (per mille, seeded); ``lossy``:
    bank 102 loses every file handed to it (until the run has crashed at ``after_silence``, see ``run_world``)."""
    if lossy:
        return {
            "102": BankProfile("102", silence_per_mille=1000, blocked_per_mille=0, return_per_mille=0),
            "313": BankProfile("313", reports_only_rejects=True, blocked_per_mille=0, return_per_mille=0),
            "403": BankProfile("403", blocked_per_mille=0, return_per_mille=0),
        }
    return {
        "102": BankProfile("102", technical_ack=True, silence_per_mille=rnd.choice([0, 150, 300]),
                           blocked_per_mille=rnd.choice([0, 60]), return_per_mille=rnd.choice([0, 80])),
        "313": BankProfile("313", reports_only_rejects=True, silence_per_mille=rnd.choice([0, 150]),
                           blocked_per_mille=0, return_per_mille=rnd.choice([0, 80])),
        "403": BankProfile("403", blocked_per_mille=rnd.choice([0, 60]), return_per_mille=0),
    }  # fmt: skip


@dataclass
class World:
    root: Path
    sim: BankSimulator
    channel: FolderChannel
    day: date = MON
    crashes: list[str] = field(default_factory=list)
    corrections: int = 0
    fresh: int = 5_000_000
    focus: str = crashpoints.POINTS[0]

    @classmethod
    def create(cls, root: Path, *, seed: int, profiles: dict[str, BankProfile]) -> World:
        return cls(root, simulator(root, seed=seed, profiles=profiles), FolderChannel(root))

    def guarded(self, step: str, rnd: random.Random, crash_rate: float) -> None:
        """Run a worker step with a crash point armed: the run's own focus point (it fires only if the step
        reaches it; almost surely until it fired once, then half the time), else now and then a random one. A crash
        is a kill: the next step is the restart."""
        point = None
        if rnd.random() < (0.3 if self.focus in self.crashes else 0.9):
            point = self.focus
        elif rnd.random() < crash_rate:
            point = rnd.choice(crashpoints.POINTS)
        try:
            if point is None:
                self._run(step)
            else:
                with crashpoints.crash_at(point, hit=rnd.randint(1, 2)):
                    self._run(step)
        except crashpoints.Crash as crash:
            self.crashes.append(crash.point)

    def _run(self, step: str) -> None:
        if step == "worker":
            disbursement_cycle(actor=WORKER, channel=self.channel, today=self.day)
        elif step == "officers":
            self.officers_fix()

    def bank_day(self) -> None:
        self.sim.process_inbox()
        self.day = next_working_day(self.day)
        self.sim.advance_to(self.day)

    def officers_fix(self) -> None:
        """For every payment awaiting correction: one officer enters a (new) account — the one the unit
        registered at the social-insurance office, carried by the next data drop — and another approves."""
        for payment in Payment.objects.filter(cancelled_at=None).select_related("current", "case"):
            status = InstructionStatus(payment.current.status) if payment.current else None
            if bucket(current=status, cancelled=False) != Bucket.AWAITING_CORRECTION:
                continue
            open_one = Correction.objects.filter(payment=payment, decided_by="").first()
            if open_one is None:
                failed = payment.current
                account = None
                if failed is None or failed.action in NEW_ACCOUNT:
                    self.fresh += 1
                    bank = failed.bank_id if failed else "102"
                    account = AccountInput(bank, f"{bank}100000999", account_no(bank, self.fresh),
                                           payment.case.unit_name)  # fmt: skip
                    later_drop({payment.case.unit_id: account})
                open_one = correction_prepare(case_id=payment.case_id, actor=MAKER, account=account)
            correction_decide(correction_id=open_one.pk, actor=CHECKER, approve=True)
            self.corrections += 1

    def done(self) -> bool:
        if Case.objects.filter(state=State.APPROVED).exists():
            return False
        return all(
            p.current is not None and p.current.status == InstructionStatus.SETTLED
            for p in Payment.objects.select_related("current")
        )


def run_world(root: Path, *, seed: int, crash_rate: float = 0.35, max_days: int = 40) -> World:
    """One seeded run: 5–20 cases over three banks, crashes at random named points, until all are paid."""
    rnd = random.Random(seed)
    crashpoints.reset()
    focus = crashpoints.POINTS[seed % len(crashpoints.POINTS)]
    world = World.create(root, seed=seed, profiles=crash_profiles(rnd, lossy=focus == "after_silence"))
    world.focus = focus
    n = rnd.randint(5, 20)
    fates = {i: rnd.choice(["AC01", "AC04", "BE01"]) for i in range(n) if rnd.random() < 0.15}
    cases = approved_cases(n, banks=("102", "313", "403"), fates=fates)
    for _ in range(max_days):
        if focus == "after_silence" and focus in world.crashes:
            world.sim.profiles["102"] = BankProfile(
                "102", blocked_per_mille=0, return_per_mille=0
            )  # found again
        world.guarded("worker", rnd, crash_rate)
        fixed = world.corrections
        world.guarded("officers", rnd, crash_rate / 2)
        if world.corrections != fixed:
            world.guarded("worker", rnd, crash_rate)  # the re-issues leave the same day
        if world.done() and not world.sim.state.returns:
            disbursement_cycle(actor=WORKER, channel=world.channel, today=world.day)  # restart after a crash
            if world.done():
                break
        world.bank_day()
    else:
        raise AssertionError(f"seed {seed}: not every case was paid after {max_days} days")
    check_world(world, {c.pk: c.amount_fen for c in cases}, seed)
    return world


def bank_ledger(root: Path) -> tuple[Counter[str], Counter[str], dict[str, int]]:
    """What the banks booked, from their own camt.054 files: debits and returns per EndToEndId."""
    debits: Counter[str] = Counter()
    returns: Counter[str] = Counter()
    amounts: dict[str, int] = {}
    for path in sorted(root.glob("*/outbox/*camt.054*.xml")):
        for _, entry, tx in parse_camt054(path).lines():
            assert tx is not None and tx.end_to_end_id
            (returns if tx.is_return else debits)[tx.end_to_end_id] += 1
            amounts[tx.end_to_end_id] = entry.amount_fen
    return debits, returns, amounts


def check_world(world: World, approved: dict[int, int], seed: int) -> None:
    debits, returns, amounts = bank_ledger(world.root)
    by_e2e = dict(Instruction.objects.values_list("end_to_end_id", "case_id"))
    net: Counter[int] = Counter()
    for e2e, n in debits.items():
        assert n == 1, f"seed {seed}: {e2e} booked {n} times by the bank"
        net[by_e2e[e2e]] += 1 - returns.get(e2e, 0)
        assert amounts[e2e] == approved[by_e2e[e2e]], f"seed {seed}: {e2e} paid a wrong amount"
    assert net == Counter(dict.fromkeys(approved, 1)), f"seed {seed}: not settled exactly once: {net}"
    rejected_du01 = Instruction.objects.filter(reject_codes__contains="DU01")
    assert not rejected_du01.exists(), f"seed {seed}: a DU01 failed a payment"
    held = HoldItem.objects.filter(kind__in=BLOCKING_HOLDS)
    assert not held.exists(), f"seed {seed}: unexpected holds {list(held.values_list('key', flat=True))}"
    files = Counter(
        e2e for e2e in Instruction.objects.exclude(bank_file=None).values_list("end_to_end_id", flat=True)
    )
    assert all(v == 1 for v in files.values())
    assert BankFile.objects.exclude(status__in=["answered", "uploaded", "no_answer"]).count() == 0
    latest = ReconcileRun.objects.first()  # every pass of the worker ends with a recorded money check
    assert latest is not None and latest.by == WORKER
    report = reconcile_run()
    assert report.ok and report.difference_fen == 0, (
        f"seed {seed}: {report.case_problems[:3]} {report.day_differences[:3]} {report.ledger_problems[:3]}"
    )
    assert report.buckets_fen[Bucket.SETTLED] == sum(approved.values())
