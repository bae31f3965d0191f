"""The demo: the whole cycle on the embedded database, from a generated city to refunds paid and reconciled.

Each step calls the same services the commands and the back office call; nothing here is demo-only logic
except ``freshen_drop`` (the "fresh data" a later comparison sees), ``accounts_drop`` (the next drop, carrying
the accounts units registered after a failed payment) and the simulated passage of the 7-day notice period.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Collection
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
    from mianshen.reports.selectors import Outcomes
    from mianshen.screening.models import ScreeningRound

POLICY = "beijing-2021"
AS_OF = date(2021, 7, 1)
AS_OF_FINAL = date(2021, 7, 20)
# `mianshen demo --policy retention-training-2022`: the second family through the same services
RETENTION_POLICY = "retention-training-2022"
RETENTION_AS_OF = date(2022, 6, 30)
RETENTION_AS_OF_FINAL = date(2022, 7, 20)
# `mianshen demo --policy job-expansion-2022`: the third family (a person ledger: once per person)
JOB_POLICY = "job-expansion-2022"
JOB_AS_OF = date(2022, 12, 20)
JOB_AS_OF_FINAL = date(2022, 12, 31)
# per one-off family: its as-of dates, the generator's switch for its tables, and what the drop holds
FAMILY_DEMOS: dict[str, tuple[date, date, str, str]] = {
    RETENTION_POLICY: (RETENTION_AS_OF, RETENTION_AS_OF_FINAL, "retention", "risk_areas, person_months"),
    JOB_POLICY: (
        JOB_AS_OF,
        JOB_AS_OF_FINAL,
        "job_expansion",
        "hires, graduate_register, hiring_subsidy_recipients (pseudonyms)",
    ),
}


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


class DemoRun:
    """One run of the demo: the state its steps hand on to each other. ``steps()`` lists them in order; the
    command (``run_demo``) and the PostgreSQL benchmark (bench/pipeline.py, which times each) run the same ones."""

    def __init__(self, *, root: Path, units: int, seed: int, say: Callable[[str, str], None]) -> None:
        self.root, self.units, self.seed, self.say = root, units, seed, say
        self.report = DemoReport()
        self.drop_a = root / "drop-2021-07-01"
        self.drop_b = root / "drop-2021-07-05"
        self.decided: pl.DataFrame | None = None
        self.payer: _Payer | None = None
        self.breach: Case | None = None  # the commitment-breach unit that applied (key_supervision)
        self.hosted: Case | None = None  # the dispatch firm its host employers confirmed (dispatch_hosts)
        self.outcomes: Outcomes | None = None  # ``reports.selectors.outcomes()``, computed by the last step

    def note(self, step: str, text: str) -> None:
        self.report.add(step, text)
        self.say(step, text)

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("generate", self.generate),
            ("validate", self.validate),
            ("screen", self.screen),
            ("import", self.import_a),
            ("round 1", self.round_1),
            ("review", self.review),
            ("key supervision", self.key_supervision),
            ("dispatch hosts", self.dispatch_hosts),
            ("fresh data", self.fresh_data),
            ("round 2", self.round_2),
            ("notice", self.notice_open),
            ("objections", self.objections),
            ("round 3", self.round_3),
            ("release", self.release),
            ("bank files", self.bank_files),
            ("bank answers", self.bank_answers),
            ("recovery", self.recovery),
            ("reconciliation", self.reconciliation),
            ("notify", self.notify),
            ("audit verify", self.audit),
            ("outcome report", self.outcome_report),
        ]

    def generate(self) -> None:
        from mianshen.datadrop.generate import generate

        rows = generate(units=self.units, seed=self.seed, out=self.drop_a, fmt="csv")
        self.note("generate", f"{self.units:,} units, {sum(rows.values()):,} rows in {self.drop_a}")

    def validate(self) -> None:
        from mianshen.datadrop.validate import validate_drop

        self.drop = validate_drop(self.drop_a)
        self.note("validate", f"{self.drop.error_count} errors, {self.drop.warning_count} warnings")

    def screen(self) -> None:
        from mianshen.policy.engine import screen
        from mianshen.policy.output import write_decisions
        from mianshen.policy.parameters import resolve

        decided = screen(self.drop.tables, resolve(POLICY, AS_OF), AS_OF)
        csv_path, _ = write_decisions(decided, self.root / "screen")
        self.decided = decided.select(
            "unit_id", "credit_code", "decision", "failed"
        )  # what ``freshen_drop`` reads
        counts = dict(self.decided.group_by("decision").len().iter_rows())
        self.note("screen", f"{csv_path}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))

    def import_a(self) -> None:
        from mianshen.registry.services import snapshot_import

        self.snap_a = snapshot_import(drop=self.drop, extracted_on=AS_OF).snapshot
        del self.drop  # the drop's frames are in the database now (and kept for the rounds: registry.kept)
        self.note("import", f"snapshot {self.snap_a.pk} (content hash {self.snap_a.content_hash[:12]}…)")

    def _run_round(self, snapshot: Snapshot, checkpoint: str, as_of: date) -> ScreeningRound:
        from mianshen.core.jobs import JobFailed, job_drain
        from mianshen.screening.services import round_start

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
        self.note(
            f"round {rnd.number}",
            f"{checkpoint}: " + ", ".join(f"{k} {v:,}" for k, v in rnd.counts["decision"].items()),
        )
        return rnd

    def round_1(self) -> None:
        from mianshen.screening.models import Checkpoint

        self.r1 = self._run_round(self.snap_a, Checkpoint.INITIAL, AS_OF)

    def review(self) -> None:
        """Manual review with four eyes: one officer prepares, another approves."""
        from mianshen.cases.models import Case, in_states
        from mianshen.cases.services import review_decide, review_prepare
        from mianshen.cases.states import State

        reviewed = (
            Case.objects.filter(in_states(State.UNDER_REVIEW), policy_id=POLICY).order_by("unit_id").first()
        )
        if reviewed is None:
            return
        review = review_prepare(
            case_id=reviewed.pk,
            recommendation="approve",
            notes="经营异常已移出，核实正常经营",
            actor="区经办 officer-a",
        )
        review_decide(review_id=review.pk, approve=True, actor="复核员 reviewer-b", reason="同意")
        self.note(
            "review", f"case {reviewed.unit_id}: prepared by officer-a, approved by reviewer-b (four eyes)"
        )

    def key_supervision(self) -> None:
        self.breach = _key_supervision_applies(self.note)

    def dispatch_hosts(self) -> None:
        assert self.decided is not None
        self.hosted = _hosts_confirm(self.decided, self.note)

    def fresh_data(self) -> None:
        from mianshen.datadrop.validate import validate_drop
        from mianshen.registry.services import snapshot_import

        assert self.decided is not None
        changed = freshen_drop(self.drop_a, self.drop_b, self.decided)
        self.snap_b = snapshot_import(drop=validate_drop(self.drop_b), extracted_on=AS_OF).snapshot
        self.note(
            "fresh data",
            f"drop of the next extract imported as snapshot {self.snap_b.pk}: {changed['confirmed']:,} labour-dispatch "
            f"firm(s) confirmed by their host employers, {changed['arrears_paid']:,} unit(s) paid their arrears, "
            f"{changed['newly_flagged']:,} unit(s) newly listed as seriously dishonest",
        )

    def round_2(self) -> None:
        from mianshen.screening.models import Checkpoint
        from mianshen.screening.services import round_diff

        r2 = self._run_round(self.snap_b, Checkpoint.BEFORE_PUBLICITY, AS_OF)
        diff = round_diff(before=self.r1, after=r2)
        self.note("diff", ", ".join(f"{k} {v}" for k, v in diff.counts.items()) or "no change")

    def notice_open(self) -> None:
        from mianshen.cases.services import notice_open

        start = timezone.localdate() - timedelta(days=2)
        self.notice = notice = notice_open(policy_id=POLICY, actor="市级管理员 admin", start=start)
        self.note(
            "publicity",
            f"notice {notice.pk}: {notice.entries.count():,} units, "
            f"{timezone.localtime(notice.starts_at):%Y-%m-%d} 00:00 to "
            f"{timezone.localtime(notice.ends_at) - timedelta(days=1):%Y-%m-%d} 24:00 Beijing time "
            "(日期为今日日历，非 2021 年 / dates are today's calendar, not 2021's: the data are as of "
            f"{AS_OF}, the steps run now)",
        )

    def objections(self) -> None:
        from mianshen.cases.models import Case
        from mianshen.cases.services import objection_decide, objection_record
        from mianshen.cases.states import State

        on_notice = list(
            Case.objects.filter(policy_id=POLICY, state=State.PUBLICISED).order_by("unit_id")[:2]
        )
        if len(on_notice) != 2:
            return
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
        self.note("objections", "2 recorded: 1 upheld (unit excluded), 1 rejected (back on the notice)")

    def round_3(self) -> None:
        """The notice period passes (simulated): the comparison right before payment approves the cases."""
        from mianshen.cases.models import Case
        from mianshen.cases.services import case_apply_round
        from mianshen.cases.states import State
        from mianshen.core.models import Job
        from mianshen.screening.models import Checkpoint
        from mianshen.screening.services import round_run, round_start

        rnd3 = round_start(
            policy_id=POLICY,
            snapshot=self.snap_b,
            actor="市级管理员 admin",
            as_of=AS_OF_FINAL,
            checkpoint=Checkpoint.BEFORE_PAYMENT,
        )
        rnd3 = round_run(round_id=rnd3.pk)
        applied = case_apply_round(
            round=rnd3, actor=f"round {rnd3.number}", now=self.notice.ends_at + timedelta(minutes=1)
        )
        Job.objects.filter(key=f"round:{rnd3.pk}").delete()  # ran in-process with the simulated clock
        approved = Case.objects.filter(policy_id=POLICY, state=State.APPROVED)
        total = approved.aggregate(total=Sum("amount_fen"))["total"] or 0
        self.note(
            f"round {rnd3.number}",
            f"before_payment: {applied.moved:,} cases moved; {approved.count():,} approved, {format_yuan(total, unit='symbol')}",
        )

    def release(self) -> None:
        self.payer = _Payer(root=self.root, seed=self.seed, note=self.note, drop=self.drop_b)
        self.payer.release()

    def _paying(self) -> _Payer:
        if self.payer is None:
            raise DemoStopped("payment: nothing was released")
        return self.payer

    def bank_files(self) -> None:
        self._paying().files()

    def bank_answers(self) -> None:
        self._paying().answers()

    def recovery(self) -> None:
        self._paying().recovery()

    def reconciliation(self) -> None:
        self._paying().reconcile()
        breach = self.breach
        if breach is not None:
            breach.refresh_from_db()
            self.note("key supervision", f"commitment-breach unit {breach.unit_id}: applied, granted by two "
                      f"officers, carried by the next rounds — now {breach.state}")  # fmt: skip
        if self.hosted is not None:
            self.hosted.refresh_from_db()
            self.note("dispatch hosts", f"labour-dispatch firm {self.hosted.unit_id}: confirmed by its host "
                      f"employers, carried by the next rounds — now {self.hosted.state}")  # fmt: skip

    def notify(self) -> None:
        _tell(root=self.root, note=self.note)

    def audit(self) -> None:
        from mianshen.audit.services import audit_checkpoint
        from mianshen.audit.verify import audit_verify

        self.note("audit", f"chain head written outside the database to {audit_checkpoint()}")
        self.note("audit", audit_verify().summary())

    def outcome_report(self) -> None:
        """The outcome statistics of contracts §5 (SQL aggregates), which the command prints as tables."""
        from mianshen.reports.selectors import outcomes

        self.outcomes = result = outcomes()
        self.note(
            "outcomes",
            f"round {result.round_number}: {len(result.cells):,} figures (total, by size class and district)",
        )


def run_demo(*, root: Path, units: int, seed: int, say: Callable[[str, str], None]) -> DemoReport:
    """Run every step; ``say(step, text)`` reports progress as it goes."""
    run = DemoRun(root=root, units=units, seed=seed, say=say)
    for _name, step in run.steps():
        step()
    return run.report


def run_retention_demo(*, root: Path, units: int, seed: int, say: Callable[[str, str], None]) -> DemoReport:
    """The one-off retention training subsidy (一次性留工培训补助): ``run_family_demo`` of its policy."""
    return run_family_demo(policy_id=RETENTION_POLICY, root=root, units=units, seed=seed, say=say)


def run_family_demo(
    *, policy_id: str, root: Path, units: int, seed: int, say: Callable[[str, str], None]
) -> DemoReport:
    """A one-off subsidy (``FAMILY_DEMOS``: 一次性留工培训补助, 一次性扩岗补助) through the same services: a generated
    city with the family's tables, screened, imported, three comparison rounds, publicity, approval (each approved
    unit entered once in the benefit ledger, or each person it counted in the person ledger), payment through the
    simulated banks with the family's own remittance text, reconciliation and the audit check."""
    from mianshen.audit.verify import audit_verify
    from mianshen.cases.models import BenefitLedger, Case, PersonLedger
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

    as_of, as_of_final, switch, holds = FAMILY_DEMOS[policy_id]
    drop_path = root / f"drop-{as_of.isoformat()}"
    rows = generate(units=units, seed=seed, out=drop_path, fmt="csv", retention=switch == "retention",
                    job_expansion=switch == "job_expansion")  # fmt: skip
    note("generate", f"{units:,} units, {sum(rows.values()):,} rows in {drop_path} (with {holds})")
    drop = validate_drop(drop_path)
    note("validate", f"{drop.error_count} errors, {drop.warning_count} warnings")
    params = resolve(policy_id, as_of)
    family = family_of(params)
    decided = family.screen(drop.tables, params, as_of)
    csv_path, _ = write_decisions(decided, root / "screen", family.decision_columns, family.int_columns)
    counts = dict(decided.group_by("decision").len().iter_rows())
    note("screen", f"{csv_path}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    snapshot = snapshot_import(drop=drop, extracted_on=as_of).snapshot
    del drop
    note("import", f"snapshot {snapshot.pk} ({snapshot.content_hash[:12]})")
    for checkpoint in (Checkpoint.INITIAL, Checkpoint.BEFORE_PUBLICITY):
        rnd = round_start(policy_id=policy_id, snapshot=snapshot, actor="市级管理员 admin",
                          as_of=as_of, checkpoint=checkpoint)  # fmt: skip
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
    notice = notice_open(policy_id=policy_id, actor="市级管理员 admin", start=start)
    note("publicity", f"notice {notice.pk}: {notice.entries.count():,} units (dates are today's calendar)")
    final = round_start(policy_id=policy_id, snapshot=snapshot, actor="市级管理员 admin",
                        as_of=as_of_final, checkpoint=Checkpoint.BEFORE_PAYMENT)  # fmt: skip
    final = round_run(round_id=final.pk)
    applied = case_apply_round(
        round=final, actor=f"round {final.number}", now=notice.ends_at + timedelta(minutes=1)
    )
    Job.objects.filter(key=f"round:{final.pk}").delete()  # ran in-process with the simulated clock
    approved = Case.objects.filter(policy_id=policy_id, state=State.APPROVED)
    total = approved.aggregate(total=Sum("amount_fen"))["total"] or 0
    if family.once_per_person:
        persons = PersonLedger.objects.filter(policy_id=policy_id).count()
        ledger_note = f"{persons:,} persons entered in the person ledger (once per person, ever)"
    else:
        ledger = BenefitLedger.objects.filter(policy_id=policy_id).count()
        ledger_note = f"{ledger:,} units entered in the benefit ledger (once, ever)"
    note(f"round {final.number}", f"before_payment: {applied.moved:,} cases moved; {approved.count():,} approved, "
         f"{format_yuan(total, unit='symbol')}; {ledger_note}")  # fmt: skip
    _pay(root=root, seed=seed, note=note, drop=drop_path, policy_id=policy_id)
    sample = Instruction.objects.filter(case__policy_id=policy_id).order_by("pk").first()
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
    from mianshen.cases.models import Application, Case, in_states
    from mianshen.cases.services import review_decide, review_prepare
    from mianshen.cases.states import State
    from mianshen.portal import applications

    case = (
        Case.objects.filter(in_states(State.AWAITING_APPLICATION), policy_id=POLICY)
        .order_by("unit_id")
        .first()
    )
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


def units_by_credit_code(snapshot_id: int, codes: Collection[str]) -> dict[str, str]:
    """The snapshot's units with these credit codes: credit code → unit id (the lowest, should two units share a
    code). Picked here, not by an ``ORDER BY unit_id`` in the query: that made SQLite walk the (snapshot, unit_id)
    index over every unit of the snapshot instead of looking the codes up in (snapshot, credit_code) (17 ms a
    lookup at 50,000 units, when it was one lookup per dispatch firm)."""
    from mianshen.core.bulkdb import one_parameter
    from mianshen.registry.models import Unit

    units: dict[str, str] = {}
    rows = Unit.objects.filter(snapshot_id=snapshot_id, credit_code__in=one_parameter(sorted(codes)))
    for code, unit_id in rows.values_list("credit_code", "unit_id"):
        units[code] = min(unit_id, units.get(code, unit_id))
    return units


def _hosts_confirm(decided: pl.DataFrame, note: Callable[[str, str], None]) -> Case | None:
    """A labour-dispatch firm awaiting confirmation: each of its host employers that is a unit of the city, signed
    in through /lookup/ as itself, confirms the workers placed with it on /apply/ through the portal's own service;
    the last confirmation moves the case on (``cases.hosts``). A firm whose hosts are all in the city is chosen
    first, preferring one the fresh data will not confirm (``freshen_drop`` confirms the first half); failing one,
    a host outside the city (it cannot sign in) is confirmed by phone and recorded by an officer."""
    from mianshen.cases.hosts import hosts_of_cases
    from mianshen.cases.models import Case, in_states
    from mianshen.cases.services import confirmation_record
    from mianshen.cases.states import State
    from mianshen.core.bulkdb import one_parameter
    from mianshen.portal import dispatch
    from mianshen.screening.models import ScreeningRound

    pending = decided.filter(pl.col("decision") == "pending_confirmation")["unit_id"].sort().to_list()
    half = (len(pending) + 1) // 2
    # every waiting case, its hosts and the hosts that are units of the city: a few queries, not four a firm
    waiting = {
        c.unit_id: c
        for c in Case.objects.filter(
            in_states(State.AWAITING_CONFIRMATION), policy_id=POLICY, unit_id__in=one_parameter(pending)
        ).exclude(last_round=None)
    }
    hosts_of = hosts_of_cases(waiting.values())
    round_snapshot = dict(
        ScreeningRound.objects.filter(
            pk__in=sorted({c.last_round_id for c in waiting.values() if c.last_round_id is not None})
        ).values_list("pk", "snapshot_id")
    )
    snapshot_of = {
        c.pk: round_snapshot[c.last_round_id] for c in waiting.values() if c.last_round_id is not None
    }
    in_city: dict[int, dict[str, str]] = {}
    for snapshot_id in sorted(set(snapshot_of.values())):
        codes = sorted({code for c in waiting.values() if snapshot_of[c.pk] == snapshot_id
                        for code in hosts_of.get(c.pk, {})})  # fmt: skip
        in_city[snapshot_id] = units_by_credit_code(snapshot_id, codes)  # a code twice: the smallest unit id
    candidates = []
    for unit_id in [*reversed(pending[half:]), *pending[:half]]:
        case = waiting.get(unit_id)
        if case is None:
            continue
        hosts = hosts_of.get(case.pk, {})
        city = in_city[snapshot_of[case.pk]]
        units = {code: city[code] for code in hosts if code in city}
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
    from mianshen.notify.services import Sender, deliver_batch, deliver_due, not_before

    files = FileSender(root / "outbox")
    senders: dict[str, Sender] = {Channel.SMS: files, Channel.EMAIL: files, Channel.INBOX: InboxSender()}
    when = not_before(Kind.LISTED, Channel.SMS, timezone.now())
    failed_kinds = [Kind.PAYMENT_FAILED, Kind.NO_ACCOUNT]
    # in batches: claimed together, recorded together (one at a time, 3,600 messages at 50,000 units took > 3 min)
    while deliver_batch(senders=senders, now=when, kinds=failed_kinds, limit=5000).delivered:
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
    note("notify", f"{Message.objects.count():,} messages ({by_kind}); {units:,} unit(s) told of a failed payment by "
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
    payer = _Payer(root=root, seed=seed, note=note, drop=drop, policy_id=policy_id)
    payer.release()
    payer.files()
    payer.answers()
    payer.recovery()
    payer.reconcile()


class _Payer:
    """The payment steps of the demo, in this order: ``release`` (approved cases become instructions),
    ``files`` (the cooperating banks' pain.001 files frozen and handed over), ``answers`` (business days pass: the
    simulated banks answer with pain.002 and camt.054, the answers are applied; then the other banks' later batch),
    ``recovery`` (new accounts from the next data drop, corrections with four eyes, re-issues settled),
    ``reconcile``. ``bank_s`` is the time the simulated banks took (theirs, not the system's)."""

    def __init__(
        self, *, root: Path, seed: int, note: Callable[[str, str], None], drop: Path, policy_id: str = POLICY
    ) -> None:
        from mianshen.payments.banks import next_working_day
        from mianshen.payments.lifecycle import IN_FLIGHT
        from mianshen.payments.services.channel import FolderChannel
        from mianshen.payments.services.common import bank_registry_load_defaults
        from mianshen_banksim import BankSimulator
        from mianshen_banksim.profiles import DEFAULT_PROFILES

        bank_registry_load_defaults()  # the agency's bank configuration (idempotent; migrations seed it too)
        self.note, self.drop, self.policy_id = note, drop, policy_id
        banks = root / "banks"
        self.channel = FolderChannel(banks)
        self.day = next_working_day(timezone.localdate())
        self.sim = BankSimulator(banks, seed=seed, business_date=self.day)
        # a settled payment may come back up to this many business days after it was booked
        self.window = max(p.return_after_days[1] for p in DEFAULT_PROFILES.values())
        self.in_flight = sorted(s.value for s in IN_FLIGHT)
        self.bank_s = 0.0

    def release(self) -> None:
        from mianshen.payments.services.instructions import payments_release

        released = payments_release(actor="system:disbursement", policy_id=self.policy_id).released
        self.note("payment", f"{released:,} approved payments released as payment instructions")

    def files(self) -> None:
        from mianshen.payments.services.bankfiles import bank_files_build, bank_files_upload_pending

        built = bank_files_build(actor="system:disbursement", today=self.day)
        bank_files_upload_pending(actor="system:disbursement", channel=self.channel, today=self.day)
        self.note("payment", f"{len(built)} pain.001 files frozen and handed to the cooperating banks")

    def _settle(self, later: bool) -> None:
        """Business days pass until nothing is in flight and no booking is young enough to come back."""
        from mianshen.payments.banks import next_working_day
        from mianshen.payments.models import Instruction
        from mianshen.payments.services.cycle import disbursement_cycle

        quiet = 0
        for _ in range(MAX_PASSES):
            # the money is checked once, after the last pass (``reconcile`` below), not after each of these
            disbursement_cycle(actor="system:disbursement", channel=self.channel, today=self.day,
                               policy_id=self.policy_id, later_batch=later, reconcile=False)  # fmt: skip
            started = time.monotonic()
            self.sim.process_inbox()
            self.day = next_working_day(self.day)
            self.sim.advance_to(self.day)
            self.bank_s += time.monotonic() - started
            disbursement_cycle(actor="system:disbursement", channel=self.channel, today=self.day,
                               release=False, later_batch=later, reconcile=False)  # fmt: skip
            flying = Instruction.objects.filter(status__in=self.in_flight)
            if not later:  # the other banks' instructions wait for the later batch
                flying = flying.filter(bank__cooperating=True)
            quiet = 0 if flying.exists() else quiet + 1
            if quiet > self.window:
                return

    def answers(self) -> None:
        from mianshen.payments.models import BankFile

        for batch, later in (("cooperating banks", False), ("other banks (later batch)", True)):
            self._settle(later)
            self.note(
                "payment",
                f"{batch}: {BankFile.objects.count():,} pain.001 files so far, business day {self.day}",
            )

    def recovery(self) -> None:
        """The units whose payment failed register new accounts at the social-insurance office meanwhile; the
        next data drop carries them all (one drop for every failure so far, not one per business day)."""
        from mianshen.payments.lifecycle import InstructionStatus
        from mianshen.payments.models import Instruction
        from mianshen.payments.selectors import payments_awaiting_correction

        serial = 1
        corrected = 0
        for _ in range(MAX_DROPS):
            waiting = list(payments_awaiting_correction().select_related("current", "case").order_by("pk"))
            if not waiting:
                break
            self.drop, serial = _accounts_fixed(
                waiting=waiting, drop=self.drop, serial=serial, note=self.note
            )
            corrected += len(waiting)
            self._settle(True)
        settled = Instruction.objects.filter(status=InstructionStatus.SETTLED)
        total = settled.aggregate(total=Sum("amount_fen"))["total"] or 0
        self.note("payment", f"{settled.count():,} payments settled, {format_yuan(total, unit='symbol')}; {corrected:,} failed accounts "
                  "corrected (maker + checker) and re-issued")  # fmt: skip

    def reconcile(self) -> None:
        from mianshen.core.jobs import JobFailed, job_drain
        from mianshen.payments.services.reconcile import reconcile_record

        # the upload jobs queued with each frozen file: the passes above handed every file over themselves, so
        # each job finds its file handed over and ends done (else the back office shows them as work in progress)
        try:
            job_drain(stop_on_failure=True, kinds={"payments.upload"})
        except JobFailed as exc:
            raise DemoStopped(f"payment: {exc}") from exc
        rec, _run = reconcile_record(actor="system:demo")
        self.note("reconcile", ("holds to the fen" if rec.ok else f"DIFFERENCE {format_yuan(rec.difference_fen, unit='symbol')}") +
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
    units = f"{len(waiting):,} unit{'s' if len(waiting) != 1 else ''}"
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
