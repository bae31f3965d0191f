"""`mianshen audit verify | checkpoint | accept-restore | protection`: check and pin the tamper-evident audit
trail (全程留痕).

verify          exit 0 and a one-line summary when the trail is intact; exit 1 and the first bad entry (seq, id,
                what is wrong) when it is not - the chain itself, or the checkpoint file disagreeing with it
                (missing, emptied, cut, rewritten); exit 2 when it cannot run (database unreachable or not
                migrated, no audit table, checkpoint file unreadable).
checkpoint      append the chain head to the checkpoint file outside the database (run it from cron or the worker).
accept-restore  after a restore from backup: record that the events the file names beyond the head are lost.
protection      status | remove --reason ... | restore: an administrator's switch for the append-only triggers;
                removing and restoring are recorded in the trail.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from django.core.management.base import CommandParser

from mianshen.audit.checkpoints import CheckpointFileError
from mianshen.audit.restore import RestoreRefused
from mianshen.audit.selectors import AuditUnavailable, audit_table_require
from mianshen.core.command import MianshenCommand, UserError
from mianshen.core.db import require_migrated_database
from mianshen.core.progress import progress_bar, stderr_console

EXIT_OK, EXIT_BROKEN = 0, 1


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


class Command(MianshenCommand):
    help = (
        "Verify the audit trail's hash chain against the checkpoint file, write checkpoints of its head, accept "
        "the events a restore from backup lost, switch its protection."
    )
    user_errors = (AuditUnavailable, CheckpointFileError, RestoreRefused)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="subcommand", required=True, metavar="{verify,checkpoint,accept-restore,protection}"
        )
        verify = sub.add_parser("verify", help="recompute the chain and compare it with the checkpoints")
        verify.add_argument("--checkpoints", type=Path, default=None, help="checkpoint file to check against")
        verify.add_argument(
            "--checkpoint", action="store_true", help="when intact, write a new checkpoint of the head"
        )
        verify.add_argument("--batch-size", type=int, default=20_000, help="events read per query")
        verify.add_argument("--quiet", action="store_true", help="no progress bar")

        checkpoint = sub.add_parser("checkpoint", help="append the chain head to the checkpoint file")
        checkpoint.add_argument(
            "--dir", type=Path, default=None, help="write into DIR/audit-checkpoints.jsonl"
        )

        accept = sub.add_parser(
            "accept-restore",
            help="after a restore from backup: record that the events the checkpoint file names beyond the "
            "head are lost (verify then sets their checkpoints aside, and warns)",
        )
        accept.add_argument("--reason", default="", help="why the loss is accepted (required)")
        accept.add_argument("--actor", default=None, help="who (default: cli:<OS user>)")
        accept.add_argument("--checkpoints", type=Path, default=None, help="checkpoint file to check against")

        protection = sub.add_parser("protection", help="status, remove or restore the append-only triggers")
        protection.add_argument("action", choices=["status", "remove", "restore"])
        protection.add_argument("--reason", default="", help="why (required to remove)")
        protection.add_argument("--actor", default=None, help="who (default: cli:<OS user>)")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        audit_table_require()
        getattr(self, f"_{options['subcommand'].replace('-', '_')}")(options)

    def _verify(self, options: dict[str, Any]) -> None:
        from mianshen.audit.selectors import audit_head
        from mianshen.audit.services import audit_checkpoint
        from mianshen.audit.verify import audit_verify

        if options["batch_size"] < 1:
            raise UserError("--batch-size must be at least 1")
        total = audit_head().seq
        with progress_bar("verifying audit trail", total, enabled=not options["quiet"]) as bar:
            result = audit_verify(
                checkpoints=options["checkpoints"],
                batch_size=options["batch_size"],
                advance=cast(Callable[[int], None], bar.advance) if bar else None,
            )
        for warning in result.warnings:
            stderr_console.print(f"warning: {warning}", highlight=False)
        self.stdout.write(result.summary())
        if not result.ok:
            sys.exit(EXIT_BROKEN)
        if options["checkpoint"]:
            path = audit_checkpoint(actor=_default_actor())
            self.stdout.write(f"checkpoint of seq {result.head_seq} appended to {path}")

    def _checkpoint(self, options: dict[str, Any]) -> None:
        from mianshen.audit.catalogue import Action
        from mianshen.audit.models import AuditEvent
        from mianshen.audit.services import audit_checkpoint

        path = audit_checkpoint(directory=options["dir"], actor=_default_actor())
        event = AuditEvent.objects.filter(action=Action.AUDIT_CHECKPOINT).order_by("-seq").first()
        pinned = event.after if event is not None and isinstance(event.after, dict) else {}
        self.stdout.write(
            f"checkpoint of seq {pinned.get('seq')} {str(pinned.get('hash'))[:16]} appended to {path}"
        )

    def _accept_restore(self, options: dict[str, Any]) -> None:
        from mianshen.audit.restore import audit_restore_accept

        event = audit_restore_accept(
            actor=options["actor"] or _default_actor(),
            reason=options["reason"],
            checkpoints=options["checkpoints"],
        )
        after = event.after if isinstance(event.after, dict) else {}
        self.stdout.write(
            f"restore accepted (recorded as seq {event.seq}): events seq {after.get('lost_from')}.."
            f"{after.get('lost_to')} of the earlier trail are lost; a new checkpoint was written"
        )

    def _protection(self, options: dict[str, Any]) -> None:
        from mianshen.audit.protection import protection_installed, protection_remove, protection_restore
        from mianshen.staff.actors import staff_actor  # an --actor named must be an active staff member

        actor = _default_actor() if options["actor"] is None else staff_actor(options["actor"])
        if options["action"] == "status":
            self.stdout.write("append-only protection: " + ("on" if protection_installed() else "OFF"))
        elif options["action"] == "remove":
            if not options["reason"].strip():
                raise UserError("removing the audit trail's protection needs --reason")
            event = protection_remove(actor=actor, reason=options["reason"])
            self.stdout.write(
                f"append-only protection removed (recorded as seq {event.seq}); restore it soon"
            )
        else:
            event = protection_restore(actor=actor, reason=options["reason"])
            self.stdout.write(f"append-only protection restored (recorded as seq {event.seq})")
