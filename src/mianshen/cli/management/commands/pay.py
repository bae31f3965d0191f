"""`mianshen pay …`: the payment side — hand approved cases over, build and hand over bank files, read the
banks' answers, fix failed payments (four eyes), watch the hold queue. See docs/payments.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from mianshen.core.command import MianshenCommand, UserError, iso_date
from mianshen.core.db import require_migrated_database
from mianshen.core.money import format_yuan
from mianshen.staff.actors import actor_option

EXIT_QUARANTINED = 3  # as `mianshen import` exits when it rejected rows
# the decisions of a person (four eyes among them): --actor is required, an active staff member whose role may
# do it (staff.roles.Perm); the other actions are machine steps, done as cli:<OS user> without --actor
DECISIONS = {
    "correct": "prepare_correction",
    "resend": "prepare_correction",
    "decide": "decide_correction",
    "reissue-file": "request_reissue",
    "cancel": "request_cancel",
    "approve": "decide_approval",
    "reprocess": "reprocess_inbound",
    "resolve": "resolve_hold",
}


class Command(MianshenCommand):
    help = "Payments: instruct, build, upload, ingest, silence, cycle, correct, resend, decide, holds, resolve, …"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--actor",
            help="the staff member who does it (audit trail): required for a decision (correct, resend, decide, "
            "reissue-file, cancel, approve, reprocess, resolve); else default cli:<OS user>",
        )
        parser.add_argument("--bank-dir", type=Path, help="exchange folder (default $MIANSHEN_BANK_DIR)")
        parser.add_argument("--date", type=iso_date, help="business date (default: today)")
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("instruct", help="hand approved cases over: one instruction each, account on file")
        p.add_argument("--policy")
        p = sub.add_parser("build", help="freeze one pain.001 per bank with waiting instructions")
        p.add_argument("--execution-date", type=iso_date)
        p.add_argument("--later-batch", action="store_true", help="also the non-cooperating banks (314, 402)")
        p.add_argument("--bank", action="append", help="only this bank code (repeatable)")
        p = sub.add_parser("upload", help="hand frozen files to the banks (or --retry one: same bytes)")
        p.add_argument("--retry", metavar="MSGID")
        p = sub.add_parser("ingest", help="read bank answers: FILES, or every new one in the exchange folder")
        p.add_argument("files", nargs="*", type=Path)
        p.add_argument("--bank", default="", help="the bank the FILES came from")
        sub.add_parser("silence", help="files without an answer past their bank's window: alert and resend")
        p = sub.add_parser("cycle", help="one pass: instruct, build, upload, ingest, silence")
        p.add_argument("--policy")
        p.add_argument("--later-batch", action="store_true")
        p = sub.add_parser("correct", help="enter a corrected account for a failed payment (maker)")
        p.add_argument("case", type=int)
        for name in ("--bank", "--branch", "--account", "--name"):
            p.add_argument(name, required=True)
        p.add_argument("--note", default="")
        p = sub.add_parser(
            "resend", help="propose sending a failed payment again to the same account (maker)"
        )
        p.add_argument("case", type=int)
        p.add_argument("--note", default="")
        p = sub.add_parser("decide", help="approve or refuse a correction (checker: not its maker)")
        p.add_argument("correction", type=int)
        p.add_argument("--refuse", action="store_true")
        p.add_argument("--note", default="")
        p = sub.add_parser(
            "reissue-file",
            help="after fixing our file's defect: ask to re-issue its payments with new ids (another officer "
            "approves)",
        )
        p.add_argument("msg_id")
        p.add_argument("--reason", required=True)
        p = sub.add_parser(
            "cancel", help="ask to cancel a payment that is not live (another officer approves)"
        )
        p.add_argument("case", type=int)
        p.add_argument("--reason", required=True)
        p = sub.add_parser("approve", help="approve (or --refuse) a cancel / re-issue request: not its asker")
        p.add_argument("approval", type=int)
        p.add_argument("--refuse", action="store_true")
        p.add_argument("--note", default="")
        p = sub.add_parser("approvals", help="cancel / re-issue requests waiting for a decision")
        p.add_argument("--all", action="store_true")
        p = sub.add_parser(
            "reprocess", help="process a quarantined bank answer again (after the cause is fixed)"
        )
        p.add_argument("inbound", type=int, help="the inbound file's number (pay quarantine)")
        sub.add_parser("quarantine", help="bank answers refused whole (quarantined), with the reason")
        p = sub.add_parser("holds", help="the hold queue (open items)")
        p.add_argument("--all", action="store_true")
        p = sub.add_parser("resolve", help="close a hold item with what was done")
        p.add_argument("hold", type=int)
        p.add_argument("--resolution", required=True)
        sub.add_parser("recover", help="payments awaiting correction and why")
        sub.add_parser("status", help="counts of instructions, files, holds, inbound files")
        sub.add_parser("banks", help="the bank registry")
        p = sub.add_parser("holidays", help="load holidays (ISO dates, one per line or comma-separated)")
        p.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        from mianshen.payments.services.common import PaymentError

        decision = DECISIONS.get(options["action"])
        options["actor"] = actor_option(options["actor"], perm=decision, required=decision is not None)

        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(options)
        except PaymentError as exc:
            raise UserError(str(exc)) from exc

    def _channel(self, options: dict[str, Any]) -> Any:
        from mianshen.payments.services.channel import FolderChannel

        return FolderChannel(options["bank_dir"])

    def _instruct(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.instructions import payments_release

        r = payments_release(actor=options["actor"], policy_id=options["policy"])
        self.stdout.write(f"released {r.released} cases ({format_yuan(r.amount_fen, unit='symbol')}): {r.instructed} instructed, "
                          f"{r.awaiting_account} awaiting an account")  # fmt: skip

    def _build(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.bankfiles import bank_files_build

        files = bank_files_build(actor=options["actor"], today=options["date"],
                                 execution_date=options["execution_date"], banks=options["bank"],
                                 later_batch=options["later_batch"])  # fmt: skip
        for f in files:
            self.stdout.write(f"{f.msg_id} bank {f.bank_id} {f.nb_of_txs} payments {format_yuan(f.ctrl_sum_fen, unit='symbol')} "
                              f"sha256 {f.sha256}")  # fmt: skip
        self.stdout.write(f"{len(files)} file(s) frozen")

    def _upload(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.bankfiles import bank_file_upload, bank_files_upload_pending

        channel = self._channel(options)
        if options["retry"]:
            handovers = [bank_file_upload(msg_id=options["retry"], actor=options["actor"], channel=channel,
                                          today=options["date"], retry=True)]  # fmt: skip
        else:
            handovers = bank_files_upload_pending(
                actor=options["actor"], channel=channel, today=options["date"]
            )
        for h in handovers:
            f = h.bank_file
            done = f"skipped: {h.skipped}" if h.skipped else f"{f.status} (hand-over {f.upload_attempts})"
            self.stdout.write(f"{f.msg_id} -> bank {f.bank_id}: {done}")

    def _ingest(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.ingest import inbound_file_ingest_path, inbound_files_collect

        skipped = []
        if options["files"]:
            for path in options["files"]:
                if not path.is_file():
                    raise UserError(f"no such file: {path}")
            results = [inbound_file_ingest_path(path=p, actor=options["actor"], bank_code=options["bank"])
                       for p in options["files"]]  # fmt: skip
        else:
            collected = inbound_files_collect(channel=self._channel(options), actor=options["actor"])
            results, skipped = collected.results, collected.skipped
        for r in results:
            state = "seen before" if r.duplicate else r.inbound.status
            why = f": {r.reason}" if r.quarantined else f" {r.counts.get('moves', {})}"
            self.stdout.write(f"{r.inbound.name}: {state}{why}")
        for entry in skipped:
            self.stderr.write(f"not read: {entry.where} {entry.problem}")
        held = [r.inbound.pk for r in results if r.quarantined]
        if skipped and not held:
            raise UserError(
                f"{len(skipped)} entry(ies) of the banks' outboxes not read (not regular files): see `mianshen pay "
                "holds` and remove them",
                returncode=EXIT_QUARANTINED,
            )
        if held:
            raise UserError(
                f"{len(held)} bank answer(s) quarantined, nothing of them applied (inbound {', '.join(map(str, held))}): "
                "see `mianshen pay holds`, fix the cause, then `mianshen pay reprocess N`",
                returncode=EXIT_QUARANTINED,
            )

    def _silence(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.bankfiles import bank_files_check_silence

        for f in bank_files_check_silence(
            actor=options["actor"], channel=self._channel(options), today=options["date"]
        ):
            self.stdout.write(f"{f.msg_id}: no answer from bank {f.bank_id}; handed over again (same bytes)")

    def _cycle(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.cycle import disbursement_cycle

        r = disbursement_cycle(actor=options["actor"], channel=self._channel(options), today=options["date"],
                               policy_id=options["policy"], later_batch=options["later_batch"])  # fmt: skip
        self.stdout.write(" ".join(f"{k}={v}" for k, v in r.__dict__.items()))

    def _correct(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.recovery import AccountInput, correction_prepare

        account = AccountInput(options["bank"], options["branch"], options["account"], options["name"])
        c = correction_prepare(
            case_id=options["case"], actor=options["actor"], account=account, note=options["note"]
        )
        self.stdout.write(
            f"correction {c.pk} entered for case {options['case']}: another officer must decide it"
        )

    def _resend(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.recovery import correction_prepare

        c = correction_prepare(case_id=options["case"], actor=options["actor"], note=options["note"])
        self.stdout.write(
            f"re-send {c.pk} proposed for case {options['case']}: another officer must decide it"
        )

    def _decide(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.recovery import correction_decide

        c = correction_decide(correction_id=options["correction"], actor=options["actor"],
                              approve=not options["refuse"], note=options["note"])  # fmt: skip
        new = f": re-issued as {c.reissue.end_to_end_id}" if c.reissue else ""
        self.stdout.write(f"correction {c.pk} {c.outcome}{new}")

    def _reissue_file(self, options: dict[str, Any]) -> None:
        from mianshen.payments.models import ApprovalKind
        from mianshen.payments.services.approvals import approval_request

        a = approval_request(kind=ApprovalKind.REISSUE_FILE, msg_id=options["msg_id"], actor=options["actor"],
                             reason=options["reason"])  # fmt: skip
        self.stdout.write(f"request {a.pk}: re-issue the payments of {options['msg_id']}; another officer "
                          f"approves it with `mianshen pay approve {a.pk}`")  # fmt: skip

    def _cancel(self, options: dict[str, Any]) -> None:
        from mianshen.payments.models import ApprovalKind
        from mianshen.payments.services.approvals import approval_request

        a = approval_request(kind=ApprovalKind.CANCEL_PAYMENT, case_id=options["case"], actor=options["actor"],
                             reason=options["reason"])  # fmt: skip
        self.stdout.write(f"request {a.pk}: cancel the payment of case {options['case']}; another officer "
                          f"approves it with `mianshen pay approve {a.pk}`")  # fmt: skip

    def _approve(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.approvals import approval_decide

        a = approval_decide(approval_id=options["approval"], actor=options["actor"],
                            approve=not options["refuse"], note=options["note"])  # fmt: skip
        done = "".join(f" {k}={v}" for k, v in a.result.items())
        self.stdout.write(f"request {a.pk} ({a.kind}) {a.outcome}{done}")

    def _approvals(self, options: dict[str, Any]) -> None:
        from mianshen.payments.models import Approval

        items = Approval.objects.select_related("bank_file")
        if not options["all"]:
            items = items.filter(decided_by="")
        for a in items:
            target = (
                f"case {a.case_id}" if a.case_id else f"file {a.bank_file.msg_id if a.bank_file else '-'}"
            )
            done = f" [{a.outcome} by {a.decided_by}]" if a.decided_by else ""
            self.stdout.write(f"{a.pk} {a.kind} {target} asked by {a.requested_by}: {a.reason}{done}")

    def _quarantine(self, options: dict[str, Any]) -> None:
        from mianshen.payments.selectors import inbound_quarantined

        for f in inbound_quarantined():
            cut = " (too large: only its head was kept)" if f.truncated else ""
            self.stdout.write(f"{f.pk} {f.name} bank {f.bank_code or '-'} {f.received_at:%Y-%m-%d %H:%M}: "
                              f"[{f.reason_code or '-'}] {f.reason}{cut}")  # fmt: skip

    def _reprocess(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.ingest import inbound_file_reprocess

        r = inbound_file_reprocess(inbound_id=options["inbound"], actor=options["actor"])
        if r.quarantined:
            raise UserError(f"inbound file {r.inbound.pk} is still refused: {r.reason}")
        self.stdout.write(
            f"inbound file {r.inbound.pk} ({r.inbound.name}) applied: {r.counts.get('moves', {})}"
        )

    def _holds(self, options: dict[str, Any]) -> None:
        from mianshen.payments.models import HoldItem
        from mianshen.payments.selectors import holds_open

        items = HoldItem.objects.order_by("id") if options["all"] else holds_open()
        for h in items:
            done = f" [resolved by {h.resolved_by}: {h.resolution}]" if h.resolved_at else ""
            self.stdout.write(f"{h.pk} {h.kind} {h.key}: {h.message}{done}")

    def _resolve(self, options: dict[str, Any]) -> None:
        from mianshen.payments.services.holds import hold_resolve

        h = hold_resolve(hold_id=options["hold"], actor=options["actor"], resolution=options["resolution"])
        self.stdout.write(f"hold {h.pk} ({h.kind}) resolved")

    def _recover(self, options: dict[str, Any]) -> None:
        from mianshen.payments.lifecycle import Bucket
        from mianshen.payments.selectors import payment_positions

        for p in payment_positions():
            if p.bucket == Bucket.AWAITING_CORRECTION:
                self.stdout.write(f"case {p.case_id} {format_yuan(p.amount_fen, unit='symbol')} {p.end_to_end_id or '-'} {p.status or '-'} "
                                  f"{p.action or p.note}")  # fmt: skip

    def _status(self, options: dict[str, Any]) -> None:
        from mianshen.payments.selectors import payment_counts

        for group, counts in payment_counts().items():
            self.stdout.write(f"{group}: " + (" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "-"))

    def _banks(self, options: dict[str, Any]) -> None:
        from mianshen.payments.models import Bank

        for b in Bank.objects.all():
            batch = "first batch" if b.cooperating else "later batch"
            only = ", reports only rejects" if b.reports_only_rejects else ""
            self.stdout.write(
                f"{b.code} {b.name} ({batch}{only}; no answer after {b.silence_days} working days)"
            )

    def _holidays(self, options: dict[str, Any]) -> None:
        from mianshen.payments.banks import parse_holidays
        from mianshen.payments.services.common import holidays_load

        try:
            days = parse_holidays(options["file"].read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read holidays from {options['file']}: {exc}") from exc
        self.stdout.write(f"{holidays_load(days=days)} holiday(s) added, {len(days)} in the file")
