"""Ingest what the banks send back (pain.002 .03/.12, camt.054 .02/.08): idempotent, all or nothing.

``inbound_file_ingest`` stores every file by its SHA-256 first: a file seen before changes nothing and returns
its first outcome. A new file is parsed by the hardened formats layer (no DTD, entities, oversize or deep
nesting; the official XSD of its version), then checked against what we sent and applied in ONE transaction. A
file that cannot be read or does not fit (unknown MsgId or EndToEndId, amount mismatch, unknown status code,
another account) is refused whole: kept in quarantine with its reason, audited, nothing of it applied.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action

from ..banks import inbound_max_bytes
from ..crashpoints import maybe_crash
from ..formats.camt054 import Notification, parse_camt054
from ..formats.errors import BadMessage, UnsafeXml
from ..formats.pain002 import StatusReport, parse_pain002
from ..formats.safexml import parse_xml
from ..formats.schemas import CAMT054_V02, CAMT054_V08, PAIN002_V03, PAIN002_V12, message_of
from ..models import HoldItem, HoldKind, InboundFile, InboundStatus
from .apply import apply_plan
from .channel import Channel, Received, open_regular
from .common import PaymentError, audit_many, event
from .holds import holds_close_for, holds_raise
from .reports import Plan, Refused, plan_camt054, plan_pain002

ACCEPTED = (PAIN002_V03, PAIN002_V12, CAMT054_V02, CAMT054_V08)
_NAMESPACE = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:(pain\.002\.001\.\d\d|camt\.054\.001\.\d\d)")
KEEP_OVERSIZED = 64 * 1024


@dataclass(frozen=True)
class IngestResult:
    inbound: InboundFile
    duplicate: bool = False  # the same bytes were ingested before: nothing changed
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def quarantined(self) -> bool:
        return self.inbound.status == InboundStatus.QUARANTINED

    @property
    def reason(self) -> str:
        return self.inbound.reason


def parse_inbound(data: bytes, *, max_bytes: int) -> StatusReport | Notification:
    """pain.002 or camt.054 by namespace (several versions); ``BadMessage``/``UnsafeXml`` with the reason."""
    found = _NAMESPACE.search(data, 0, 65536)
    if found is not None and found.group(1).startswith(b"pain.002"):
        return parse_pain002(data, max_bytes=max_bytes)
    if found is not None:
        return parse_camt054(data, max_bytes=max_bytes)
    root = parse_xml(data, max_bytes=max_bytes)  # hostile input is refused here
    message_of(root, ACCEPTED)  # a wrong namespace is refused here, naming what is accepted
    raise BadMessage(
        "not a bank answer we read (pain.002 or camt.054)", reason_code="FF01"
    )  # pragma: no cover


def inbound_file_ingest(
    *,
    data: bytes,
    name: str,
    actor: str,
    bank_code: str = "",
    size: int | None = None,
    sha256: str | None = None,
    unseen: bool = False,
) -> IngestResult:
    """Ingest one bank file. ``size``/``sha256`` describe the whole file when ``data`` is only its head (an
    oversized file is not read whole: it is quarantined with its first bytes). ``unseen``: the caller has just
    found its SHA-256 among none of the stored answers (``inbound_files_collect``), so it is not looked up again;
    one stored meanwhile by another process still makes the insert fail, and the file is a duplicate."""
    sha = sha256 or hashlib.sha256(data).hexdigest()
    seen = None if unseen else InboundFile.objects.filter(sha256=sha).first()
    if seen is not None:
        return IngestResult(seen, duplicate=True, counts=seen.counts)
    total = len(data) if size is None else size
    limit = inbound_max_bytes()
    if total > limit:
        reason = f"file too large: {total} bytes, limit {limit}"
        return _quarantine(
            data[:KEEP_OVERSIZED], name, bank_code, sha, total, reason, "", actor, truncated=True
        )
    try:
        message = parse_inbound(data, max_bytes=limit)
    except BadMessage as exc:
        code = exc.reason_code or ("UNSAFE" if isinstance(exc, UnsafeXml) else "")
        return _quarantine(data, name, bank_code, sha, total, exc.reason, code[:10], actor)
    kind = message.version
    msg_id = message.msg_id
    original = message.original_msg_id if isinstance(message, StatusReport) else ""
    try:
        with transaction.atomic():
            plan = _plan(message, bank_code)
            inbound = InboundFile(
                sha256=sha, name=name[:255], bank_code=bank_code, kind=kind, msg_id=msg_id[:35],
                original_msg_id=original[:35], content=data, size=total, status=InboundStatus.APPLIED,
                received_by=actor,
            )  # fmt: skip
            apply_plan(plan=plan, inbound=inbound, actor=actor)
    except Refused as exc:
        return _quarantine(data, name, bank_code, sha, total, exc.reason, exc.code, actor, kind=kind,
                           msg_id=msg_id, original=original)  # fmt: skip
    except IntegrityError:
        seen = InboundFile.objects.filter(sha256=sha).first()  # the same file, ingested concurrently
        if seen is None:
            raise
        return IngestResult(seen, duplicate=True, counts=seen.counts)
    maybe_crash("after_ingest")
    return IngestResult(inbound, counts=inbound.counts)


def _plan(message: StatusReport | Notification, bank_code: str) -> Plan:
    if isinstance(message, StatusReport):
        return plan_pain002(message, bank_code=bank_code)
    return plan_camt054(message, bank_code=bank_code)


def _quarantine(
    data: bytes,
    name: str,
    bank_code: str,
    sha: str,
    size: int,
    reason: str,
    code: str,
    actor: str,
    *,
    truncated: bool = False,
    kind: str = "",
    msg_id: str = "",
    original: str = "",
) -> IngestResult:
    """Keep a refused file with its reason, audited, and put it in the hold queue (a person must look at it):
    nothing of it is applied."""
    try:
        with transaction.atomic():
            inbound = InboundFile.objects.create(
                sha256=sha, name=name[:255], bank_code=bank_code, kind=kind, msg_id=msg_id[:35],
                original_msg_id=original[:35], content=data, size=size, truncated=truncated,
                status=InboundStatus.QUARANTINED, reason=reason, reason_code=code, received_by=actor,
            )  # fmt: skip
            audit_many(
                actor=actor,
                events=[event(Action.BANK_FILE_RECEIVED, "inbound_file", sha,
                              after={"name": name, "status": "quarantined", "kind": kind, "size": size,
                                     "reason_code": code}, reason=reason)],
            )  # fmt: skip
            holds_raise(actor=actor, items=[_quarantine_hold(inbound)])
    except IntegrityError:
        inbound = InboundFile.objects.get(sha256=sha)
        return IngestResult(inbound, duplicate=True, counts=inbound.counts)
    return IngestResult(inbound)


def quarantine_hold_key(inbound: InboundFile) -> str:
    return f"{HoldKind.QUARANTINED.value}:{inbound.sha256}"


def _quarantine_hold(inbound: InboundFile) -> HoldItem:
    if inbound.truncated:
        todo = "ask the bank to send it again within the size limit"
    else:
        todo = f"fix the cause, then `mianshen pay reprocess {inbound.pk}` (or ask the bank for a corrected file)"
    return HoldItem(
        key=quarantine_hold_key(inbound),
        kind=HoldKind.QUARANTINED,
        inbound=inbound,
        message=f"bank answer {inbound.name} (bank {inbound.bank_code or '?'}) quarantined, nothing applied: "
        f"{inbound.reason}; {todo}",
    )


def inbound_file_reprocess(*, inbound_id: int, actor: str) -> IngestResult:
    """Process a quarantined file again from its stored bytes, once its cause is fixed (a bank added to the
    registry, a file of ours that had not been recorded, a status code added to the table): applied whole, or
    still quarantined with the new reason. Either way audited; a file kept only in part cannot be."""
    limit = inbound_max_bytes()
    with transaction.atomic():
        inbound = InboundFile.objects.select_for_update().filter(pk=inbound_id).first()
        if inbound is None:
            raise PaymentError(_("没有编号为 %(inbound_id)s 的银行回执文件"), inbound_id=inbound_id)
        if inbound.status != InboundStatus.QUARANTINED:
            raise PaymentError(
                _("银行回执文件 %(inbound_id)s（%(name)s）已应用，无需重新处理"),
                inbound_id=inbound_id,
                name=inbound.name,
                status=inbound.status,
            )
        if inbound.truncated:
            raise PaymentError(
                _(
                    "银行回执文件 %(inbound_id)s 过大（%(size)s 字节），仅保存了开头部分：请银行在大小限制内重新发送"
                ),
                inbound_id=inbound_id,
                size=inbound.size,
            )
        before = {"status": inbound.status, "reason_code": inbound.reason_code, "reason": inbound.reason}
        try:
            message = parse_inbound(bytes(inbound.content), max_bytes=limit)
            with transaction.atomic():
                plan = _plan(message, inbound.bank_code)
                inbound.status, inbound.reason, inbound.reason_code = InboundStatus.APPLIED, "", ""
                inbound.kind, inbound.msg_id = message.version, message.msg_id[:35]
                if isinstance(message, StatusReport):
                    inbound.original_msg_id = message.original_msg_id[:35]
                apply_plan(plan=plan, inbound=inbound, actor=actor)
        except (BadMessage, Refused) as exc:
            inbound.refresh_from_db()
            code = exc.reason_code if isinstance(exc, BadMessage) else exc.code
            inbound.reason, inbound.reason_code = exc.reason, (code or inbound.reason_code)[:10]
            inbound.save(update_fields=["reason", "reason_code"])
        if inbound.status == InboundStatus.APPLIED:
            holds_close_for(actor=actor, keys=[quarantine_hold_key(inbound)],
                            resolution=f"processed again and applied by {actor}")  # fmt: skip
        audit_many(actor=actor, events=[event(Action.INBOUND_FILE_REPROCESSED, "inbound_file", inbound.sha256,
                                              before=before, after={"status": inbound.status,
                                                                    "reason_code": inbound.reason_code,
                                                                    **inbound.counts}, reason=inbound.reason)])  # fmt: skip
    return IngestResult(inbound, counts=inbound.counts)


@dataclass(frozen=True)
class Collected:
    """One pass over the banks' outboxes: the files ingested, and the entries not read (not regular files)."""

    results: list[IngestResult]
    skipped: list[Received]


def inbound_file_ingest_path(*, path: Path, actor: str, bank_code: str = "") -> IngestResult:
    """Ingest a file an officer names (a regular file: a pipe or a device is refused), read once, an oversized
    one not whole."""
    try:
        fh = open_regular(path)
    except OSError as exc:
        raise PaymentError(_("无法读取 %(path)s"), path=path, exc=exc) from exc
    with fh:
        data, sha, size = _read_once(fh)
    return inbound_file_ingest(
        data=data, name=path.name, actor=actor, bank_code=bank_code, size=size, sha256=sha
    )


def inbound_files_collect(*, channel: Channel, actor: str) -> Collected:
    """Ingest every answer waiting in the banks' outboxes that was not ingested before (by SHA-256). Only
    regular files directly inside a bank's outbox are read, each opened once without following a symbolic
    link; anything else is skipped and put in the hold queue (once per path)."""
    results: list[IngestResult] = []
    skipped: list[Received] = []
    # every answer ever ingested, read once (hundreds of rows, not one query per file in the folders: 1,593 of
    # them took 12.6 s of a 10,000-unit demo's bank answers); ``inbound_file_ingest`` checks again by itself
    known = set(InboundFile.objects.values_list("sha256", flat=True))
    for received in channel.receive():
        if received.problem:
            skipped.append(received)
            continue
        try:
            with received.open() as fh:
                if _SEEN.get(_identity(fh)) in known:  # the very file read in an earlier pass, ingested then
                    continue
                data, sha, size = _read_once(fh)
                _seen_add(fh, sha)
        except FileNotFoundError:  # removed since the folder was listed
            continue
        except OSError as exc:  # replaced by a link (or something else) since the folder was listed
            skipped.append(replace(received, problem=str(exc)))
            continue
        if sha not in known:
            results.append(inbound_file_ingest(data=data, name=received.name, actor=actor, bank_code=received.bank,
                                               size=size, sha256=sha, unseen=True))  # fmt: skip
            known.add(sha)
    if skipped:
        with transaction.atomic():
            holds_raise(actor=actor, items=[_irregular_hold(r) for r in skipped])
    return Collected(results, skipped)


# A bank's outbox keeps every answer it ever sent (at 441,300 units, hundreds of MB of camt.054 by the end), and
# each pass used to read and hash all of it again to learn that it was known. An opened file whose identity
# (device, inode, size, modification and change time in ns: any write changes the change time, which no one
# can set) was hashed in an earlier pass to a SHA-256 the database holds is not read again. Only a hint: the
# SHA-256 must still be in the database's set read at the start of the pass, else the file is read and hashed.
_SEEN: dict[tuple[int, ...], str] = {}
_SEEN_MAX = 200_000


def _identity(fh: BinaryIO) -> tuple[int, ...]:
    st = os.fstat(fh.fileno())
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _seen_add(fh: BinaryIO, sha: str) -> None:
    if len(_SEEN) >= _SEEN_MAX:
        _SEEN.clear()
    _SEEN[_identity(fh)] = sha


def _read_once(fh: BinaryIO) -> tuple[bytes, str, int]:
    """The bytes to keep (all of them, or the first ``KEEP_OVERSIZED`` of an oversized file), the SHA-256 of
    the whole file and its size, in one read."""
    limit = inbound_max_bytes()
    data = fh.read(limit + 1)
    digest = hashlib.sha256(data)
    if len(data) <= limit:
        return data, digest.hexdigest(), len(data)
    size = len(data)
    for block in iter(lambda: fh.read(1 << 20), b""):
        digest.update(block)
        size += len(block)
    return data[:KEEP_OVERSIZED], digest.hexdigest(), size


def _irregular_hold(received: Received) -> HoldItem:
    where = received.where
    key = f"{HoldKind.IRREGULAR_FILE.value}:{where}"
    if len(key) > 120:
        key = f"{HoldKind.IRREGULAR_FILE.value}:{hashlib.sha256(where.encode()).hexdigest()}"
    return HoldItem(
        key=key,
        kind=HoldKind.IRREGULAR_FILE,
        message=f"{where} in the exchange folder of bank {received.bank} {received.problem}: not read (only regular "
        "files directly inside a bank's outbox are); find out who put it there and remove it",
    )
