"""Outbound bank files: build and freeze (one pain.001 per bank and execution date), hand over, notice silence.

- ``bank_files_build``: in one transaction, lock the banks' rows (every writer of a ``created`` instruction's
  status takes the same lock), select their ``created`` instructions, render
  each file from that frozen snapshot (validated against the official XSD), store bytes and SHA-256, mark the
  instructions ``frozen`` and queue the upload job (keyed by MsgId). Nothing leaves here.
- ``bank_file_upload``: claim the hand-over (attempt n, owner, lease: ``services.handover``) and commit, send
  the stored bytes, record the hand-over. A file another process is handing over is skipped. A crash anywhere
  leaves the file ``frozen``/``uploading`` with a lease that is over once its owner is gone (or expired); the
  next run sends the same bytes again.
- ``bank_files_check_silence``: a file without any answer past its bank's window is "no answer" (alert), and
  is handed over again — the same bytes with the same MsgId.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from multiprocessing import get_all_start_methods, get_context

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action
from mianshen.core.bulkdb import allocate_ids, insert_objects
from mianshen.core.jobs import job_enqueue

from ..banks import add_working_days, fund_account, next_working_day
from ..crashpoints import maybe_crash
from ..lifecycle import InstructionStatus as IS
from ..models import Bank, BankFile, BankFileStatus, HoldItem, HoldKind, Instruction
from ..rendering import FileJob, TransferRow, render
from .channel import Channel
from .common import PaymentError, audit_many, event, holidays_all, msg_id, now_cst, today_local
from .handover import Owner, lease_is_live, lease_until
from .holds import holds_raise
from .transitions import (
    InstructionMove,
    bank_file_transition,
    instruction_transition_in_file,
    instruction_transition_many,
)

PARALLEL_MIN = 40_000  # render in worker processes from this many payments on


def bank_files_build(
    *,
    actor: str,
    today: date | None = None,
    execution_date: date | None = None,
    banks: Sequence[str] | None = None,
    later_batch: bool = False,
) -> list[BankFile]:
    """Freeze one file per bank holding ``created`` instructions (cooperating banks; with ``later_batch`` all
    banks; or exactly ``banks``). Execution date: the next working day after ``today`` unless given."""
    if not Instruction.objects.filter(status=IS.CREATED).exists():
        return []  # nothing waits for a file (checked again under the banks' locks below)
    day = today or today_local()
    exec_date = execution_date or next_working_day(day, holidays_all())
    fund = fund_account()
    created_at = now_cst()
    with transaction.atomic():
        bank_rows = Bank.objects.select_for_update().order_by("code")
        if banks is not None:
            bank_rows = bank_rows.filter(code__in=list(banks))
        elif not later_batch:
            bank_rows = bank_rows.filter(cooperating=True)
        codes = [b.code for b in bank_rows]
        per_bank: dict[str, list[tuple[int, TransferRow]]] = defaultdict(list)
        # the bank rows' locks serialise builders (and cancellations) per bank: no row lock per instruction
        rows = (
            Instruction.objects.filter(status=IS.CREATED, bank_id__in=codes)
            .order_by("bank_id", "pk")
            .values_list(
                "pk",
                "bank_id",
                "end_to_end_id",
                "amount_fen",
                "creditor_name",
                "creditor_account",
                "creditor_branch_code",
                "remittance",
            )
        )
        for pk, bank, *transfer in rows.iterator(chunk_size=20_000):
            per_bank[bank].append((pk, tuple(transfer)))  # type: ignore[arg-type]
        if not per_bank:
            return []
        maybe_crash("after_select")
        jobs: list[FileJob] = []
        banks_of_jobs: list[str] = []
        for bank, items in sorted(per_bank.items()):
            n = BankFile.objects.filter(bank_id=bank, execution_date=exec_date).count() + 1
            mid = msg_id(exec_date, bank, n)
            jobs.append(
                FileJob(
                    msg_id=mid,
                    pmt_inf_id=f"{mid}-B1",
                    created_at=created_at,
                    execution_date=exec_date,
                    initiating_party=fund.initiating_party,
                    debtor_name=fund.name,
                    debtor_account=fund.account,
                    debtor_branch_code=fund.branch_code,
                    rows=[t for _, t in items],
                )
            )
            banks_of_jobs.append(bank)
        file_ids = allocate_ids(BankFile, len(jobs))
        with _Renderer(jobs) as renderer:
            # while the files render (in worker processes for a large batch), point the instructions at their
            # file ids; the foreign key is checked at commit, when the files exist
            # (audited as bank_file.frozen below, once the files' bytes are hashed)
            instruction_transition_many(
                moves=[InstructionMove(pk, IS.CREATED, IS.FROZEN, (fid,))
                       for fid, bank in zip(file_ids, banks_of_jobs, strict=True) for pk, _ in per_bank[bank]],
                columns=("bank_file_id",),
                actor=actor,
            )  # fmt: skip
            rendered = renderer.results()
        maybe_crash("after_render")
        files = [
            BankFile(
                id=fid,
                msg_id=job.msg_id,
                pmt_inf_id=job.pmt_inf_id,
                bank_id=bank,
                execution_date=exec_date,
                created_at=created_at,
                nb_of_txs=len(job.rows),
                ctrl_sum_fen=sum(r[1] for r in job.rows),
                content=data,
                sha256=sha,
                frozen_by=actor,
            )
            for fid, bank, job, (_, data, sha) in zip(file_ids, banks_of_jobs, jobs, rendered, strict=True)
        ]
        insert_objects(files)  # the bytes bound by the server: 300 MB of pain.001 at Beijing's size
        for bf in files:
            job_enqueue(kind="payments.upload", key=f"payments.upload:{bf.msg_id}", params={"msg_id": bf.msg_id},
                        actor=actor)  # fmt: skip
        audit_many(
            actor=actor,
            events=[
                event(
                    Action.BANK_FILE_FROZEN,
                    "bank_file",
                    bf.msg_id,
                    after={
                        "sha256": bf.sha256,
                        "bank": bf.bank_id,
                        "execution_date": exec_date,
                        "nb_of_txs": bf.nb_of_txs,
                        "ctrl_sum_fen": bf.ctrl_sum_fen,
                        "bytes": len(bf.content),
                    },
                )
                for bf in files
            ],
        )
    maybe_crash("after_freeze")
    return files


class _Renderer:
    """Renders the files: in this process for a small batch, else in a pool of worker processes (biggest files
    first, so the pool stays busy) while the caller goes on with its database work. Forked children only render
    (pure functions) and leave with ``os._exit``: they never touch the parent's database connection."""

    def __init__(self, jobs: list[FileJob]) -> None:
        self.jobs = jobs
        total = sum(len(j.rows) for j in jobs)
        configured = int(os.environ.get("MIANSHEN_RENDER_WORKERS", "0") or 0)
        workers = min(len(jobs), configured or (os.cpu_count() or 1))
        self.pool: ProcessPoolExecutor | None = None
        self.futures: dict[int, Future[tuple[str, bytes, str]]] = {}
        if total >= PARALLEL_MIN and workers >= 2:
            method = "fork" if "fork" in get_all_start_methods() else "spawn"
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context(method))
            for i in sorted(range(len(jobs)), key=lambda i: -len(jobs[i].rows)):
                self.futures[i] = self.pool.submit(render, jobs[i])

    def results(self) -> list[tuple[str, bytes, str]]:
        if self.pool is None:
            return [render(j) for j in self.jobs]
        return [self.futures[i].result() for i in range(len(self.jobs))]

    def __enter__(self) -> _Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class Handover:
    """What one call to :func:`bank_file_upload` did: sent the file (``sent``), or why it did not."""

    bank_file: BankFile
    sent: bool
    skipped: str = ""  # another process holds the hand-over (who, until when)


def bank_file_upload(
    *, msg_id: str, actor: str, channel: Channel, today: date | None = None, retry: bool = False
) -> Handover:
    """Hand a frozen file to its bank (the stored bytes, always the same). Idempotent: a file already handed
    over is sent again only with ``retry``; a file another process is handing over is skipped
    (``services.handover``)."""
    day = today or today_local()
    me = Owner.me()
    claimed = _upload_claim(msg_id=msg_id, actor=actor, retry=retry, me=me)
    if isinstance(claimed, Handover):
        return claimed
    bf, data = claimed
    maybe_crash("before_upload")
    channel.send(bf.bank_id, bf.file_name, data)
    maybe_crash("after_upload")
    with transaction.atomic():
        bf = BankFile.objects.select_for_update().defer("content").get(pk=bf.pk)
        changes: dict[str, object] = {"last_upload_on": day}
        if bf.first_upload_at is None:
            changes["first_upload_at"] = bf.last_upload_at
        if bf.upload_owner == str(me):  # else another process took an expired lease over: it is theirs now
            changes |= {"upload_owner": None, "upload_lease_until": None}
        status = BankFileStatus(bf.status)
        bf = bank_file_transition(
            pk=bf.pk,
            to=BankFileStatus.UPLOADED if status == BankFileStatus.UPLOADING else status,
            expect=frozenset({status}),
            changes=changes,
            actor=actor,
            events=[
                event(
                    Action.BANK_FILE_UPLOADED,
                    "bank_file",
                    bf.msg_id,
                    after={"attempt": bf.upload_attempts, "sha256": bf.sha256, "bank": bf.bank_id, "on": day},
                )
            ],
        )
        instruction_transition_in_file(bank_file_id=bf.pk, frm=IS.FROZEN, to=IS.UPLOADED, actor=actor)
    return Handover(bf, sent=True)


def _upload_claim(*, msg_id: str, actor: str, retry: bool, me: Owner) -> tuple[BankFile, bytes] | Handover:
    """Claim the hand-over of ``msg_id`` and commit the claim (attempt n, owner, lease) before anything is sent:
    the file and its bytes, or a ``Handover`` saying why there is nothing to send."""
    with transaction.atomic():
        # SKIP LOCKED (PostgreSQL): a file another run is claiming this very moment is that run's
        bf = BankFile.objects.select_for_update(skip_locked=True).filter(msg_id=msg_id).first()
        if bf is None:
            other = BankFile.objects.filter(msg_id=msg_id).first()
            if other is None:
                raise PaymentError(_("没有报文标识为 %(msg_id)s 的银行文件"), msg_id=msg_id)
            return Handover(other, sent=False, skipped="another process is claiming it right now")
        pending = bf.status in (BankFileStatus.FROZEN, BankFileStatus.UPLOADING)
        again = retry and bf.status in (BankFileStatus.UPLOADED, BankFileStatus.NO_ANSWER)
        if not (pending or again):
            return Handover(bf, sent=False)
        now = timezone.now()
        if lease_is_live(bf.upload_owner, bf.upload_lease_until, now=now, me=me):
            until = timezone.localtime(bf.upload_lease_until)
            return Handover(
                bf, sent=False, skipped=f"being handed over by {bf.upload_owner} until {until:%H:%M:%S}"
            )
        data = bytes(bf.content)
        claim = {"upload_attempts": bf.upload_attempts + 1, "last_upload_at": now, "upload_owner": str(me),
                 "upload_lease_until": lease_until(now)}  # fmt: skip
        status = BankFileStatus(bf.status)
        bf = bank_file_transition(
            pk=bf.pk,
            to=BankFileStatus.UPLOADING if status == BankFileStatus.FROZEN else status,
            expect=frozenset({status}),
            changes=claim,
            actor=actor,
            events=[
                event(Action.BANK_FILE_UPLOAD_STARTED, "bank_file", bf.msg_id,
                      after={"attempt": claim["upload_attempts"], "owner": claim["upload_owner"],
                             "lease_until": claim["upload_lease_until"], "taken_over_from": bf.upload_owner or ""})
            ],
        )  # fmt: skip
        return bf, data


def bank_files_upload_pending(*, actor: str, channel: Channel, today: date | None = None) -> list[Handover]:
    """Hand over every frozen file, and again every file whose hand-over was interrupted; a file another
    process is handing over is skipped (in the list, ``sent=False``)."""
    pending = BankFile.objects.filter(status__in=[BankFileStatus.FROZEN, BankFileStatus.UPLOADING])
    return [
        bank_file_upload(msg_id=m, actor=actor, channel=channel, today=today)
        for m in pending.order_by("pk").values_list("msg_id", flat=True)
    ]


def bank_files_check_silence(*, actor: str, channel: Channel, today: date | None = None) -> list[BankFile]:
    """Files the bank has not answered within its window: "no answer" (hold + alert), then sent again."""
    day = today or today_local()
    silent = BankFile.objects.filter(
        status__in=[BankFileStatus.UPLOADED, BankFileStatus.NO_ANSWER], answered_at=None
    ).exclude(last_upload_on=None)
    retried: list[BankFile] = []
    if not silent.exists():
        return retried
    holidays = holidays_all()
    windows = dict(Bank.objects.values_list("code", "silence_days"))
    for bf in silent.order_by("pk"):
        assert bf.last_upload_on is not None
        if day <= add_working_days(bf.last_upload_on, windows.get(bf.bank_id, 2), holidays):
            continue
        with transaction.atomic():
            locked = BankFile.objects.select_for_update().defer("content").get(pk=bf.pk)
            if locked.answered_at is not None:
                continue
            if locked.status == BankFileStatus.UPLOADED:  # audited by the hold raised below (the alert)
                bank_file_transition(pk=locked.pk, to=BankFileStatus.NO_ANSWER,
                                     expect=frozenset({BankFileStatus.UPLOADED}), actor=actor)  # fmt: skip
                instruction_transition_in_file(
                    bank_file_id=locked.pk, frm=IS.UPLOADED, to=IS.NO_ANSWER, actor=actor
                )
            holds_raise(
                actor=actor,
                items=[
                    HoldItem(
                        key=f"no_answer:{locked.msg_id}",
                        kind=HoldKind.NO_ANSWER,
                        bank_file=locked,
                        message=f"no answer from bank {locked.bank_id} to {locked.msg_id} since "
                        f"{locked.last_upload_on}: handed over again (same bytes)",
                    )
                ],
            )
        maybe_crash("after_silence")
        handover = bank_file_upload(msg_id=bf.msg_id, actor=actor, channel=channel, today=day, retry=True)
        if handover.sent:
            retried.append(handover.bank_file)
    return retried
