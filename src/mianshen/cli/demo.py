"""The demo: the whole cycle on the embedded database, from a generated city to refunds paid and reconciled.

Each step calls the same services the commands and the back office call; nothing here is demo-only logic
except ``freshen_drop`` (the "fresh data" a later comparison sees), ``accounts_drop`` (the next drop, carrying
the accounts units registered after a failed payment) and the simulated passage of the 7-day notice period.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from django.db.models import Count, Sum
from django.utils import timezone

from mianshen.core.money import format_yuan

if TYPE_CHECKING:
    from mianshen.cases.models import Case
    from mianshen.payments.models import Payment
    from mianshen.registry.models import Snapshot

POLICY = "beijing-2021"
AS_OF = date(2021, 7, 1)
AS_OF_FINAL = date(2021, 7, 20)
# `mianshen demo --policy retention-training-2022`: the second family through the same services
RETENTION_POLICY = "retention-training-2022"
RETENTION_AS_OF = date(2022, 6, 30)
RETENTION_AS_OF_FINAL = date(2022, 7, 20)


class DemoStopped(Exception):
    """A step of the demo failed (a background job, typically): the demo stops there, with one line saying what
    failed; the details are in the log."""


@dataclass
class DemoReport:
    lines: list[tuple[str, str]] = field(default_factory=list)

    def add(self, step: str, text: str) -> None:
        self.lines.append((step, text))


def freshen_drop(src: Path, dst: Path, decisions: pl.DataFrame) -> dict[str, int]:
    """Drop B = drop A with the fresh data a second comparison sees: host employers of half the dispatch
    firms confirmed, units whose only problem was arrears paid them, two eligible units newly listed as
    seriously dishonest. Returns what changed."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    pending = decisions.filter(pl.col("decision") == "pending_confirmation")["unit_id"].sort().to_list()
    confirm = pending[: (len(pending) + 1) // 2]
    with (dst / "dispatch_confirmations.csv").open("a", encoding="utf-8") as f:
        f.writelines(f"{u},2021-06-25\n" for u in confirm)
    arrears = decisions.filter(pl.col("failed") == "ARREARS")["unit_id"].sort().to_list()[:20]
    contributions = pl.read_csv(dst / "contributions.csv", infer_schema=False)
    fix = pl.col("unit_id").is_in(arrears)
    contributions.with_columns(
        pl.when(fix).then(pl.col("due_fen")).otherwise(pl.col("paid_fen")).alias("paid_fen"),
        pl.when(fix & pl.col("paid_on").is_null())
        .then(pl.lit("2021-06-28"))
        .otherwise(pl.col("paid_on"))
        .alias("paid_on"),
    ).write_csv(dst / "contributions.csv")
    eligible = decisions.filter(pl.col("decision") == "eligible").sort("unit_id")
    flagged = eligible["credit_code"].head(2).to_list()
    with (dst / "credit_flags.csv").open("a", encoding="utf-8") as f:
        f.writelines(f"{code},serious_dishonesty,2021-06-15,,发展改革委\n" for code in flagged)
    return {"confirmed": len(confirm), "arrears_paid": len(arrears), "newly_flagged": len(flagged)}


def accounts_drop(src: Path, dst: Path, accounts: dict[str, tuple[str, str, str, str]]) -> None:
    """The next data drop: ``src`` with these units' accounts {unit_id: (bank, branch, number, name)} as they
    registered them at the social-insurance office after a failed payment. A correction must match the account
    on file in a drop imported after the failure (closed loop), so the officers wait for this one."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    path = dst / "bank_accounts.csv"
    rows = pl.read_csv(path, infer_schema=False)
    fixed = pl.DataFrame(
        [(unit, *account) for unit, account in sorted(accounts.items())], schema=rows.columns, orient="row"
    )
    pl.concat([rows.filter(~pl.col("unit_id").is_in(list(accounts))), fixed]).write_csv(path)


def run_demo(*, root: Path, units: int, seed: int, say: Callable[[str, str], None]) -> DemoReport:
    """Run every step; ``say(step, text)`` reports progress as it goes."""
    from mianshen.audit.verify import audit_verify
    from mianshen.cases.models import Case
    from mianshen.cases.services import (
        notice_open,
        objection_decide,
        objection_record,
        review_decide,
        review_prepare,
    )
    from mianshen.cases.states import State
    from mianshen.core.jobs import JobFailed, job_drain
    from mianshen.datadrop.generate import generate
    from mianshen.datadrop.validate import validate_drop
    from mianshen.policy.engine import screen
    from mianshen.policy.output import write_decisions
    from mianshen.policy.parameters import resolve
    from mianshen.registry.services import snapshot_import
    from mianshen.screening.models import Checkpoint, ScreeningRound
    from mianshen.screening.services import round_diff, round_start

    report = DemoReport()

    def note(step: str, text: str) -> None:
        report.add(step, text)
        say(step, text)

    drop_a = root / "drop-2021-07-01"
    rows = generate(units=units, seed=seed, out=drop_a, fmt="csv")
    note("generate", f"{units:,} units, {sum(rows.values()):,} rows in {drop_a}")

    drop = validate_drop(drop_a)
    note("validate", f"{drop.error_count} errors, {drop.warning_count} warnings")

    params = resolve(POLICY, AS_OF)
    decided = screen(drop.tables, params, AS_OF)
    csv_path, _ = write_decisions(decided, root / "screen")
    decided = decided.select("unit_id", "credit_code", "decision", "failed")  # what ``freshen_drop`` reads
    counts = dict(decided.group_by("decision").len().iter_rows())
    note("screen", f"{csv_path}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))

    snap_a = snapshot_import(drop=drop, extracted_on=AS_OF).snapshot
    del drop  # the drop's frames are in the database now: a round reads them back from there
    note("import", f"snapshot {snap_a.pk} ({snap_a.content_hash[:12]})")

    def run_round(snapshot: Snapshot, checkpoint: str, as_of: date) -> ScreeningRound:
        rnd = round_start(
            policy_id=POLICY,
            snapshot=snapshot,
            actor="市级管理员 admin",
            as_of=as_of,
            checkpoint=checkpoint,
        )
        try:
            job_drain(stop_on_failure=True, kinds={"screening.round"})
        except JobFailed as exc:
            raise DemoStopped(f"round {rnd.number} ({checkpoint}): {exc}") from exc
        rnd.refresh_from_db()
        note(
            f"round {rnd.number}",
            f"{checkpoint}: " + ", ".join(f"{k} {v:,}" for k, v in rnd.counts["decision"].items()),
        )
        return rnd

    r1 = run_round(snap_a, Checkpoint.INITIAL, AS_OF)

    # manual review with four eyes: one officer prepares, another approves
    reviewed = Case.objects.filter(policy_id=POLICY, state=State.UNDER_REVIEW).order_by("unit_id").first()
    if reviewed is not None:
        review = review_prepare(
            case_id=reviewed.pk,
            recommendation="approve",
            notes="经营异常已移出，核实正常经营",
            actor="区经办 officer-a",
        )
        review_decide(review_id=review.pk, approve=True, actor="复核员 reviewer-b", reason="同意")
        note("review", f"case {reviewed.unit_id}: prepared by officer-a, approved by reviewer-b (four eyes)")

    breach = _key_supervision_applies(note)
    hosted = _hosts_confirm(decided, note)

    drop_b = root / "drop-2021-07-05"
    changed = freshen_drop(drop_a, drop_b, decided)
    snap_b = snapshot_import(drop=validate_drop(drop_b), extracted_on=AS_OF).snapshot
    note("fresh data", ", ".join(f"{k} {v}" for k, v in changed.items()))
    r2 = run_round(snap_b, Checkpoint.BEFORE_PUBLICITY, AS_OF)
    diff = round_diff(before=r1, after=r2)
    note("diff", ", ".join(f"{k} {v}" for k, v in diff.counts.items()) or "no change")

    start = timezone.localdate() - timedelta(days=2)
    notice = notice_open(policy_id=POLICY, actor="市级管理员 admin", start=start)
    note(
        "publicity",
        f"notice {notice.pk}: {notice.entries.count():,} units, "
        f"{timezone.localtime(notice.starts_at):%Y-%m-%d} 00:00 to "
        f"{timezone.localtime(notice.ends_at) - timedelta(days=1):%Y-%m-%d} 24:00 Beijing time "
        "(日期为今日日历，非 2021 年 / dates are today's calendar, not 2021's: the data are as of "
        f"{AS_OF}, the steps run now)",
    )

    on_notice = list(Case.objects.filter(policy_id=POLICY, state=State.PUBLICISED).order_by("unit_id")[:2])
    if len(on_notice) == 2:
        o1 = objection_record(
            case_id=on_notice[0].pk,
            raised_by="public",
            contact="13800000000",
            grounds="该单位已停止经营",
            actor="区经办 officer-a",
        )
        o2 = objection_record(
            case_id=on_notice[1].pk,
            raised_by="unit",
            contact="13900000000",
            grounds="返还金额有误",
            actor="区经办 officer-a",
        )
        objection_decide(objection_id=o1.pk, outcome="upheld", reason="核实已停业", actor="复核员 reviewer-b")
        objection_decide(
            objection_id=o2.pk, outcome="rejected", reason="金额按规则计算无误", actor="复核员 reviewer-b"
        )
        note("objections", "2 recorded: 1 upheld (unit excluded), 1 rejected (back on the notice)")

    # the notice period passes (simulated): the comparison right before payment
    from mianshen.cases.services import case_apply_round
    from mianshen.screening.services import round_run

    rnd3 = round_start(
        policy_id=POLICY,
        snapshot=snap_b,
        actor="市级管理员 admin",
        as_of=AS_OF_FINAL,
        checkpoint=Checkpoint.BEFORE_PAYMENT,
    )
    rnd3 = round_run(round_id=rnd3.pk)
    applied = case_apply_round(
        round=rnd3, actor=f"round {rnd3.number}", now=notice.ends_at + timedelta(minutes=1)
    )
    from mianshen.core.models import Job

    Job.objects.filter(key=f"round:{rnd3.pk}").delete()  # ran in-process with the simulated clock
    approved = Case.objects.filter(policy_id=POLICY, state=State.APPROVED)
    total = approved.aggregate(total=Sum("amount_fen"))["total"] or 0
    note(
        f"round {rnd3.number}",
        f"before_payment: {applied.moved:,} cases moved; {approved.count():,} approved, {format_yuan(total, unit='symbol')}",
    )

    _pay(root=root, seed=seed, note=note, drop=drop_b)
    if breach is not None:
        breach.refresh_from_db()
        note("key supervision", f"commitment-breach unit {breach.unit_id}: applied, granted by two officers, "
             f"carried by the next rounds — now {breach.state}"
             + (" (paid)" if breach.state == State.PAID else ""))  # fmt: skip
    if hosted is not None:
        hosted.refresh_from_db()
        note("dispatch hosts", f"labour-dispatch firm {hosted.unit_id}: confirmed by its host employers, "
             f"carried by the next rounds — now {hosted.state}")  # fmt: skip
    _tell(root=root, note=note)

    from mianshen.audit.services import audit_checkpoint

    note("audit", f"chain head written outside the database to {audit_checkpoint()}")
    result = audit_verify()
    note("audit", result.summary())
    return report


def run_retention_demo(*, root: Path, units: int, seed: int, say: Callable[[str, str], None]) -> DemoReport:
    """The one-off retention training subsidy (一次性留工培训补助) through the same services: a generated city with
    risk areas and person-months, screened, imported, three comparison rounds, publicity, approval (each approved
    unit entered once in the benefit ledger), payment through the simulated banks with its own remittance text,
    reconciliation and the audit check."""
    from mianshen.audit.verify import audit_verify
    from mianshen.cases.models import BenefitLedger, Case
    from mianshen.cases.services import case_apply_round, notice_open
    from mianshen.cases.states import State
    from mianshen.core.jobs import JobFailed, job_drain
    from mianshen.core.models import Job
    from mianshen.datadrop.generate import generate
    from mianshen.datadrop.validate import validate_drop
    from mianshen.payments.models import Instruction
    from mianshen.policy.families import family_of
    from mianshen.policy.output import write_decisions
    from mianshen.policy.parameters import resolve
    from mianshen.registry.services import snapshot_import
    from mianshen.screening.models import Checkpoint
    from mianshen.screening.services import round_run, round_start

    report = DemoReport()

    def note(step: str, text: str) -> None:
        report.add(step, text)
        say(step, text)

    drop_path = root / "drop-2022-06-30"
    rows = generate(units=units, seed=seed, out=drop_path, fmt="csv", retention=True)
    note(
        "generate",
        f"{units:,} units, {sum(rows.values()):,} rows in {drop_path} (with risk_areas, person_months)",
    )
    drop = validate_drop(drop_path)
    note("validate", f"{drop.error_count} errors, {drop.warning_count} warnings")
    params = resolve(RETENTION_POLICY, RETENTION_AS_OF)
    family = family_of(params)
    decided = family.screen(drop.tables, params, RETENTION_AS_OF)
    csv_path, _ = write_decisions(decided, root / "screen", family.decision_columns, family.int_columns)
    counts = dict(decided.group_by("decision").len().iter_rows())
    note("screen", f"{csv_path}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    snapshot = snapshot_import(drop=drop, extracted_on=RETENTION_AS_OF).snapshot
    del drop
    note("import", f"snapshot {snapshot.pk} ({snapshot.content_hash[:12]})")
    for checkpoint in (Checkpoint.INITIAL, Checkpoint.BEFORE_PUBLICITY):
        rnd = round_start(policy_id=RETENTION_POLICY, snapshot=snapshot, actor="市级管理员 admin",
                          as_of=RETENTION_AS_OF, checkpoint=checkpoint)  # fmt: skip
        try:
            job_drain(stop_on_failure=True, kinds={"screening.round"})
        except JobFailed as exc:
            raise DemoStopped(f"round {rnd.number} ({checkpoint}): {exc}") from exc
        rnd.refresh_from_db()
        note(
            f"round {rnd.number}",
            f"{checkpoint}: " + ", ".join(f"{k} {v:,}" for k, v in rnd.counts["decision"].items()),
        )
    start = timezone.localdate() - timedelta(days=2)
    notice = notice_open(policy_id=RETENTION_POLICY, actor="市级管理员 admin", start=start)
    note("publicity", f"notice {notice.pk}: {notice.entries.count():,} units (dates are today's calendar)")
    final = round_start(policy_id=RETENTION_POLICY, snapshot=snapshot, actor="市级管理员 admin",
                        as_of=RETENTION_AS_OF_FINAL, checkpoint=Checkpoint.BEFORE_PAYMENT)  # fmt: skip
    final = round_run(round_id=final.pk)
    applied = case_apply_round(
        round=final, actor=f"round {final.number}", now=notice.ends_at + timedelta(minutes=1)
    )
    Job.objects.filter(key=f"round:{final.pk}").delete()  # ran in-process with the simulated clock
    approved = Case.objects.filter(policy_id=RETENTION_POLICY, state=State.APPROVED)
    total = approved.aggregate(total=Sum("amount_fen"))["total"] or 0
    ledger = BenefitLedger.objects.filter(policy_id=RETENTION_POLICY).count()
    note(f"round {final.number}", f"before_payment: {applied.moved:,} cases moved; {approved.count():,} approved, "
         f"{format_yuan(total, unit='symbol')}; {ledger:,} units entered in the benefit ledger (once, ever)")  # fmt: skip
    _pay(root=root, seed=seed, note=note, drop=drop_path, policy_id=RETENTION_POLICY)
    sample = Instruction.objects.filter(case__policy_id=RETENTION_POLICY).order_by("pk").first()
    if sample is not None:
        note("remittance", sample.remittance)
    from mianshen.audit.services import audit_checkpoint

    note("audit", f"chain head written outside the database to {audit_checkpoint()}")
    note("audit", audit_verify().summary())
    return report


def _key_supervision_applies(note: Callable[[str, str], None]) -> Case | None:
    """One unit on the commitment-breach track (key supervision: it must apply) applies through the portal's own
    service, as if signed in through /lookup/; one officer prepares the review, another grants it (four eyes).
    The next rounds carry the granted application through (``cases.services.case_apply_round``)."""
    from mianshen.cases.models import Application, Case
    from mianshen.cases.services import review_decide, review_prepare
    from mianshen.cases.states import State
    from mianshen.portal import applications

    case = Case.objects.filter(policy_id=POLICY, state=State.AWAITING_APPLICATION).order_by("unit_id").first()
    if case is None:
        return None
    units = (case.unit_id,)  # the session of a unit signed in through /lookup/
    answers = {"statement": "已补足承诺的岗位数并配合核查，申请恢复享受稳岗返还。", "contact_name": "王经理",
               "contact_phone": "13900000001"}  # fmt: skip
    draft = applications.draft_make(units, case.pk, "key_supervision", answers, [])
    app: Application = applications.application_file(units, draft)
    review = review_prepare(case_id=case.pk, recommendation="approve", notes="整改属实，材料核实无误",
                            actor="区经办 officer-a", kind="application")  # fmt: skip
    review_decide(review_id=review.pk, approve=True, actor="复核员 reviewer-b", reason="同意，继续重点监管")
    app.refresh_from_db()
    note("key supervision", f"commitment-breach unit {case.unit_id} applied on /apply/ ({app.reference}); "
         f"prepared by officer-a, {app.outcome} by reviewer-b (four eyes)")  # fmt: skip
    return case


def _hosts_confirm(decided: pl.DataFrame, note: Callable[[str, str], None]) -> Case | None:
    """A labour-dispatch firm awaiting confirmation: each of its host employers that is a unit of the city, signed
    in through /lookup/ as itself, confirms the workers placed with it on /apply/ through the portal's own service;
    the last confirmation moves the case on (``cases.hosts``). A firm whose hosts are all in the city is chosen
    first, preferring one the fresh data will not confirm (``freshen_drop`` confirms the first half); failing one,
    a host outside the city (it cannot sign in) is confirmed by phone and recorded by an officer."""
    from mianshen.cases.hosts import case_hosts
    from mianshen.cases.models import Case
    from mianshen.cases.services import confirmation_record
    from mianshen.cases.states import State
    from mianshen.portal import dispatch
    from mianshen.registry.models import Unit

    pending = decided.filter(pl.col("decision") == "pending_confirmation")["unit_id"].sort().to_list()
    half = (len(pending) + 1) // 2
    candidates = []
    for unit_id in [*reversed(pending[half:]), *pending[:half]]:
        case = Case.objects.filter(
            policy_id=POLICY, unit_id=unit_id, state=State.AWAITING_CONFIRMATION
        ).first()
        if case is None or case.last_round is None:
            continue
        hosts = case_hosts(case)
        units = dict(
            Unit.objects.filter(snapshot_id=case.last_round.snapshot_id, credit_code__in=list(hosts))
            .order_by("-unit_id")
            .values_list("credit_code", "unit_id")
        )
        if units:
            candidates.append((not set(hosts) - set(units), case, hosts, units))
    if not candidates:
        note(
            "dispatch hosts", "no labour-dispatch firm awaiting confirmation with a host employer in the city"
        )
        return None
    _all_in, case, hosts, units = max(candidates, key=lambda c: c[0])  # the first with every host in the city
    refs = []
    for code in hosts:
        if code in units:
            session = (units[code],)  # the session of the host signed in through /lookup/
            draft = dispatch.draft_make(session, case.pk, {"answer": "confirm"})
            refs.append(dispatch.answer_file(session, draft).answer.reference)
    outside = [code for code in hosts if code not in units]
    text = f"labour-dispatch firm {case.unit_id}: {len(refs)} host employer(s) confirmed on /apply/ ({', '.join(refs)})"
    if outside:
        confirmation_record(case_id=case.pk, confirmed_on=AS_OF + timedelta(days=2), actor="区经办 officer-a",
                            evidence=f"用工单位 {', '.join(outside)} 在本市以外，电话核实派遣人数无误")  # fmt: skip
        text += f"; {len(outside)} outside the city confirmed by phone, recorded by officer-a"
    case.refresh_from_db()
    note("dispatch hosts", f"{text} — now {case.state}")
    return case


MAX_PASSES = 16  # business days of one settling: the bank's answers, bookings, returns, silent files re-sent
MAX_DROPS = 4  # data drops with corrected accounts (a re-issued payment may fail again, rarely)
DEMO_MESSAGES = 300  # messages of the other kinds the demo delivers itself; the worker sends the rest


def _tell(*, root: Path, note: Callable[[str, str], None]) -> None:
    """Deliver the units' messages through the file sender under ``root/outbox``: every message about a failed
    payment or a missing account, and the first ``DEMO_MESSAGES`` others (``mianshen worker`` or ``mianshen notify
    send`` delivers the rest). SMS waits for the end of quiet hours: the demo's clock jumps there if need be."""
    from mianshen.notify.kinds import Channel, Kind
    from mianshen.notify.models import Message
    from mianshen.notify.senders import FileSender, InboxSender
    from mianshen.notify.services import Sender, deliver_due, not_before

    files = FileSender(root / "outbox")
    senders: dict[str, Sender] = {Channel.SMS: files, Channel.EMAIL: files, Channel.INBOX: InboxSender()}
    when = not_before(Kind.LISTED, Channel.SMS, timezone.now())
    failed_kinds = [Kind.PAYMENT_FAILED, Kind.NO_ACCOUNT]
    while deliver_due(senders=senders, now=when, kinds=failed_kinds, limit=5000).delivered:
        pass
    deliver_due(senders=senders, now=when, limit=DEMO_MESSAGES)
    told = Message.objects.filter(kind__in=failed_kinds, channel=Channel.SMS, state="delivered")
    units = told.values("unit_id").distinct().count()
    queued = Message.objects.filter(state="queued").count()
    # the delivery jobs queued with the messages: the worker's idle sweep (``deliver_due``) sends what is left,
    # job or not; the demo does not send 2 messages a unit one at a time itself (at Beijing's size, 1.8 million)
    from mianshen.core.models import Job

    Job.objects.filter(kind="notify.deliver", status="queued").delete()
    by_kind = ", ".join(
        f"{k} {n:,}" for k, n in Message.objects.values_list("kind").annotate(n=Count("id")).order_by("kind")
    )
    note("notify", f"{Message.objects.count():,} messages ({by_kind}); {units} unit(s) told of a failed payment by "
         f"SMS; readable files under {root / 'outbox'}/sms/ (`mianshen notify outbox --kind payment_failed`); "
         f"{queued:,} queued for `mianshen worker`")  # fmt: skip


def _corrected_account(bank: str, serial: int) -> str:
    """A corrected account number as the unit would give it: one that the simulated bank accepts."""
    from mianshen.datadrop.generate import account_fate

    while True:
        number = f"{bank}{serial:016d}"
        if account_fate(number) is None:
            return number
        serial += 1


def _pay(
    *, root: Path, seed: int, note: Callable[[str, str], None], drop: Path, policy_id: str = POLICY
) -> None:
    """Hand approved cases to payments and pay them through the simulated banks: pain.001 out, pain.002 and
    camt.054 back; the units with failed payments register new accounts at the social-insurance office, the
    next data drop (after ``drop``) carries them, one officer enters each and another approves; re-issued,
    reconciled."""
    from mianshen.payments.banks import next_working_day
    from mianshen.payments.lifecycle import IN_FLIGHT, InstructionStatus
    from mianshen.payments.models import BankFile, Instruction
    from mianshen.payments.selectors import payments_awaiting_correction
    from mianshen.payments.services.channel import FolderChannel
    from mianshen.payments.services.common import bank_registry_load_defaults
    from mianshen.payments.services.cycle import disbursement_cycle
    from mianshen.payments.services.reconcile import reconcile_record
    from mianshen_banksim import BankSimulator
    from mianshen_banksim.profiles import DEFAULT_PROFILES

    bank_registry_load_defaults()  # the agency's bank configuration (idempotent; migrations seed it too)
    banks = root / "banks"
    channel = FolderChannel(banks)
    day = next_working_day(timezone.localdate())
    sim = BankSimulator(banks, seed=seed, business_date=day)
    # a settled payment may come back up to this many business days after it was booked
    window = max(p.return_after_days[1] for p in DEFAULT_PROFILES.values())
    in_flight = sorted(s.value for s in IN_FLIGHT)

    def settle(later: bool) -> None:
        """Business days pass until nothing is in flight and no booking is young enough to come back."""
        nonlocal day
        quiet = 0
        for _ in range(MAX_PASSES):
            # the money is checked once, after the last pass (``reconcile`` below), not after each of these
            disbursement_cycle(actor="system:disbursement", channel=channel, today=day, policy_id=policy_id,
                               later_batch=later, reconcile=False)  # fmt: skip
            sim.process_inbox()
            day = next_working_day(day)
            sim.advance_to(day)
            disbursement_cycle(actor="system:disbursement", channel=channel, today=day, release=False,
                               later_batch=later, reconcile=False)  # fmt: skip
            flying = Instruction.objects.filter(status__in=in_flight)
            if not later:  # the other banks' instructions wait for the later batch
                flying = flying.filter(bank__cooperating=True)
            quiet = 0 if flying.exists() else quiet + 1
            if quiet > window:
                return

    for batch, later in (("cooperating banks", False), ("other banks (later batch)", True)):
        settle(later)
        note("payment", f"{batch}: {BankFile.objects.count():,} pain.001 files so far, business day {day}")
    # the units whose payment failed register new accounts at the social-insurance office meanwhile; the next
    # data drop carries them all (one drop for every failure so far, not one per business day)
    serial = 1
    corrected = 0
    for _ in range(MAX_DROPS):
        waiting = list(payments_awaiting_correction().select_related("current", "case").order_by("pk"))
        if not waiting:
            break
        drop, serial = _accounts_fixed(waiting=waiting, drop=drop, serial=serial, note=note)
        corrected += len(waiting)
        settle(True)
    settled = Instruction.objects.filter(status=InstructionStatus.SETTLED)
    total = settled.aggregate(total=Sum("amount_fen"))["total"] or 0
    note("payment", f"{settled.count():,} refunds settled, {format_yuan(total, unit='symbol')}; {corrected} failed accounts corrected "
         "(maker + checker) and re-issued")  # fmt: skip
    # the upload jobs queued with each frozen file: the cycle above handed every file over itself, so each job
    # finds its file handed over and ends done (else the back office shows them as work in progress)
    from mianshen.core.jobs import JobFailed, job_drain

    try:
        job_drain(stop_on_failure=True, kinds={"payments.upload"})
    except JobFailed as exc:
        raise DemoStopped(f"payment: {exc}") from exc
    rec, _run = reconcile_record(actor="system:demo")
    note("reconcile", ("holds to the fen" if rec.ok else f"DIFFERENCE {format_yuan(rec.difference_fen, unit='symbol')}") +
         f": approved {format_yuan(rec.approved_fen, unit='symbol')} = " + " + ".join(
             f"{k} {format_yuan(v, unit='symbol')}" for k, v in rec.buckets_fen.items() if v))  # fmt: skip


def _accounts_fixed(
    *, waiting: list[Payment], drop: Path, serial: int, note: Callable[[str, str], None]
) -> tuple[Path, int]:
    """The units of the ``waiting`` payments register new accounts at the social-insurance office; the next data
    drop (``drop`` with those accounts) is imported; then one officer enters each account as on file and another
    approves (closed loop: a correction must match a drop imported after the failure). Returns that drop and the
    next serial for account numbers."""
    from mianshen.core.bulkdb import one_parameter
    from mianshen.datadrop.validate import validate_drop
    from mianshen.payments.models import Correction
    from mianshen.payments.services.recovery import (
        AccountInput,
        CorrectionEntry,
        corrections_decide_many,
        corrections_prepare_many,
    )
    from mianshen.registry.services import snapshot_import

    fixes: dict[int, AccountInput] = {}
    for payment in waiting:
        bank = payment.current.bank_id if payment.current else "102"
        serial += 1
        fixes[payment.pk] = AccountInput(bank, f"{bank}100000999", _corrected_account(bank, serial),
                                         payment.case.unit_name)  # fmt: skip
    following = drop.parent / f"drop-accounts-{len(list(drop.parent.glob('drop-accounts-*'))) + 1}"
    accounts_drop(drop, following, {p.case.unit_id: astuple(fixes[p.pk]) for p in waiting})
    snapshot = snapshot_import(drop=validate_drop(following), extracted_on=timezone.localdate()).snapshot
    units = f"{len(waiting)} unit{'s' if len(waiting) != 1 else ''}"
    note("accounts", f"{units} registered a new account at the social-insurance office; {following.name} "
         f"imported as snapshot {snapshot.pk}")  # fmt: skip
    opened = dict(
        Correction.objects.filter(
            payment__in=one_parameter([p.pk for p in waiting]), decided_by=""
        ).values_list("payment_id", "pk")
    )
    entries = [
        CorrectionEntry(p.case_id, fixes[p.pk], "单位已在社保经办机构更新账户，以新数据为准")
        for p in waiting
        if p.pk not in opened
    ]
    prepared = corrections_prepare_many(entries=entries, actor="区经办 officer-a")
    ids = sorted([*opened.values(), *(c.pk for c in prepared)])
    corrections_decide_many(correction_ids=ids, actor="复核员 reviewer-b", approve=True)
    return following, serial
