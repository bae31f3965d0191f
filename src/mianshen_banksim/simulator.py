"""The bank simulator: per-bank ``inbox/`` and ``outbox/`` folders under one root, deterministic for a seed.

Folder layout (``<root>/<bank code>/``): ``inbox/`` (drop pain.001 files here; write them atomically, names
starting with ``.`` are ignored), ``outbox/`` (answers: pain.002.001.12 and camt.054.001.08), ``work/`` (the file
being handled), ``processed/`` (handled inbox files), ``.staging/`` (answers written but not yet committed).

Each step (one inbox file, or one ``advance_to``) is computed in memory, its answers are staged, the state file is
replaced atomically (the commit point) and only then are the answers moved into ``outbox/``. A simulator killed at
any moment resumes where it stopped, and re-running a step produces the same bytes under the same names.

Behaviour, per file: not readable / not pain.001.001.09 / XSD-invalid → group RJCT FF01; control totals wrong →
AM18/AM10; a MsgId seen before → group RJCT DU01 and nothing changes (``same_bytes`` tells a retried upload of the
identical bytes from a different file); sometimes silence (the file is lost: no answer, nothing booked; a later
retry may get through). Per transaction: an EndToEndId seen before → AM05; the account's fate (AC01, AC04, BE01)
→ RJCT; a few AC06; otherwise accepted (ACCP/ACSP), booked on the first business day on or after ``ReqdExctnDt``
(ACSC report unless the bank reports only rejects, camt.054 debit), and a few come back days later as a
camt.054 credit with ``RtrInf``. The simulator's business date moves only through :meth:`advance_to`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import groupby
from pathlib import Path

from mianshen.payments.formats.camt054 import Notification, render_camt054
from mianshen.payments.formats.errors import BadMessage
from mianshen.payments.formats.pain001 import parse_pain001, read_msg_id, sha256_hex
from mianshen.payments.formats.pain002 import StatusReport, render_pain002
from mianshen.payments.formats.safexml import parse_xml, read_limited
from mianshen.payments.formats.schemas import PAIN001, message_of
from mianshen.payments.formats.types import CreditTransfer

from . import answers
from .profiles import (
    DEFAULT_PROFILES,
    BankProfile,
    Fate,
    add_business_days,
    business_day_on_or_after,
    resolve_fate,
    roll,
)
from .state import Payment, SimState, atomic_write, load_state, save_state

RETURN_REASONS = ("AC04", "AC06", "MS03")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one step did, for in-process callers and tests (the files in ``outbox/`` are the real answer)."""

    bank: str
    kind: str  # accepted | rejected | duplicate | silence | booked | returned | recovered
    msg_id: str | None = None  # the original pain.001 MsgId
    file: str | None = None  # inbox file name
    reason_code: str | None = None  # file-level reject code (FF01, AM10, AM18, DU01)
    same_bytes: bool | None = None  # duplicates: the very bytes first received (a retried upload)
    rejected: tuple[tuple[str, str], ...] = ()  # (EndToEndId, reason code)
    accepted: tuple[str, ...] = ()
    booked: tuple[str, ...] = ()
    returned: tuple[tuple[str, str], ...] = ()  # (EndToEndId, return reason)
    answers: tuple[str, ...] = ()  # outbox file names


_Output = tuple[str, str, bytes]  # bank, file name, bytes


class BankSimulator:
    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        seed: int,
        business_date: date | None = None,
        profiles: Mapping[str, BankProfile] | None = None,
        fate: Fate | None = None,
        holidays: frozenset[date] = frozenset(),
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.profiles = dict(profiles if profiles is not None else DEFAULT_PROFILES)
        self.fate = resolve_fate(seed, fate)
        self.holidays = holidays
        state = load_state(self.root)
        if state is None:
            if business_date is None:
                raise ValueError("a new simulator needs its first business_date")
            state = SimState(seed=seed, business_date=business_date)
            save_state(self.root, state)
        elif state.seed != seed:
            raise ValueError(f"{self.root} belongs to a simulator with seed {state.seed}, not {seed}")
        self.state = state
        for code in self.profiles:
            for sub in ("inbox", "outbox", "work", "processed", ".staging"):
                (self.root / code / sub).mkdir(parents=True, exist_ok=True)
        self._recover()

    # ------------------------------------------------------------------------------------------- folders

    @property
    def business_date(self) -> date:
        return self.state.business_date

    def inbox(self, bank: str) -> Path:
        return self.root / bank / "inbox"

    def outbox(self, bank: str) -> Path:
        return self.root / bank / "outbox"

    def deliver(self, bank: str, name: str, data: bytes) -> Path:
        """Put a file into a bank's inbox atomically (what an uploader does)."""
        if bank not in self.profiles:
            raise ValueError(f"unknown bank {bank!r}")
        path = self.inbox(bank) / name
        atomic_write(path, data)
        return path

    def answers(self, bank: str) -> list[Path]:
        """The bank's answer files, oldest first (names start with a zero-padded sequence number)."""
        return sorted(p for p in self.outbox(bank).iterdir() if not p.name.startswith("."))

    # ------------------------------------------------------------------------------------------ stepping

    def process_inbox(self) -> list[Outcome]:
        """Handle every waiting file (banks in code order, files in name order); return what happened."""
        outcomes = [self._handle_work(path) for path in self._work_files() if self._claim_no(path) >= 0]
        for bank in sorted(self.profiles):
            for path in sorted(self.inbox(bank).iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    work = self.root / bank / "work" / f"{self.state.next_claim:08d}-{path.name}"
                    os.replace(path, work)
                    outcomes.append(self._handle_work(work))
        return outcomes

    def advance_to(self, day: date) -> list[Outcome]:
        """Move the business date forward to ``day``, booking what falls due and sending returns, day by day."""
        if day < self.state.business_date:
            raise ValueError(f"the simulator's date only moves forward ({self.state.business_date} -> {day})")
        outcomes: list[Outcome] = []
        outputs: list[_Output] = []
        try:
            current = self.state.business_date
            while current < day:
                current += timedelta(days=1)
                self.state.business_date = current
                outcomes += self._execute_due(current, outputs)
                outcomes += self._returns_due(current, outputs)
            self._commit(outputs)
        except BaseException:
            self._reload()
            raise
        return outcomes

    # ------------------------------------------------------------------------------------ file handling

    def _handle_work(self, work: Path) -> Outcome:
        bank = work.parent.parent.name
        claim = self._claim_no(work)
        if claim < self.state.next_claim:  # committed before a crash: only the move was missing
            os.replace(work, self.root / bank / "processed" / work.name)
            return Outcome(bank, "recovered", file=work.name)
        outputs: list[_Output] = []
        try:
            outcome = self._handle_file(bank, work, outputs)
            self.state.next_claim = claim + 1
            self._commit(outputs)
        except BaseException:
            self._reload()
            raise
        os.replace(work, self.root / bank / "processed" / work.name)
        return replace(outcome, file=work.name.split("-", 1)[1], answers=_names(outputs))

    def _handle_file(self, bank: str, path: Path, outputs: list[_Output]) -> Outcome:
        profile = self.profiles[bank]
        memory = self.state.bank(bank)
        day = self.state.business_date
        try:
            raw = read_limited(path)
            root = parse_xml(raw)
            message_of(root, (PAIN001,))
        except BadMessage as exc:
            self._emit_report(
                bank, outputs, answers.file_reject(None, "FF01", exc.reason, msg_id=self._mid(bank), day=day)
            )
            return Outcome(bank, "rejected", reason_code="FF01")
        sha = sha256_hex(raw)
        msg_id = read_msg_id(root)
        if msg_id is not None and msg_id in memory.msg_ids:
            same = memory.msg_ids[msg_id] == sha
            info = "duplicate MsgId: " + ("same bytes as first received" if same else "different bytes")
            self._emit_report(
                bank, outputs, answers.file_reject(msg_id, "DU01", info, msg_id=self._mid(bank), day=day)
            )
            return Outcome(bank, "duplicate", msg_id, reason_code="DU01", same_bytes=same)
        if msg_id is not None:
            attempt = memory.lost.get(msg_id, 0)
            if roll(self.seed, "silence", bank, msg_id, sha, attempt) < profile.silence_per_mille * 10:
                memory.lost[msg_id] = attempt + 1
                return Outcome(bank, "silence", msg_id)
        try:
            bank_file = parse_pain001(raw)
        except BadMessage as exc:
            if msg_id is not None:
                memory.msg_ids[msg_id] = sha
            code = exc.reason_code or "FF01"
            self._emit_report(
                bank, outputs, answers.file_reject(msg_id, code, exc.reason, msg_id=self._mid(bank), day=day)
            )
            return Outcome(bank, "rejected", msg_id, reason_code=code)
        memory.msg_ids[bank_file.msg_id] = sha
        rejects: dict[str, str] = {}
        accepted: list[Payment] = []
        for block in bank_file.blocks:
            due = business_day_on_or_after(block.execution_date, self.holidays).isoformat()
            for tx in block.transfers:
                reject = self._decide(profile, memory.end_to_end_ids, tx)
                memory.end_to_end_ids.add(tx.end_to_end_id)
                if reject is not None:
                    rejects[tx.end_to_end_id] = reject
                else:
                    accepted.append(
                        _payment(bank, bank_file.msg_id, block.pmt_inf_id, block.debtor_account, tx, due)
                    )
        if profile.technical_ack:
            self._emit_report(
                bank, outputs, answers.technical_ack(bank_file, msg_id=self._mid(bank), day=day)
            )
        executing = any(p.due_date <= day for p in accepted)
        report = answers.receipt(
            bank_file,
            rejects,
            executing=executing,
            only_rejects=profile.reports_only_rejects,
            msg_id=self._mid(bank),
            day=day,
        )
        self._emit_report(bank, outputs, report)
        self.state.scheduled.extend(accepted)
        booked = self._execute_due(day, outputs)
        return Outcome(
            bank,
            "accepted",
            bank_file.msg_id,
            rejected=tuple(rejects.items()),
            accepted=tuple(p.end_to_end_id for p in accepted),
            booked=tuple(e for o in booked for e in o.booked),
        )

    def _decide(self, profile: BankProfile, seen: set[str], tx: CreditTransfer) -> str | None:
        """Reject code for one transfer, or ``None``: a pure function of seed, EndToEndId and account."""
        if tx.end_to_end_id in seen:
            return "AM05"
        fate = self.fate(tx.creditor_account)
        if fate:
            return fate
        if roll(self.seed, "blocked", tx.end_to_end_id, tx.creditor_account) < profile.blocked_per_mille * 10:
            return "AC06"
        return None

    # ---------------------------------------------------------------------------------- bookings, returns

    def _execute_due(self, day: date, outputs: list[_Output]) -> list[Outcome]:
        due = [p for p in self.state.scheduled if p.due_date <= day]
        if not due:
            return []
        self.state.scheduled = [p for p in self.state.scheduled if p.due_date > day]
        outcomes = []
        for (bank, msg_id), group_iter in groupby(
            sorted(due, key=lambda p: (p.bank, p.msg_id)), key=lambda p: (p.bank, p.msg_id)
        ):
            group = list(group_iter)
            profile = self.profiles[bank]
            start = len(outputs)
            if not profile.reports_only_rejects:
                self._emit_report(
                    bank, outputs, answers.settlement(msg_id, group, msg_id=self._mid(bank), day=day)
                )
            self._emit_notification(bank, outputs, answers.bookings(group, msg_id=self._mid(bank), day=day))
            for p in group:
                self._maybe_schedule_return(profile, p, day)
            booked = tuple(p.end_to_end_id for p in group)
            outcomes.append(Outcome(bank, "booked", msg_id, booked=booked, answers=_names(outputs[start:])))
        return outcomes

    def _maybe_schedule_return(self, profile: BankProfile, p: Payment, booked_on: date) -> None:
        key = (p.end_to_end_id, p.creditor_account)
        if roll(self.seed, "return", *key) >= profile.return_per_mille * 10:
            return
        lo, hi = profile.return_after_days
        after = lo + roll(self.seed, "return-days", *key) % (hi - lo + 1)
        reason = RETURN_REASONS[roll(self.seed, "return-reason", *key) % len(RETURN_REASONS)]
        due = add_business_days(booked_on, after, self.holidays).isoformat()
        self.state.returns.append(replace(p, due=due, return_reason=reason))

    def _returns_due(self, day: date, outputs: list[_Output]) -> list[Outcome]:
        due = [p for p in self.state.returns if p.due_date <= day]
        if not due:
            return []
        self.state.returns = [p for p in self.state.returns if p.due_date > day]
        outcomes = []
        for bank, group_iter in groupby(sorted(due, key=lambda p: p.bank), key=lambda p: p.bank):
            group = list(group_iter)
            start = len(outputs)
            self._emit_notification(bank, outputs, answers.returns(group, msg_id=self._mid(bank), day=day))
            returned = tuple((p.end_to_end_id, p.return_reason or "") for p in group)
            outcomes.append(Outcome(bank, "returned", returned=returned, answers=_names(outputs[start:])))
        return outcomes

    # ------------------------------------------------------------------------------ output and commits

    def _mid(self, bank: str) -> str:
        """The next answer's MsgId (and file number); numbers advance only when a step commits."""
        seq = self.state.next_out
        self.state.next_out += 1
        return f"SIM{bank}-{seq:08d}"

    def _emit_report(self, bank: str, outputs: list[_Output], report: StatusReport) -> None:
        seq = report.msg_id.rsplit("-", 1)[1]
        outputs.append((bank, f"{seq}-pain.002-{report.msg_id}.xml", render_pain002(report)))

    def _emit_notification(self, bank: str, outputs: list[_Output], notification: Notification) -> None:
        seq = notification.msg_id.rsplit("-", 1)[1]
        outputs.append((bank, f"{seq}-camt.054-{notification.msg_id}.xml", render_camt054(notification)))

    def _commit(self, outputs: list[_Output]) -> None:
        for bank, name, data in outputs:
            atomic_write(self.root / bank / ".staging" / name, data)
        self.state.pending = [[bank, name] for bank, name, _ in outputs]
        save_state(self.root, self.state)  # the commit point
        self._publish()

    def _publish(self) -> None:
        for bank, name in self.state.pending:
            staged = self.root / bank / ".staging" / name
            if staged.exists():
                os.replace(staged, self.outbox(bank) / name)
        self.state.pending = []  # persisted with the next commit; re-publishing is a no-op

    def _recover(self) -> None:
        """After a crash: publish committed answers, drop uncommitted ones (they will be recomputed)."""
        self._publish()
        for bank in self.profiles:
            for staged in (self.root / bank / ".staging").iterdir():
                staged.unlink()
        for work in self._work_files():
            if self._claim_no(work) < self.state.next_claim:
                os.replace(work, work.parent.parent / "processed" / work.name)

    def _reload(self) -> None:
        state = load_state(self.root)
        assert state is not None
        self.state = state

    def _work_files(self) -> Iterator[Path]:
        for bank in sorted(self.profiles):
            yield from sorted(p for p in (self.root / bank / "work").iterdir() if p.is_file())

    @staticmethod
    def _claim_no(path: Path) -> int:
        head = path.name.split("-", 1)[0]
        return int(head) if head.isdigit() else -1


def _payment(
    bank: str, msg_id: str, pmt_inf_id: str, debtor_account: str, tx: CreditTransfer, due: str
) -> Payment:
    return Payment(
        bank=bank,
        msg_id=msg_id,
        pmt_inf_id=pmt_inf_id,
        end_to_end_id=tx.end_to_end_id,
        amount_fen=tx.amount_fen,
        debtor_account=debtor_account,
        creditor_name=tx.creditor_name,
        creditor_account=tx.creditor_account,
        due=due,
    )


def _names(outputs: list[_Output]) -> tuple[str, ...]:
    return tuple(name for _, name, _ in outputs)
