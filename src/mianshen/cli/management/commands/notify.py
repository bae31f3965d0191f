"""`mianshen notify outbox|send`: the outbox for operators and tests (contracts §3, §4)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from mianshen.core.command import MianshenCommand, UserError, iso_date
from mianshen.core.db import require_migrated_database
from mianshen.staff.actors import actor_option


class Command(MianshenCommand):
    help = "The notification outbox: list messages (outbox) or deliver what is due now (send)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="outbox|send")
        out = sub.add_parser("outbox", help="messages in the outbox with their state")
        out.add_argument("--to", help="only messages to this phone, e-mail address or unit id (inbox)")
        out.add_argument("--kind", help="only messages of this kind (otp, listed, paid, payment_failed, …)")
        out.add_argument("--unit", help="only messages about this unit id")
        out.add_argument("--json", action="store_true", help="one JSON array of objects")
        out.add_argument("--limit", type=int, default=0, help="at most this many (the newest); 0: all")
        out.add_argument(
            "--unmask", action="store_true", help="show full addresses and one-time codes (audited)"
        )
        out.add_argument("--actor", help="who runs it (default cli:<OS user>)")
        send = sub.add_parser("send", help="deliver what is due now (the worker does this continuously)")
        send.add_argument("--limit", type=int, default=10_000, help="at most this many messages in this pass")
        send.add_argument("--actor", help="who runs it (default cli:<OS user>)")
        phone = sub.add_parser("enquiry", help="record a phone consultation (staff)")
        phone.add_argument("--topic", required=True, help="what it was about")
        phone.add_argument("--outcome", required=True, choices=["answered", "forwarded"])
        phone.add_argument("--unit", help="the unit id, if known")
        phone.add_argument("--district", default="", help="the district code, if known")
        phone.add_argument("--actor", required=True, help="the staff member who took the call")
        counts = sub.add_parser("enquiries", help="enquiries by channel (phone, lookup, callback)")
        counts.add_argument("--from", dest="first", type=iso_date, help="first Beijing day (YYYY-MM-DD)")
        counts.add_argument("--to", dest="last", type=iso_date, help="last Beijing day (YYYY-MM-DD)")
        counts.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        action = options["action"]
        if action == "outbox":
            self._outbox(options)
        elif action == "send":
            self._send(options)
        elif action == "enquiry":
            self._enquiry(options)
        else:
            self._enquiries(options)

    def _outbox(self, options: dict[str, Any]) -> None:
        from mianshen.notify.kinds import Kind
        from mianshen.notify.selectors import message_public, outbox
        from mianshen.notify.services import unmasked_view_record

        kind = options["kind"]
        if kind and kind not in Kind.__members__.values():
            raise UserError(f"unknown kind {kind!r}: one of {', '.join(k.value for k in Kind)}")
        if options["limit"] < 0:
            raise UserError("--limit must be 0 or more")
        rows = outbox(to=options["to"], kind=kind, unit_id=options["unit"])
        if options["limit"]:
            rows = rows.order_by("-id")[: options["limit"]]
        messages = sorted(rows, key=lambda m: m.pk)
        unmask = options["unmask"]
        if unmask:
            unmasked_view_record(
                actor=actor_option(options["actor"]),
                count=len(messages),
                filters={"to": options["to"], "kind": kind, "unit": options["unit"]},
            )
        items = [message_public(m, unmask=unmask) for m in messages]
        if options["json"]:
            self.stdout.write(json.dumps(items, ensure_ascii=False, indent=1))
            return
        for item in items:
            self.stdout.write(
                f"{item['id']:>8} {item['state']:<10} {item['kind']:<18} {item['channel']:<5} {item['to']:<16} "
                f"{item['body'][:60]}"
            )
        self.stderr.write(f"{len(items)} message(s)")

    def _send(self, options: dict[str, Any]) -> None:
        from mianshen.notify.services import deliver_due

        if options["limit"] < 1:
            raise UserError("--limit must be at least 1")
        done = deliver_due(limit=options["limit"], actor=actor_option(options["actor"]))
        self.stdout.write(
            f"sent {done.sent}, delivered {done.delivered}, retried {done.retried}, failed {done.failed}, "
            f"found at the provider {done.found}, deferred {done.deferred}, receipts {done.receipts}, "
            f"closed without receipt {done.closed}"
        )

    def _enquiry(self, options: dict[str, Any]) -> None:
        from mianshen.notify.enquiries import enquiry_phone_record
        from mianshen.notify.services import NotifyError

        actor = actor_option(options["actor"], required=True)
        try:
            enquiry = enquiry_phone_record(topic=options["topic"], outcome=options["outcome"], actor=actor,
                                           unit_id=options["unit"], district=options["district"])  # fmt: skip
        except NotifyError as exc:
            raise UserError(str(exc)) from exc
        self.stdout.write(f"enquiry {enquiry.pk} recorded: phone, {enquiry.outcome}, {enquiry.day}")

    def _enquiries(self, options: dict[str, Any]) -> None:
        from mianshen.notify.enquiries import enquiries_by_channel

        if options["first"] and options["last"] and options["first"] > options["last"]:
            raise UserError("--from is after --to")
        counts = enquiries_by_channel(first=options["first"], last=options["last"])
        if options["json"]:
            self.stdout.write(json.dumps(counts, ensure_ascii=False))
            return
        for channel, row in counts.items():
            rest = ", ".join(f"{k} {v}" for k, v in sorted(row.items()) if k != "total")
            self.stdout.write(f"{channel:<9} {row['total']:>7}" + (f"  ({rest})" if rest else ""))
