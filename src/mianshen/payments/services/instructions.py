"""The hand-over: approved cases become payments, each with its first instruction to the account on file.

``payments_release`` takes cases in ``approved``, and in one transaction per chunk: locks them, copies each
unit's account on file (the snapshot of the round that approved the case, else the latest snapshot holding the
unit's account) into a new :class:`Instruction` with its EndToEndId, creates the :class:`Payment`, and moves the
case ``approved → released`` through ``case_transition_many`` (the one choke point of the cases app). A case
whose account is missing or unusable still moves: its payment waits for a corrected account (the unit is told).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.cases.models import Case, case_number
from mianshen.cases.states import State
from mianshen.core.bulkdb import allocate_ids, insert_rows, one_parameter, update_rows
from mianshen.policy.families import family_of
from mianshen.registry.models import BankAccount, Snapshot

from ..crashpoints import maybe_crash
from ..formats.types import (
    check_account,
    check_branch_code,
    check_fen,
    check_identifier,
    check_text,
    remittance_text,
)
from ..lifecycle import InstructionStatus
from ..models import Bank, Instruction, Payment
from ..signals import UnitNotice, unit_notices
from .common import audit_many, chunks, end_to_end_id, event, is_postgres

CHUNK = 10_000
# Whatever the benefit (the message that carries it names the benefit itself).
NO_ACCOUNT_ZH = (
    "单位未登记可用的社保缴费银行账户，资金暂无法拨付：请登记有效的对公账户，经复核后拨付，无需重新申请。"
)
NO_ACCOUNT_EN = (
    "Your unit has no usable bank account on file, so the money cannot be paid yet: register a valid account; "
    "after review it is paid to that account. No application is needed."
)


@dataclass(frozen=True)
class Account:
    bank_code: str
    branch_code: str
    account_no: str
    account_name: str
    source: str  # snapshot:<id> / correction:<id>


@dataclass(frozen=True)
class ReleaseResult:
    released: int
    instructed: int
    awaiting_account: int
    amount_fen: int


def account_problem(account: Account | None, banks: set[str]) -> str:
    """Why ``account`` cannot be paid to ("" if it can): the checks a pain.001 line must pass."""
    if account is None:
        return "no bank account on file"
    if account.bank_code not in banks:
        return f"bank code {account.bank_code!r} is not in the bank registry"
    try:
        check_branch_code(account.branch_code, "branch code")
        check_account(account.account_no, "account number")
        check_text(account.account_name, "account name")
    except ValueError as exc:
        return str(exc)
    if not account.branch_code.startswith(account.bank_code):
        return f"branch code {account.branch_code} does not start with bank code {account.bank_code}"
    return ""


Prefetched = dict[int, tuple[int, Account | None]]
"""Per case id: the snapshot its account was looked up in, and the account there (None: none on file)."""


def _accounts_prefetch(approved: QuerySet[Case]) -> Prefetched:
    """The account on file of every case of ``approved`` that a round decided, in the snapshot of that round: ONE
    statement for the whole release (the cases joined to their round and to that snapshot's accounts: a hash
    join, where one lookup per 10,000-case chunk cost 24 s at 441,300). The cases are not locked here: each chunk
    uses an entry only if the locked case still names that snapshot (a snapshot's accounts never change)."""
    ids_sql, ids_params = approved.filter(last_round__isnull=False).values("pk").query.sql_with_params()
    qn = connection.ops.quote_name
    round_model = Case._meta.get_field("last_round").related_model  # the screening round (cases' own link)
    assert not isinstance(round_model, str)
    case_t, round_t, account_t = (qn(m._meta.db_table) for m in (Case, round_model, BankAccount))
    sql = (
        f"SELECT c.id, r.snapshot_id, b.id, b.bank_code, b.branch_code, b.account_no, b.account_name "
        f"FROM {case_t} c JOIN {round_t} r ON r.id = c.last_round_id "
        f"LEFT JOIN {account_t} b ON b.snapshot_id = r.snapshot_id AND b.unit_id = c.unit_id "
        f"WHERE c.id IN ({ids_sql})"
    )
    out: Prefetched = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, ids_params)
        while batch := cursor.fetchmany(20_000):
            for pk, snap, found, bank, branch, no, name in batch:
                account = None if found is None else Account(bank, branch, no, name, f"snapshot:{snap}")
                out[pk] = (snap, account)
    return out


def _accounts(cases: Sequence[Mapping[str, Any]], known: Prefetched | None = None) -> dict[str, Account]:
    """The account on file per unit: in the snapshot of the approving round, else the latest snapshot that
    holds one (looked up snapshot by snapshot, newest first, through the (snapshot, unit) index). ``known``:
    the release's prefetched accounts (``_accounts_prefetch``), used where a case names the same snapshot."""
    pinned: dict[int, list[str]] = {}
    loose: list[str] = []
    found: dict[str, Account] = {}
    for c in cases:
        snap = c["last_round__snapshot_id"]
        hit = None if known is None or snap is None else known.get(c["pk"])
        if hit is not None and hit[0] == snap:
            if hit[1] is not None:
                found[c["unit_id"]] = hit[1]
            continue
        (pinned.setdefault(snap, []) if snap is not None else loose).append(c["unit_id"])
    for snap, units in pinned.items():
        found.update(_accounts_in(snap, units))
    if loose:
        for snap in Snapshot.objects.order_by("-pk").values_list("pk", flat=True):
            missing = [u for u in loose if u not in found]
            if not missing:
                break
            found.update(_accounts_in(snap, missing))
    return found


def _accounts_in(snapshot_id: int, units: list[str]) -> dict[str, Account]:
    rows = BankAccount.objects.filter(snapshot_id=snapshot_id, unit_id__in=one_parameter(units))
    if is_postgres():  # one array parameter instead of thousands of placeholders
        sql = (
            "SELECT unit_id, bank_code, branch_code, account_no, account_name FROM registry_bankaccount "
            "WHERE snapshot_id = %s AND unit_id = ANY(%s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [snapshot_id, units])
            fetched = cursor.fetchall()
    else:
        fetched = list(rows.values_list("unit_id", "bank_code", "branch_code", "account_no", "account_name"))
    return {u: Account(b, br, no, name, f"snapshot:{snapshot_id}") for u, b, br, no, name in fetched}


# (payment_id, case_id, attempt, end_to_end_id, amount_fen, bank_id, branch, account, name, remittance,
#  account_source, replaces_id, status, created_by): the columns a new instruction is inserted with
INSERT_FIELDS = ("payment_id", "case_id", "attempt", "end_to_end_id", "amount_fen", "bank_id", "creditor_branch_code",
                 "creditor_account", "creditor_name", "remittance", "account_source", "replaces_id", "status",
                 "created_by")  # fmt: skip


def instruction_values(
    *,
    payment_id: int,
    case_id: int,
    attempt: int,
    amount_fen: int,
    account: Account,
    remittance: str,
    actor: str,
    replaces_id: int | None = None,
) -> tuple[object, ...]:
    """The ``INSERT_FIELDS`` of a new instruction, its ids fixed and checked like a pain.001 line."""
    e2e = end_to_end_id(case_id, attempt)
    check_identifier(e2e, "EndToEndId")
    check_fen(amount_fen)
    return (payment_id, case_id, attempt, e2e, amount_fen, account.bank_code, account.branch_code, account.account_no,
            account.account_name, remittance, account.source, replaces_id, InstructionStatus.CREATED.value, actor)  # fmt: skip


def instruction_new(
    *,
    payment_id: int,
    case_id: int,
    attempt: int,
    amount_fen: int,
    account: Account,
    remittance: str,
    actor: str,
    replaces_id: int | None = None,
) -> Instruction:
    """An unsaved :class:`Instruction` (see :func:`instruction_values`)."""
    values = instruction_values(payment_id=payment_id, case_id=case_id, attempt=attempt, amount_fen=amount_fen,
                                account=account, remittance=remittance, actor=actor, replaces_id=replaces_id)  # fmt: skip
    return Instruction(**dict(zip(INSERT_FIELDS, values, strict=True)))


def payments_release(
    *, actor: str, policy_id: str | None = None, case_ids: Sequence[int] | None = None
) -> ReleaseResult:
    """Hand every approved case (of ``policy_id`` / among ``case_ids``) over to payments; idempotent."""
    from mianshen.cases.transitions import Move, case_transition_many

    from .casesync import case_states_sync

    approved = Case.objects.filter(state=State.APPROVED)
    if policy_id is not None:
        approved = approved.filter(policy_id=policy_id)
    if case_ids is not None:
        approved = approved.filter(pk__in=one_parameter(list(case_ids)))
    ids = list(approved.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return ReleaseResult(0, 0, 0, 0)
    known = _accounts_prefetch(approved)
    banks = set(Bank.objects.values_list("code", flat=True))
    totals = [0, 0, 0, 0]
    for chunk in chunks(ids, CHUNK):
        with transaction.atomic():
            # the chunk is a run of approved ids: its range, re-checked under lock (no list of 10,000 ids)
            in_chunk = approved.filter(pk__gte=chunk[0], pk__lte=chunk[-1])
            cases = list(
                in_chunk.select_for_update(of=("self",))
                .order_by("pk")
                .values("pk", "policy_id", "unit_id", "credit_code", "amount_fen", "last_round__snapshot_id")
            )
            if not cases:
                continue
            counts, waiting = _release_chunk(cases, banks, actor, known)
            maybe_crash("after_instruction_insert")
            moves = [
                Move(c["pk"], State.RELEASED, "handed over to payments", frozenset({State.APPROVED}))
                for c in cases
            ]
            case_transition_many(moves=moves, actor=actor)
            case_states_sync(case_ids=waiting, actor=actor)  # no usable account: awaiting a correction
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return ReleaseResult(*totals)


def _release_chunk(
    cases: Sequence[Mapping[str, Any]], banks: set[str], actor: str, known: Prefetched | None = None
) -> tuple[tuple[int, int, int, int], list[int]]:
    """Payments and first instructions for one chunk of locked cases (COPY on PostgreSQL), audited per chunk.
    Returns the counts and the cases whose payment waits for an account."""
    accounts = _accounts(cases, known)
    now = timezone.now()
    notes: dict[int, str] = {}
    planned: list[tuple[Mapping[str, Any], Account, str]] = []
    for c in cases:
        account = accounts.get(c["unit_id"])
        problem = account_problem(account, banks)
        remittance = ""
        if not problem:
            try:
                check_fen(c["amount_fen"], "approved amount")
                remittance = remittance_text(
                    case_number(c["pk"], c["policy_id"]),
                    c["credit_code"],
                    family_of(c["policy_id"]).remittance_prefix,
                )
            except ValueError as exc:
                problem = str(exc)
        if problem or account is None:
            notes[c["pk"]] = problem[:300]
        else:
            planned.append((c, account, remittance))
    payment_ids = dict(zip((c["pk"] for c in cases), allocate_ids(Payment, len(cases)), strict=True))
    instruction_ids = dict(
        zip((c["pk"] for c, _, _ in planned), allocate_ids(Instruction, len(planned)), strict=True)
    )
    rows = []
    for c, account, remittance in planned:
        values = instruction_values(payment_id=payment_ids[c["pk"]], case_id=c["pk"], attempt=1,
                                    amount_fen=c["amount_fen"], account=account, remittance=remittance, actor=actor)  # fmt: skip
        rows.append((instruction_ids[c["pk"]], *values, now, "", False, "", "", ""))
    # On PostgreSQL the payments are inserted pointing at their instructions already: the foreign keys are
    # checked at commit (Django makes them DEFERRABLE INITIALLY DEFERRED), so no second pass of 10,000 UPDATEs
    # per chunk (``current_id`` was 19 s of the release at 441,300). On SQLite payments first (without their
    # current instruction), then the instructions, then the payments pointed at them: no row ever references one
    # not inserted yet. There an outstanding deferred foreign-key violation makes every later insert into the
    # referenced table search the referencing one, and nothing indexes payment.current_id: inserting payments
    # that point ahead made the release quadratic (hours at 450,000).
    ahead = is_postgres()
    insert_rows(
        Payment,
        ("id", "case_id", "amount_fen", "released_at", "released_by", "note", "cancelled_by", "cancel_reason",
         "current_id"),
        [(payment_ids[c["pk"]], c["pk"], c["amount_fen"], now, actor, notes.get(c["pk"], ""), "", "",
          instruction_ids.get(c["pk"]) if ahead else None) for c in cases],
    )  # fmt: skip
    insert_rows(Instruction, ("id", *INSERT_FIELDS, "created_at", "bank_status", "rejected", "reject_codes",
                              "return_reason", "action"), rows)  # fmt: skip
    if not ahead:
        update_rows(Payment, ["current_id"], [(payment_ids[pk], iid) for pk, iid in instruction_ids.items()])
    if notes:
        amounts = {c["pk"]: c["amount_fen"] for c in cases}
        unit_notices.send(
            sender=Payment,
            notices=[UnitNotice(event=f"case{pk}:no_account", kind="no_account", case_id=pk,
                                payment_id=payment_ids[pk], amount_fen=amounts[pk], why_zh=NO_ACCOUNT_ZH,
                                why_en=NO_ACCOUNT_EN) for pk in notes],
            actor=actor,
        )  # fmt: skip
    events = [
        event(Action.PAYMENT_HELD, "payment", payment_ids[pk], after={"case": pk}, reason=why)
        for pk, why in notes.items()
    ]
    if planned:
        events.append(
            event(
                Action.PAYMENT_INSTRUCTION_CREATED, "payment_instructions", f"{rows[0][4]}..{rows[-1][4]}",
                after={"count": len(rows), "amount_fen": sum(c["amount_fen"] for c, _, _ in planned),
                       "instructions": [f"{r[4]} {r[5]} {r[6]} {r[11]}" for r in rows]},
                reason="handed over: one instruction per approved case, to the account on file",
            )
        )  # fmt: skip
    audit_many(actor=actor, events=events)
    return (len(cases), len(planned), len(notes), sum(c["amount_fen"] for c in cases)), sorted(notes)
