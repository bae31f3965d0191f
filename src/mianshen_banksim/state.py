"""The simulator's memory: one JSON file in its root, replaced atomically (write a temp file, fsync, rename).

What it remembers, per bank: every MsgId it accepted with the SHA-256 of the bytes (to answer a repeat with
DU01), every EndToEndId (AM05 on a repeat), how often a MsgId was lost to silence; and, for all banks, the
payments waiting for their execution date and the settled ones that will come back as returns. A killed
simulator leaves either the old or the new file, never a torn one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

STATE_FILE = "banksim-state.json"
FORMAT = 1


@dataclass
class Payment:
    """An accepted transfer the simulated bank still has work to do for (book it, or return it later)."""

    bank: str
    msg_id: str
    pmt_inf_id: str
    end_to_end_id: str
    amount_fen: int
    debtor_account: str
    creditor_name: str
    creditor_account: str
    due: str  # ISO date: booking date (scheduled) or return date (returns)
    return_reason: str | None = None

    @property
    def due_date(self) -> date:
        return date.fromisoformat(self.due)


@dataclass
class BankMemory:
    msg_ids: dict[str, str] = field(default_factory=dict)  # MsgId -> SHA-256 of the bytes first received
    end_to_end_ids: set[str] = field(default_factory=set)
    lost: dict[str, int] = field(default_factory=dict)  # MsgId -> times a hand-over was lost (silence)


@dataclass
class SimState:
    seed: int
    business_date: date
    next_claim: int = 1  # number given to the next inbox file taken into work/
    next_out: int = 1  # number of the next answer file (and of its MsgId)
    banks: dict[str, BankMemory] = field(default_factory=dict)
    scheduled: list[Payment] = field(default_factory=list)  # accepted, waiting for their booking date
    returns: list[Payment] = field(default_factory=list)  # settled, coming back on their due date
    pending: list[list[str]] = field(default_factory=list)  # [bank, file name] staged, not yet in outbox

    def bank(self, code: str) -> BankMemory:
        return self.banks.setdefault(code, BankMemory())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "seed": self.seed,
            "business_date": self.business_date.isoformat(),
            "next_claim": self.next_claim,
            "next_out": self.next_out,
            "banks": {
                code: {
                    "msg_ids": dict(sorted(m.msg_ids.items())),
                    "end_to_end_ids": sorted(m.end_to_end_ids),
                    "lost": dict(sorted(m.lost.items())),
                }
                for code, m in sorted(self.banks.items())
            },
            # ``asdict`` copies recursively and costs seconds on 450,000 payments; a Payment holds plain values
            "scheduled": [dict(vars(p)) for p in self.scheduled],
            "returns": [dict(vars(p)) for p in self.returns],
            "pending": self.pending,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimState:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown simulator state format {data.get('format')!r}")
        return cls(
            seed=int(data["seed"]),
            business_date=date.fromisoformat(data["business_date"]),
            next_claim=int(data["next_claim"]),
            next_out=int(data["next_out"]),
            banks={
                code: BankMemory(dict(m["msg_ids"]), set(m["end_to_end_ids"]), dict(m["lost"]))
                for code, m in data["banks"].items()
            },
            scheduled=[Payment(**p) for p in data["scheduled"]],
            returns=[Payment(**p) for p in data["returns"]],
            pending=[list(x) for x in data["pending"]],
        )


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_state(root: Path) -> SimState | None:
    path = root / STATE_FILE
    if not path.exists():
        return None
    return SimState.from_json(json.loads(path.read_text(encoding="utf-8")))


def save_state(root: Path, state: SimState) -> None:
    text = json.dumps(state.to_json(), ensure_ascii=False, separators=(",", ":"))
    atomic_write(root / STATE_FILE, text.encode("utf-8"))
