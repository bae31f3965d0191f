"""A simulated set of banks for tests and the demo: reads our pain.001 files from per-bank inboxes and answers
with pain.002.001.12 and camt.054.001.08, including rejects, duplicates, returns and silence.

In process::

    sim = BankSimulator(root, seed=7, business_date=date(2026, 12, 1))
    sim.deliver("102", "MSG-1.xml", pain001_bytes)
    sim.process_inbox()            # answers appear in <root>/102/outbox/
    sim.advance_to(date(2026, 12, 8))   # bookings due by then, returns

As a process: ``python -m mianshen_banksim --root DIR --seed S [--date D] [--once]``.
"""

from .profiles import DEFAULT_PROFILES, BankProfile, Fate, HashFate, resolve_fate, roll
from .simulator import BankSimulator, Outcome

__all__ = [
    "DEFAULT_PROFILES",
    "BankProfile",
    "BankSimulator",
    "Fate",
    "HashFate",
    "Outcome",
    "resolve_fate",
    "roll",
]
