"""How files reach the banks and come back: a folder per bank (``<root>/<bank>/inbox`` for our pain.001,
``<root>/<bank>/outbox`` for their pain.002 / camt.054), as the bank simulator (``payments.banksim``) serves it.

``send`` writes atomically (a dot-named temp file, fsync, rename) so a bank never reads half a file; a crash in
the middle leaves only a temp file that the next ``send`` of the same file overwrites. Re-sending the same file
writes the same bytes under the same name (the bank answers DU01 if it already took it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..banks import bank_dir
from ..crashpoints import maybe_crash


@dataclass(frozen=True)
class Received:
    bank: str
    name: str
    path: Path


class Channel(Protocol):
    def send(self, bank: str, name: str, data: bytes) -> None: ...

    def receive(self) -> Iterator[Received]: ...


class FolderChannel:
    """The exchange folder (``$MIANSHEN_BANK_DIR`` by default)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else bank_dir()

    def send(self, bank: str, name: str, data: bytes) -> None:
        inbox = self.root / bank / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        tmp = inbox / f".{name}.part"
        with tmp.open("wb") as fh:
            half = len(data) // 2
            fh.write(data[:half])
            fh.flush()
            maybe_crash("during_upload")
            fh.write(data[half:])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, inbox / name)

    def receive(self) -> Iterator[Received]:
        """Every answer file in every bank's outbox, banks in code order, files in name order."""
        if not self.root.is_dir():
            return
        for bank_path in sorted(p for p in self.root.iterdir() if p.is_dir() and len(p.name) == 3):
            outbox = bank_path / "outbox"
            if not outbox.is_dir():
                continue
            for path in sorted(outbox.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    yield Received(bank_path.name, path.name, path)
