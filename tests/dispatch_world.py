"""A generated city with labour-dispatch firms and their host employers, for the tests of host confirmation
(cases, notify, portal, the browser journey).

120 units (seed 2021): the one dispatch firm the generator makes pending there (``FIRM``), and one eligible unit
made a dispatch firm too (``firm2``). ``dispatch_hosts.csv`` is written by hand: FIRM places 12 workers with host
A and 3 with host B; firm2 places 5 with host A and 7 with an employer outside the city. A third unit is a host of
no one (``stranger``). Each of them has a phone on file."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from mianshen.datadrop.schema import uscc_check_char

POLICY = "beijing-2021"
AS_OF = date(2021, 7, 1)
FIRM = "11069355407"
PHONES = {"firm": "13900000010", "host_a": "13900000011", "host_b": "13900000012", "stranger": "13900000013"}
OUTSIDE = "91310115MA1K00042" + uscc_check_char("91310115MA1K00042")


@dataclass(frozen=True)
class City:
    drop: Path
    firm: str
    firm2: str
    host_a: str  # unit ids
    host_b: str
    stranger: str
    codes: dict[str, str]  # unit id → credit code


def make_city(root: Path) -> City:
    from mianshen.datadrop.generate import generate
    from mianshen.datadrop.validate import validate_drop
    from mianshen.policy.engine import decisions, evaluate
    from mianshen.policy.parameters import resolve

    drop = root / "drop"
    generate(units=120, seed=2021, out=drop, fmt="csv")
    decided = decisions(evaluate(validate_drop(drop).tables, resolve(POLICY, AS_OF), AS_OF))
    assert decided.filter(pl.col("decision") == "pending_confirmation")["unit_id"].to_list() == [FIRM]
    eligible = decided.filter(pl.col("decision") == "eligible")["unit_id"].sort().to_list()
    host_a, host_b, stranger, firm2 = eligible[:4]
    roles = {FIRM: "firm", host_a: "host_a", host_b: "host_b", stranger: "stranger"}
    with open(drop / "units.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["unit_id"] in roles:
            row["phone"] = PHONES[roles[row["unit_id"]]]
        if row["unit_id"] == firm2:
            row["dispatch"] = "1"
    with open(drop / "units.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    codes = {r["unit_id"]: r["credit_code"] for r in rows}
    (drop / "dispatch_hosts.csv").write_text(
        "unit_id,host_credit_code,workers\n"
        f"{FIRM},{codes[host_a]},12\n{FIRM},{codes[host_b]},3\n{firm2},{codes[host_a]},5\n{firm2},{OUTSIDE},7\n",
        encoding="utf-8",
    )
    return City(drop, FIRM, firm2, host_a, host_b, stranger, codes)


def import_city(city: City) -> Any:
    from mianshen.datadrop.validate import validate_drop
    from mianshen.registry.services import snapshot_import

    return snapshot_import(drop=validate_drop(city.drop), extracted_on=AS_OF).snapshot


def run_round(snapshot: Any, checkpoint: str) -> Any:
    """A round at ``checkpoint`` on ``snapshot``, run and applied to the cases at once (no job queue)."""
    from mianshen.cases.services import case_apply_round
    from mianshen.screening.services import round_run, round_start

    rnd = round_start(policy_id=POLICY, snapshot=snapshot, actor="市级管理员 admin", as_of=AS_OF,
                      checkpoint=checkpoint)  # fmt: skip
    rnd = round_run(round_id=rnd.pk)
    case_apply_round(round=rnd, actor=f"round {rnd.number}")
    return rnd
