"""Synthetic tables of the job-expansion family: ``hires``, ``graduate_register`` and
``hiring_subsidy_recipients`` (``generate --job-expansion``), made for ``job-expansion-2022``.

- ``hires``: each unit hires 0-3 persons in 2022 (about a third of the units hire nobody); a hire has a day in
  2022 (about 5% in late 2021, outside the window), a labour contract from that day (about 8% without one) and
  0-6 contribution months (about 10% with none). About 6% of the persons are hired again by the next unit,
  later in 2022, so the one-enterprise rule has something to find.
- ``graduate_register``: about 88% of the hired persons are in the register: mostly graduates of 2022, some of
  2020 or 2021 (covered from 2023), some registered-unemployed youth (covered from 2023).
- ``hiring_subsidy_recipients``: about 4% of the registered persons received the one-off hiring subsidy.

Every person has a synthetic 18-digit identity number (with a real GB 11643 check character) that exists only in
memory (distinct persons get distinct numbers, ``NUMBERS`` of them): the tables hold
``core.pseudonym.pseudonym(number, key)`` with the key of ``configured_key()``; the
register's side is computed from the number as another office would type it (a lower-case ``x``), which the
pseudonym's normalisation makes the same. No identity number is ever written.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from mianshen.core.pseudonym import configured_key, pseudonym

from . import rng

YEAR = 2022
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def _draw(seed: int, stream: str, key: int) -> int:
    return rng.mix64_int(key * rng.GAMMA + rng.stream_base(seed, stream))


# The synthetic numbers: one of 16 district codes, a birth day in 1996-2005, a 3-digit sequence: NUMBERS of them, and
# a person's is a bijection of its index (distinct persons get distinct numbers up to NUMBERS persons).
DISTRICTS = ("110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111",
             "110112", "110113", "110114", "110115", "110116", "110117", "110118", "110119")  # fmt: skip
DAYS = 10 * 365
NUMBERS = DAYS * 1000 * len(DISTRICTS)
_SPREAD = 2654435761  # coprime with NUMBERS: person -> number is one-to-one


def identity_number(seed: int, person: int) -> str:
    """A synthetic resident identity number (GB 11643 shape and check character) of a person born 1996-2005."""
    q = (person * _SPREAD + rng.mix64_int(seed)) % NUMBERS
    born = date(1996, 1, 1) + timedelta(days=q % DAYS)
    district = DISTRICTS[q // (DAYS * 1000)]
    body = f"{district}{born:%Y%m%d}{(q // DAYS) % 1000:03d}"
    return body + _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def tables(plan: pl.DataFrame, seed: int, key: bytes | None = None) -> dict[str, pl.DataFrame]:
    """The three tables for one batch of units (``plan``: idx, unit_id)."""
    key = configured_key() if key is None else key
    hires: list[tuple[str, str, date, date | None, int]] = []
    people: dict[int, str] = {}
    ids = plan.select("idx", "unit_id").rows()
    next_unit = {idx: ids[i + 1][1] for i, (idx, _) in enumerate(ids[:-1])}
    for idx, unit_id in ids:
        n = _draw(seed, "jobexp.n", idx) % 6
        for k in range(max(0, n - 2)):
            person = idx * 8 + k
            h = _draw(seed, "jobexp.hire", person)
            hired = date(YEAR, 1, 1) + timedelta(days=h % 365)
            if (h >> 12) % 20 == 0:
                hired = date(YEAR - 1, 12, 1) + timedelta(days=(h >> 16) % 20)
            contract = None if (h >> 24) % 12 == 0 else hired
            months = 0 if (h >> 28) % 10 == 0 else 1 + (h >> 32) % 6
            number = identity_number(seed, person)
            pid = pseudonym(number, key)
            people[person] = number
            hires.append((unit_id, pid, hired, contract, months))
            if (h >> 36) % 16 == 0 and idx in next_unit and hired < date(YEAR, 12, 1):
                later = hired + timedelta(days=1 + (h >> 40) % 20)
                hires.append((next_unit[idx], pid, later, later, months))
    register: list[tuple[str, str, int | None, int]] = []
    recipients: list[tuple[str, date | None]] = []
    registered: set[str] = set()  # a number comes back only past NUMBERS persons: the register lists it once
    for person, number in people.items():
        h = _draw(seed, "jobexp.register", person)
        typed = number.lower()  # another office's typing; the pseudonym normalises it
        pid = pseudonym(typed, key)
        if h % 100 >= 88 or pid in registered:
            continue
        registered.add(pid)
        born = int(number[6:10])
        kind = (h >> 8) % 10
        if kind < 7:
            register.append((pid, "graduate", YEAR, born))
        elif kind < 9:
            register.append((pid, "graduate", YEAR - 1 - (h >> 12) % 2, born))
        else:
            register.append((pid, "unemployed_youth", None, born))
        if (h >> 16) % 25 == 0:
            recipients.append((pid, date(YEAR, 3, 1) + timedelta(days=(h >> 20) % 200)))
    return {
        "hires": pl.DataFrame(
            hires,
            schema={
                "unit_id": pl.String,
                "person_id": pl.String,
                "hired_on": pl.Date,
                "contract_start": pl.Date,
                "contribution_months": pl.Int64,
            },
            orient="row",
        ).unique(["unit_id", "person_id", "hired_on"], keep="first", maintain_order=True),
        "graduate_register": pl.DataFrame(
            register,
            schema={
                "person_id": pl.String,
                "category": pl.String,
                "graduation_year": pl.Int64,
                "birth_year": pl.Int64,
            },
            orient="row",
        ),
        "hiring_subsidy_recipients": pl.DataFrame(
            recipients, schema={"person_id": pl.String, "granted_on": pl.Date}, orient="row"
        ),
    }
