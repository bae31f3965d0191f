"""Policy families: what a policy id's kind of rule brings with it (facts, conditions, amount, output, words).

A policy id resolves, through its parameter file's ``kind`` (``parameters.Policy.kind``), to one ``RuleFamily``:
the drop tables it reads and requires, its engine (``evaluate``, ``decisions``, ``screen``), the columns of its
decisions file, its explanation and its independent scalar reference. The refund (``kind: refund``, the default)
is one family, unchanged; ``retention_training`` (一次性留工培训补助) is the second, ``job_expansion``
(一次性扩岗补助) the third.

Pure: no Django; the command line and the screening rounds look a family up here and call it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from . import codes as C
from . import (
    engine,
    explain,
    job_expansion,
    job_expansion_explain,
    job_expansion_reference,
    reference,
    retention,
    retention_explain,
    retention_reference,
)
from .conditions import CONDITIONS, ROUTES, Condition, Route
from .facts import Frame
from .parameters import Policy, ResolvedParams, get_policy

Tables = Mapping[str, Frame]


@dataclass(frozen=True)
class RuleFamily:
    kind: str
    input_tables: tuple[str, ...]  # read from a drop (units always)
    required_tables: tuple[str, ...]  # whose absence makes the drop unusable for the family
    decision_columns: tuple[str, ...]
    int_columns: frozenset[str]
    decisions_values: tuple[str, ...]  # the decisions it can reach
    payable: tuple[str, ...]
    conditions: tuple[Condition, ...]
    routes: tuple[Route, ...]
    evaluate: Callable[[Tables, ResolvedParams, date], pl.DataFrame]
    decisions: Callable[[pl.DataFrame], pl.DataFrame]
    screen: Callable[[Tables, ResolvedParams, date], pl.DataFrame]
    render: Callable[[Mapping[str, Any], ResolvedParams, str], str]
    reference: Callable[[Mapping[str, list[Any]], ResolvedParams, date], list[dict[str, str]]]
    remittance_prefix: (
        str  # first part of the payment's remittance text (RmtInf/Ustrd): what the money is for
    )
    once_per_unit: bool  # a unit receives it once, ever (the cases app's benefit ledger enforces it)
    once_per_person: bool = (
        False  # a person is paid for once, ever (the cases app's person ledger enforces it)
    )


REFUND = RuleFamily(
    kind="refund",
    input_tables=engine.INPUT_TABLES,
    required_tables=("units", "headcount", "separations", "contributions", "credit_flags"),
    decision_columns=C.DECISION_COLUMNS,
    int_columns=C.DECISION_INT_COLUMNS,
    decisions_values=C.DECISIONS,
    payable=C.PAYABLE_DECISIONS,
    conditions=CONDITIONS,
    routes=ROUTES,
    evaluate=engine.evaluate,
    decisions=engine.decisions,
    screen=engine.screen,
    render=explain.render,
    reference=reference.evaluate,
    remittance_prefix="稳岗返还",
    once_per_unit=False,
)
RETENTION = RuleFamily(
    kind="retention_training",
    input_tables=retention.INPUT_TABLES,
    required_tables=retention.REQUIRED_TABLES,
    decision_columns=C.RETENTION_DECISION_COLUMNS,
    int_columns=C.RETENTION_DECISION_INT_COLUMNS,
    decisions_values=C.RETENTION_DECISIONS,
    payable=C.RETENTION_PAYABLE,
    conditions=retention.CONDITIONS,
    routes=(),
    evaluate=retention.evaluate,
    decisions=retention.decisions,
    screen=retention.screen,
    render=retention_explain.render,
    reference=retention_reference.evaluate,
    remittance_prefix="留工培训补助",
    once_per_unit=True,
)
JOB_EXPANSION = RuleFamily(
    kind="job_expansion",
    input_tables=job_expansion.INPUT_TABLES,
    required_tables=job_expansion.REQUIRED_TABLES,
    decision_columns=C.JOB_DECISION_COLUMNS,
    int_columns=C.JOB_DECISION_INT_COLUMNS,
    decisions_values=C.JOB_DECISIONS,
    payable=C.JOB_PAYABLE,
    conditions=job_expansion.CONDITIONS,
    routes=(),
    evaluate=job_expansion.evaluate,
    decisions=job_expansion.decisions,
    screen=job_expansion.screen,
    render=job_expansion_explain.render,
    reference=job_expansion_reference.evaluate,
    remittance_prefix="扩岗补助",
    once_per_unit=False,
    once_per_person=True,
)
FAMILIES: dict[str, RuleFamily] = {f.kind: f for f in (REFUND, RETENTION, JOB_EXPANSION)}


def family_of(policy: Policy | ResolvedParams | str) -> RuleFamily:
    """The family of a policy (a policy id, a ``Policy`` or a resolved parameter set)."""
    if isinstance(policy, str):
        policy = get_policy(policy)
    kind = policy.policy.kind if isinstance(policy, ResolvedParams) else policy.kind
    return FAMILIES[kind]
