"""How files reach the banks and come back: a folder per bank (``<root>/<bank>/inbox`` for our pain.001,
``<root>/<bank>/outbox`` for their pain.002 / camt.054), as the bank simulator (``mianshen_banksim``) serves it.

``send`` writes atomically (a dot-named temp file, fsync, rename) so a bank never reads half a file; a crash in
the middle leaves only a temp file that the next ``send`` of the same file overwrites. Re-sending the same file
writes the same bytes under the same name (the bank answers DU01 if it already took it).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ..banks import bank_dir
from ..crashpoints import maybe_crash

OUTBOX = "outbox"


class NotRegularFile(OSError):
    """What was to be read is not a regular file (a symbolic link, a directory, a pipe, a device)."""


@dataclass(frozen=True)
class Received:
    """One entry of a bank's outbox. ``problem`` says why it is not read (it is not a regular file)."""

    bank: str
    name: str
    path: Path  # for messages: the file is opened only through :meth:`open`, never by this path
    root: Path | None = None
    problem: str = ""

    @property
    def where(self) -> str:
        """The entry's path inside the exchange folder (``102/outbox/answer.xml``)."""
        return str(self.path.relative_to(self.root)) if self.root is not None else str(self.path)

    def open(self) -> BinaryIO:
        """The file, opened without following a symbolic link anywhere below the exchange folder."""
        if self.root is None:
            return open_regular(self.path)
        return open_beneath(self.root, self.bank, OUTBOX, self.name)


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
        """Every entry of every bank's outbox (banks in code order, files in name order; names starting with
        ``.`` are the bank's temporary files). Only regular files directly inside ``<bank>/outbox`` are to be
        read: a symbolic link (file, outbox or bank folder), a directory or a device comes with its
        ``problem``."""
        if not self.root.is_dir():
            return
        with os.scandir(self.root) as entries:
            banks = sorted(
                (e for e in entries if len(e.name) == 3 and e.name.isdigit()), key=lambda e: e.name
            )
        for bank in banks:
            folder = Path(bank.path)
            outbox = folder / OUTBOX
            problem = _kind_problem(folder, want_dir=True)
            if not problem:
                folder, problem = outbox, _kind_problem(outbox, want_dir=True)
            if problem == "missing":
                continue
            if problem:
                yield Received(bank.name, "", folder, self.root, f"{problem}: nothing in it is read")
                continue
            with os.scandir(outbox) as entries:
                names = sorted(e.name for e in entries if not e.name.startswith("."))
            for name in names:
                path = outbox / name
                yield Received(bank.name, name, path, self.root, _kind_problem(path, want_dir=False))


def _kind_problem(path: Path, *, want_dir: bool) -> str:
    """Why ``path`` (not followed if it is a link) is not the regular file or real folder wanted; "" if it is."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "missing"
    if stat.S_ISLNK(mode):
        try:
            return f"is a symbolic link (to {os.readlink(path)})"
        except OSError:
            return "is a symbolic link"
    if want_dir:
        return "" if stat.S_ISDIR(mode) else "is not a folder"
    if stat.S_ISREG(mode):
        return _hard_link_problem(path.lstat().st_nlink)
    return "is a folder" if stat.S_ISDIR(mode) else "is not a regular file (a pipe, socket or device)"


def open_beneath(root: Path, *parts: str) -> BinaryIO:
    """Open ``root/parts…`` for reading, following no symbolic link below ``root`` (``O_NOFOLLOW`` at every
    step, each opened relative to the folder before it), and only if it is a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    folder = os.open(root, flags | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, flags | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            os.close(folder)
            folder = inner
        fd = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise NotRegularFile(f"cannot be opened as a regular file ({exc.strerror})") from exc
    finally:
        os.close(folder)
    problem = _hard_link_problem(os.fstat(fd).st_nlink)
    if problem:
        os.close(fd)
        raise NotRegularFile(problem)
    return _regular(fd)


def _hard_link_problem(links: int) -> str:
    """A file in an outbox with another name elsewhere (a hard link) may be any file of this machine the bank's
    account can reach, not an answer it wrote: it is not read."""
    return f"is a hard link (the file has {links} names)" if links > 1 else ""


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` (named by an officer: a link is followed) only if it is a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    return _regular(fd)


def _regular(fd: int) -> BinaryIO:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFile("is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")
