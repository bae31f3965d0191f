"""The checkpoint file: the chain head, written outside the database, one JSON line per checkpoint.

A line looks like::

    {"seq": 1200, "hash": "9f2c...", "at": "2021-07-01T08:00:00.000000Z", "count": 1200,
     "written_at": "2021-07-01T08:00:01.123456Z", "database": "postgresql:mianshen"}

``seq``/``hash``/``at`` are those of the head event when the checkpoint was taken, ``count`` the number of events
then. ``verify`` requires each checkpoint's seq to exist with that very hash; a seq beyond the current head means
the end of the trail was cut off. Each checkpoint is also recorded in the chain (an ``audit.checkpoint`` event),
and ``verify`` requires each of those to have its line here: the file cannot be deleted, emptied, cut or
rewritten unseen. Put it on another machine or write-once storage, where the database's administrators cannot
rewrite it, and copy it off (a log shipper, the auditor): lines are only ever appended.

The file is ``$MIANSHEN_AUDIT_CHECKPOINT_FILE`` when set (read at each call), else
``<VAR_DIR>/audit-checkpoints.jsonl``. Use one file per database.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

CHECKPOINT_FILENAME = "audit-checkpoints.jsonl"
ENV_FILE = "MIANSHEN_AUDIT_CHECKPOINT_FILE"


class CheckpointFileError(Exception):
    """The checkpoint file cannot be read or written (the operating system's reason, in one line)."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    count: int
    written_at: str
    line: int  # line number in the file (1-based), for messages


def checkpoint_file(directory: Path | None = None) -> Path:
    """Where checkpoints go: ``directory/audit-checkpoints.jsonl`` if given, else the environment, else VAR_DIR."""
    if directory is not None:
        return Path(directory) / CHECKPOINT_FILENAME
    configured = os.environ.get(ENV_FILE, "").strip()
    if configured:
        return Path(configured)
    return Path(settings.VAR_DIR) / CHECKPOINT_FILENAME


def checkpoint_append(path: Path, record: dict[str, object]) -> None:
    """Append one line durably (O_APPEND so concurrent writers never interleave; fsync before returning)."""
    line = (json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise CheckpointFileError(f"cannot write the checkpoint file {path}: {exc.strerror or exc}") from exc


def checkpoints_read(path: Path) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints in ``path`` (none if it does not exist) and a warning per unreadable line;
    ``CheckpointFileError`` when the file is there but cannot be read."""
    if not path.exists():
        return [], []
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError as exc:
        raise CheckpointFileError(f"cannot read the checkpoint file {path}: {exc.strerror or exc}") from exc
    found: list[Checkpoint] = []
    warnings: list[str] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
            found.append(
                Checkpoint(
                    seq=int(data["seq"]),
                    hash=str(data["hash"]),
                    at=str(data.get("at", "")),
                    count=int(data.get("count", 0)),
                    written_at=str(data.get("written_at", "")),
                    line=number,
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            warnings.append(f"{path}:{number}: unreadable checkpoint line ignored ({exc.__class__.__name__})")
    return found, warnings
