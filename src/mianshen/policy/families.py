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
from .parameters import Policy, ResolvedParams, UnknownPolicy, get_policy

Tables = Mapping[str, Frame]


@dataclass(frozen=True)
class BenefitWords:
    """How a family's benefit is named in what a unit reads (messages, letters, lists, the portal), in both
    languages. Plain words, not catalogue entries: they are the parameters of the catalogue's texts (``{benefit}``,
    ``%(benefit_full)s`` …), so one text serves every family and the refund's texts read as they always did."""

    zh: str  # short name: 稳岗返还 (also the payment's remittance prefix, RmtInf/Ustrd)
    zh_full: str  # full name: 失业保险稳岗返还
    zh_grant: str  # the verb for paying it out: 拟返还 … 元 / 拟发放 … 元
    zh_amount: str  # the amount's label: 返还金额 / 补助金额
    en: str  # job-stabilisation refund
    en_full: str  # unemployment-insurance job-stabilisation refund
    en_amount: str  # Refund / Subsidy (a label: capitalised)

    def params(self, lang: str) -> dict[str, str]:
        """The words as %-format parameters in ``lang`` (``zh…`` or ``en``): ``benefit``, ``benefit_full``,
        ``Benefit`` (capitalised, to begin a sentence or a title), ``grant`` and ``amount_label``."""
        if lang.startswith("zh"):
            return {"benefit": self.zh, "benefit_full": self.zh_full, "Benefit": self.zh,
                    "Benefit_full": self.zh_full, "grant": self.zh_grant, "amount_label": self.zh_amount}  # fmt: skip
        return {"benefit": self.en, "benefit_full": self.en_full, "Benefit": _cap(self.en),
                "Benefit_full": _cap(self.en_full), "grant": "", "amount_label": self.en_amount}  # fmt: skip

    def both(self) -> dict[str, dict[str, str]]:
        """The words as message parameters in both languages (``{"benefit": {"zh": …, "en": …}, …}``), the form
        ``notify.kinds.render`` resolves per language."""
        zh, en = self.params("zh"), self.params("en")
        return {key: {"zh": zh[key], "en": en[key]} for key in zh}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


REFUND_WORDS = BenefitWords(
    zh="稳岗返还",
    zh_full="失业保险稳岗返还",
    zh_grant="返还",
    zh_amount="返还金额",
    en="job-stabilisation refund",
    en_full="unemployment-insurance job-stabilisation refund",
    en_amount="Refund",
)
RETENTION_WORDS = BenefitWords(
    zh="留工培训补助",
    zh_full="一次性留工培训补助",
    zh_grant="发放",
    zh_amount="补助金额",
    en="job-retention training subsidy",
    en_full="one-off job-retention training subsidy",
    en_amount="Subsidy",
)
JOB_EXPANSION_WORDS = BenefitWords(
    zh="扩岗补助",
    zh_full="一次性扩岗补助",
    zh_grant="发放",
    zh_amount="补助金额",
    en="job-expansion subsidy",
    en_full="one-off job-expansion subsidy",
    en_amount="Subsidy",
)


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
    words: BenefitWords  # its name in what a unit reads; ``words.zh`` is the remittance text's prefix
    once_per_unit: bool  # a unit receives it once, ever (the cases app's benefit ledger enforces it)
    once_per_person: bool = (
        False  # a person is paid for once, ever (the cases app's person ledger enforces it)
    )

    @property
    def remittance_prefix(self) -> str:
        """First part of the payment's remittance text (RmtInf/Ustrd): what the money is for."""
        return self.words.zh


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
    words=REFUND_WORDS,
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
    words=RETENTION_WORDS,
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
    words=JOB_EXPANSION_WORDS,
    once_per_unit=False,
    once_per_person=True,
)
FAMILIES: dict[str, RuleFamily] = {f.kind: f for f in (REFUND, RETENTION, JOB_EXPANSION)}


def words_of(policy_id: str) -> BenefitWords:
    """The words of the family of ``policy_id``; the refund's for a policy id this installation does not know
    (a case of a policy whose parameter file was withdrawn still reads as the refund it was)."""
    try:
        return family_of(policy_id).words
    except UnknownPolicy:
        return REFUND_WORDS


def family_of(policy: Policy | ResolvedParams | str) -> RuleFamily:
    """The family of a policy (a policy id, a ``Policy`` or a resolved parameter set)."""
    if isinstance(policy, str):
        policy = get_policy(policy)
    kind = policy.policy.kind if isinstance(policy, ResolvedParams) else policy.kind
    return FAMILIES[kind]
