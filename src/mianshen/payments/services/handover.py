"""Who is handing a bank file over right now: a lease on the ``BankFile`` row (owner + expiry).

Two runs of ``mianshen pay upload`` (or the worker and an officer) must never hand the same file to the bank
twice. The hand-over is claimed in a short transaction: the row is locked (``SELECT … FOR UPDATE SKIP LOCKED``
on PostgreSQL: a row another run is claiming right now is skipped, not waited for; on SQLite the transaction
starts with the database's write lock, ``BEGIN IMMEDIATE``), the lease is checked, and the claim — attempt
``n``, owner, ``lease until`` — is committed before a byte leaves. A run that finds a live lease of another
owner skips the file. When the hand-over is recorded, the owner clears the lease.

A lease is over when it expired (``$MIANSHEN_UPLOAD_LEASE_SECONDS``, 15 minutes by default), or when its owner
is known to be gone: on the same host, a process that no longer exists or a thread of this process that no
longer runs, or this very thread (it is here, so it is not uploading: its earlier attempt was cut short). A
lease of another host is trusted until it expires. An uploader that crashed is therefore taken over at once
on its own host (the restarted worker), elsewhere after the lease.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime

from ..banks import upload_lease


@dataclass(frozen=True, slots=True)
class Owner:
    """``host:pid:thread`` of the process and thread handing a file over."""

    host: str
    pid: int
    thread: int

    @classmethod
    def me(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), threading.get_ident())

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        if not (host and pid.isascii() and pid.isdigit() and rest.isascii() and rest.isdigit()):
            return None  # a damaged or forged owner ("²", "٣"): not ours to judge, the lease runs out
        return cls(host, int(pid), int(rest))

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.thread}"[:120]


def lease_until(now: datetime) -> datetime:
    return now + upload_lease()


def lease_is_live(owner: str | None, until: datetime | None, *, now: datetime, me: Owner) -> bool:
    """Does someone else still hold this hand-over? (See the module's docstring for when a lease is over.)"""
    if not owner or until is None or until <= now:
        return False
    holder = Owner.parse(owner)
    if holder is None:
        return True  # not ours to judge: wait for it to expire
    if holder == me:
        return False
    if holder.host != me.host:
        return True
    if holder.pid != me.pid:
        return _process_exists(holder.pid)
    return holder.thread in {t.ident for t in threading.enumerate()}


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: no process can have that number
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
