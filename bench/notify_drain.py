"""Draining the outbox through the SMS gateway at its rate limit (issue 12 Performance: "sending through the fake
gateway at its rate limit with the backlog draining visibly").

Queues N "listed" SMS (``messages_queue_many``, as a notice does) in a scratch PostgreSQL database, starts the
fake SMS gateway the tests use (tests/notify/fake_gateway.py: a real HTTP server on loopback, signed requests,
receipts, a per-second rate limit that answers ``isv.BUSINESS_LIMIT_CONTROL`` above it) and sends the backlog with
the product's path: ``deliver_due`` passes (claim under lock with the attempt committed, the gateway call, the
``sent`` transition, receipts pulled and applied — each move audited) through ``SmsGatewaySender``, paced by a
token bucket at the gateway's limit so that no send is refused. A rich progress bar shows the backlog draining.

The clock given to ``deliver_due`` is 10:00 Beijing time of the next day when run in quiet hours (SMS of this kind
wait for 08:00): the messages are due, the sends are real. ``--unpaced`` sends as fast as the path goes (the
gateway unlimited): the capacity. ``--record`` appends the table to bench/RESULTS.md.

    MIANSHEN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/h_notifyops_drain \\
        PYTHONPATH=src .venv/bin/python bench/notify_drain.py --messages 20000 --rate 100 [--unpaced] [--record]
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class Bucket:
    """A token bucket: ``take()`` waits until one send is allowed at ``rate`` a second (burst 1)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            wait = self.next - now
            self.next = max(self.next, now) + self.interval
        if wait > 0:
            time.sleep(wait)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=100, help="the gateway's limit, messages a second")
    parser.add_argument("--batch", type=int, default=500, help="messages per deliver_due pass")
    parser.add_argument("--unpaced", action="store_true", help="no limit at the gateway, no pacing")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("MIANSHEN_DATABASE_URL", "").startswith("postgresql"):
        print("set MIANSHEN_DATABASE_URL to a scratch PostgreSQL database", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    sys.path[:0] = [str(HERE), str(ROOT)]
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from tests.notify.fake_gateway import ACCESS_KEY, SECRET, fake_gateway

    from benchlib import append_results, command_line, machine, machine_line
    from mianshen.notify.kinds import Channel, Kind, benefit
    from mianshen.notify.models import Message
    from mianshen.notify.senders import FileSender, InboxSender, SmsGatewaySender
    from mianshen.notify.services import (
        BEIJING,
        Accepted,
        NewMessage,
        Sender,
        deliver_due,
        messages_queue_many,
        not_before,
    )

    info = machine()
    call_command("migrate", verbosity=0)
    n, rate = args.messages, (0 if args.unpaced else args.rate)
    tag = f"drain{int(time.time())}"
    t0 = time.perf_counter()
    queued = messages_queue_many(
        messages=(
            NewMessage(
                Kind.LISTED,
                Channel.SMS,
                f"13{i % 10}{i:08d}"[-11:],
                f"{tag}:{i}",
                {
                    **benefit("beijing-2021"),
                    "unit_name": f"测试{i}号公司",
                    "amount": "1,234.56",
                    "start": "2026-12-07",
                    "end": "2026-12-13",
                },
                unit_id=f"U{i:07d}",
            )
            for i in range(n)
        ),
        actor="bench",
        reason="notify_drain",
        fresh=True,
    )
    queue_s = time.perf_counter() - t0
    now = timezone.now()
    if not_before(Kind.LISTED, Channel.SMS, now) > now:  # quiet hours now: the clock of tomorrow's 10:00
        now = datetime.combine(
            now.astimezone(BEIJING).date() + timedelta(days=1), datetime.min.time(), BEIJING
        )
        now += timedelta(hours=10)
    clock = now

    with fake_gateway() as (url, state):
        state.rate = rate
        # provider ids unique across runs in the same scratch database (the fake's count starts at 1 each time,
        # and receipts are matched by provider id: a repeated id would be matched to an old message)
        state.ids = itertools.count(int(time.time()) * 100_000)
        gateway = SmsGatewaySender(
            url, access_key=ACCESS_KEY, secret=SECRET, sign_name="稳岗返还", timeout=5.0
        )
        bucket = Bucket(rate)

        class Paced(Sender):
            name = gateway.name

            def send(self, msg: Message) -> Accepted:
                bucket.take()
                return gateway.send(msg)

            def lookup(self, msg: Message) -> Accepted | None:
                return gateway.lookup(msg)

            def receipts(self) -> list[Any]:
                return gateway.receipts()

            def ack(self, receipts: list[Any]) -> None:
                gateway.ack(receipts)

        senders: dict[str, Sender] = {
            "sms": Paced(),
            "email": FileSender(HERE / "out" / "drain"),
            "inbox": InboxSender(),
        }
        mine = Message.objects.filter(event__startswith=f"{tag}:")
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        load = os.getloadavg()
        started = time.perf_counter()
        sent = receipts = 0
        samples: list[tuple[float, int]] = []
        with Progress(TextColumn("[bold]backlog[/]"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]:>7.1f} msg/s"), TimeElapsedColumn()) as bar:  # fmt: skip
            task = bar.add_task("drain", total=n, rate=0.0)
            while True:
                done = deliver_due(senders=senders, now=clock, limit=args.batch,
                                   progress=lambda i, _t: bar.update(task, advance=1) if i else None)  # fmt: skip
                sent += done.sent + done.delivered
                receipts += done.receipts
                elapsed = time.perf_counter() - started
                samples.append((elapsed, sent))
                bar.update(task, rate=sent / elapsed if elapsed else 0.0)
                if not mine.filter(state="queued").exists():
                    break
                if done.sent + done.delivered + done.retried + done.failed == 0:  # nothing due: retries wait
                    clock += timedelta(minutes=1)
            while True:  # the last receipts
                done = deliver_due(senders=senders, now=clock, limit=1)
                receipts += done.receipts
                if not done.receipts:
                    break
        wall = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        gateway_requests, at_gateway = state.requests, len(state.sent)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    finals = dict(
        mine.values_list("state")
        .annotate(c=__import__("django.db.models", fromlist=["Count"]).Count("id"))
        .order_by()
    )
    limited = mine.filter(last_error__contains="BUSINESS_LIMIT").count()
    twice = at_gateway - len({m for m in mine.values_list("id", flat=True)}) if at_gateway > n else 0
    throughput = sent / wall
    mid = [s for s in samples if 0.25 * wall <= s[0] <= 0.75 * wall]
    steady = (
        (mid[-1][1] - mid[0][1]) / (mid[-1][0] - mid[0][0])
        if len(mid) > 1 and mid[-1][0] > mid[0][0]
        else throughput
    )
    full = 441_300
    markdown = f"""### notify drain: {n:,} SMS through the fake gateway {"unpaced (capacity)" if args.unpaced else f"at its limit of {rate}/s"} ({info["date_utc"]})

- machine: {machine_line(info)}; load (1/5/15 min) at the start of the drain {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (shared with other sessions)
- command: `{command_line()}`
- queued {queued:,} "listed" SMS with `messages_queue_many` in {queue_s:.1f} s; drained by `deliver_due` passes of
  {args.batch} (claim + attempt committed, gateway call, `sent`, receipts pulled and applied: 3 audited
  transitions a message) through `SmsGatewaySender` → the fake gateway (tests/notify/fake_gateway.py, HTTP on
  loopback, in this process) {"with no limit" if args.unpaced else f"limited to {rate}/s, the sender paced by a token bucket at the same rate"}

| messages | gateway limit | drain time | throughput (all / middle half) | CPU (this process: Python + the gateway thread) | sends refused by the limit | sent twice | receipts applied | final states | 441,300 at this throughput |
|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|
| {n:,} | {rate or "none"}{"/s" if rate else ""} | {wall:.1f} s | {throughput:.1f} / {steady:.1f} msg/s | {cpu:.1f} s ({100 * cpu / wall:.0f} % of a core) | {limited} | {twice} | {receipts:,} | {", ".join(f"{k} {v:,}" for k, v in sorted(finals.items()))} | {full / throughput / 60:.0f} min |

Gateway requests {gateway_requests:,} (sends, receipt pulls and acknowledgements), messages it holds {at_gateway:,}.
"""
    print(markdown)
    if args.record:
        append_results(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
