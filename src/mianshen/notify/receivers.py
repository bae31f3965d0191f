"""Messages at every step (contracts §4): what the apps below say happened becomes outbox rows, written by their
signals INSIDE the transaction of the change (connected in ``NotifyConfig.ready()``).

===================================  ==================  =========================================
cause                                kind                event (with to and channel: the key)
===================================  ==================  =========================================
``notice_opened`` (cases)            ``listed``          ``notice<N>:case<C>``
case → approved                      ``approved``        ``case<C>:approved:v<version>``
case released → paid                 ``paid``            ``<EndToEndId>:paid``
case publicised/approved → excluded  ``dropped``         ``case<C>:dropped:v<version>``
case objected → publicised/excluded  ``objection_outcome``  ``case<C>:objection:v<version>``
case → awaiting_application          ``must_apply``      ``case<C>:must_apply:v<version>``
case → awaiting_confirmation         ``confirm_dispatch``  ``case<C>:confirm_dispatch:<host unit>:v<version>``
``application_submitted`` (cases)   ``application_received``  ``application<A>:received``
``application_decided`` (cases)     ``application_decided``   ``application<A>:decided``
``unit_notices`` (payments)          ``payment_failed``, ``no_account``   the payment side's key
===================================  ==================  =========================================

Each goes to the unit's registered phone (``registry.Unit.phone`` in the snapshot of the round that last decided
the case) by SMS when there is one, and always to the unit's portal inbox — except ``confirm_dispatch``, which goes
to each HOST employer of the dispatch firm (``registry.DispatchHost`` of that snapshot) that is a unit of the
snapshot, by its credit code: SMS to its phone when it has one, and its portal inbox (the firm's amount is not in
it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.dispatch import receiver

from mianshen.cases.models import Application, Case, Notice
from mianshen.cases.signals import application_decided, application_submitted, cases_moved, notice_opened
from mianshen.cases.states import State
from mianshen.core.bulkdb import one_parameter
from mianshen.payments.models import Booking, Instruction, Payment
from mianshen.payments.signals import UnitNotice, unit_notices
from mianshen.policy.families import words_of
from mianshen.registry.models import DispatchHost, Unit
from mianshen.screening.models import ScreeningRound

from .kinds import Channel, Kind, benefit, word, yuan
from .services import PHONE, NewMessage, messages_queue_many

S = State
BEIJING = ZoneInfo("Asia/Shanghai")
_CHUNK = 50_000


def contacts(rows: Iterable[tuple[str, int | None]]) -> dict[str, str]:
    """The registered phone of each unit (``(unit_id, round_id)`` pairs): from the snapshot of that round; a
    unit without a usable mobile number is left out (it is told in its portal inbox only)."""
    by_round: dict[int, set[str]] = {}
    for unit_id, round_id in rows:
        if round_id is not None:
            by_round.setdefault(round_id, set()).add(unit_id)
    snapshots = dict(ScreeningRound.objects.filter(pk__in=list(by_round)).values_list("pk", "snapshot_id"))
    phones: dict[str, str] = {}
    for round_id, units in by_round.items():
        ids = sorted(units)
        for begin in range(0, len(ids), _CHUNK):
            for unit_id, phone in Unit.objects.filter(
                snapshot_id=snapshots[round_id], unit_id__in=one_parameter(ids[begin : begin + _CHUNK])
            ).values_list("unit_id", "phone"):
                if phone and PHONE.match(phone.strip()):
                    phones[unit_id] = phone.strip()
    return phones


def _both(
    kind: Kind, event: str, unit_id: str, phone: str | None, params: dict[str, Any], **refs: Any
) -> list[NewMessage]:
    """The message on each of the unit's channels: SMS when it has a phone, always its portal inbox (the same
    ``params`` object: ``messages_queue_many`` renders it once)."""
    out = [NewMessage(kind, Channel.INBOX, unit_id, event, params, unit_id=unit_id, **refs)]
    if phone:
        out.append(NewMessage(kind, Channel.SMS, phone, event, params, unit_id=unit_id, **refs))
    return out


@receiver(notice_opened, dispatch_uid="notify.listed")
def listed(
    sender: type[Notice], *, notice: Notice, case_ids: Sequence[int], actor: str, **kwargs: Any
) -> int:
    """Every unit of a new public notice: on the list, the amount, the period, how to object."""
    start = f"{notice.starts_at.astimezone(BEIJING):%Y-%m-%d}"
    end = f"{(notice.ends_at.astimezone(BEIJING) - timedelta(seconds=1)):%Y-%m-%d}"
    queued = 0
    ids = list(case_ids)
    for begin in range(0, len(ids), _CHUNK):
        rows = list(
            Case.objects.filter(pk__in=one_parameter(ids[begin : begin + _CHUNK]))
            .order_by("pk")
            .values_list("pk", "unit_id", "unit_name", "amount_fen", "last_round_id", "policy_id")
        )
        phones = contacts((u, r) for _, u, _, _, r, _ in rows)
        messages: list[NewMessage] = []
        for pk, unit_id, name, amount, round_id, policy_id in rows:
            params = {
                "unit_name": name,
                "amount": yuan(amount),
                "start": start,
                "end": end,
                **benefit(policy_id),
            }
            messages += _both(Kind.LISTED, f"notice{notice.pk}:case{pk}", unit_id, phones.get(unit_id), params,
                              case_id=pk, round_id=round_id)  # fmt: skip
        queued += messages_queue_many(
            messages=messages, actor=actor, reason=f"notice {notice.pk} opened", fresh=True
        )  # the notice was created in this transaction
    return queued


# (from states or None for any, to state) → kind and its event name
_MOVES: list[tuple[frozenset[State] | None, State, Kind, str]] = [
    (None, S.APPROVED, Kind.APPROVED, "approved"),
    (frozenset({S.RELEASED}), S.PAID, Kind.PAID, "paid"),
    (frozenset({S.PUBLICISED, S.APPROVED}), S.EXCLUDED, Kind.DROPPED, "dropped"),
    (frozenset({S.OBJECTED}), S.PUBLICISED, Kind.OBJECTION_OUTCOME, "objection"),
    (frozenset({S.OBJECTED}), S.EXCLUDED, Kind.OBJECTION_OUTCOME, "objection"),
    (None, S.AWAITING_APPLICATION, Kind.MUST_APPLY, "must_apply"),
    (None, S.AWAITING_CONFIRMATION, Kind.CONFIRM_DISPATCH, "confirm_dispatch"),
]


def kind_of_move(frm: str, to: str) -> tuple[Kind, str] | None:
    """The message a case's move ``frm → to`` causes (None: none; an amendment, ``frm == to``, causes none)."""
    if frm == to:
        return None
    for froms, target, kind, name in _MOVES:
        if to == target and (froms is None or frm in froms):
            return kind, name
    return None


@receiver(cases_moved, dispatch_uid="notify.case_moves")
def case_moves(sender: type[Case], *, moved: Sequence[tuple[Case, str]], actor: str, **kwargs: Any) -> int:
    """Cases moved: the units told of each step (see the module docstring)."""
    todo = [(case, frm, hit) for case, frm in moved if (hit := kind_of_move(frm, case.state)) is not None]
    if not todo:
        return 0
    phones = contacts((c.unit_id, c.last_round_id) for c, _, _ in todo)
    paid = _paid_details([c.pk for c, _, (kind, _) in todo if kind == Kind.PAID])
    hosts = _host_contacts([c for c, _, (kind, _) in todo if kind == Kind.CONFIRM_DISPATCH])
    messages: list[NewMessage] = []
    for case, _frm, (kind, name) in todo:
        if kind == Kind.CONFIRM_DISPATCH:
            messages += _to_hosts(case, name, hosts.get(case.pk, []))
            continue
        params: dict[str, Any] = {
            "unit_name": case.unit_name, "amount": yuan(case.amount_fen), **benefit(case.policy_id)
        }  # fmt: skip
        refs: dict[str, Any] = {"case_id": case.pk, "round_id": case.last_round_id}
        if kind == Kind.PAID:
            details = paid.get(case.pk)
            if details is None:
                continue
            payment_id, amount, booked, last4, e2e = details
            params.update(amount=yuan(amount), date=booked, last4=last4)
            refs["payment_id"] = payment_id
            name = f"{e2e}:paid"  # once per settled instruction, however the case moved
        elif kind == Kind.DROPPED:
            params["why"] = case.reason or "-"
        elif kind == Kind.OBJECTION_OUTCOME:
            upheld = case.state == S.EXCLUDED
            params["outcome"] = word(
                "objection_upheld" if upheld else "objection_rejected", words_of(case.policy_id)
            )
        event = name if kind == Kind.PAID else f"case{case.pk}:{name}:v{case.version}"
        messages += _both(kind, event, case.unit_id, phones.get(case.unit_id),
                          params, **refs)  # fmt: skip
    # A move's event names the case's new version, written in this very transaction: no such message can exist
    # yet, so the rows are copied straight into the outbox (the unique key still guards it: a duplicate would
    # fail the move, never pass silently) instead of through a temporary table and ON CONFLICT (37 s of round 3
    # at 441,300). Not so for "paid" (once per settled instruction, however the case moved) or for cases
    # announced on opening (from no state: not a move of this transaction).
    fresh = all(frm != "" and kind != Kind.PAID for _case, frm, (kind, _name) in todo)
    return messages_queue_many(messages=messages, actor=actor, reason="cases moved", fresh=fresh)


def _host_contacts(cases: Sequence[Case]) -> dict[int, list[tuple[str, str, str | None, int]]]:
    """For each dispatch firm's case: its host employers that are units of the snapshot of the round that last
    decided it, as (unit id, name, usable mobile phone or None, declared workers)."""
    by_round: dict[int, list[Case]] = {}
    for case in cases:
        if case.last_round_id is not None:
            by_round.setdefault(case.last_round_id, []).append(case)
    snapshots = dict(ScreeningRound.objects.filter(pk__in=list(by_round)).values_list("pk", "snapshot_id"))
    out: dict[int, list[tuple[str, str, str | None, int]]] = {}
    for round_id, firms in by_round.items():
        snapshot = snapshots[round_id]
        firm_case = {c.unit_id: c.pk for c in firms}
        declared: list[tuple[int, str, int]] = []
        ids = sorted(firm_case)
        for begin in range(0, len(ids), _CHUNK):
            declared += [
                (firm_case[unit_id], code, workers)
                for unit_id, code, workers in DispatchHost.objects.filter(
                    snapshot_id=snapshot, unit_id__in=one_parameter(ids[begin : begin + _CHUNK])
                )
                .order_by("unit_id", "line")
                .values_list("unit_id", "host_credit_code", "workers")
            ]
        codes = sorted({code for _, code, _ in declared})
        units: dict[str, list[tuple[str, str, str | None]]] = {}
        for begin in range(0, len(codes), _CHUNK):
            for unit_id, code, name, phone in (
                Unit.objects.filter(
                    snapshot_id=snapshot, credit_code__in=one_parameter(codes[begin : begin + _CHUNK])
                )
                .order_by("unit_id")
                .values_list("unit_id", "credit_code", "name", "phone")
            ):
                usable = phone.strip() if phone and PHONE.match(phone.strip()) else None
                units.setdefault(code, []).append((unit_id, name, usable))
        for case_id, code, workers in declared:
            for unit_id, name, phone in units.get(code, []):
                out.setdefault(case_id, []).append((unit_id, name, phone, workers))
    return out


def _to_hosts(case: Case, name: str, hosts: list[tuple[str, str, str | None, int]]) -> list[NewMessage]:
    """``confirm_dispatch`` to each host employer of a dispatch firm's case: the firm's name and the workers it
    declares there, never its amount."""
    messages: list[NewMessage] = []
    for unit_id, host_name, phone, workers in hosts:
        params = {
            "unit_name": host_name,
            "firm_name": case.unit_name,
            "workers": workers,
            **benefit(case.policy_id),
        }
        event = f"case{case.pk}:{name}:{unit_id}:v{case.version}"
        messages += _both(Kind.CONFIRM_DISPATCH, event, unit_id, phone, params, case_id=case.pk,
                          round_id=case.last_round_id)  # fmt: skip
    return messages


def _paid_details(case_ids: list[int]) -> dict[int, tuple[int, int, str, str, str]]:
    """For each paid case: (payment id, amount booked, booking date, last 4 digits of the account, EndToEndId)."""
    if not case_ids:
        return {}
    out: dict[int, tuple[int, int, str, str, str]] = {}
    current = dict(
        Payment.objects.filter(case_id__in=one_parameter(case_ids)).values_list("current_id", "case_id")
    )
    instructions = Instruction.objects.filter(pk__in=one_parameter([i for i in current if i is not None]))
    for iid, payment_id, case_id, amount, account, booked, e2e in instructions.values_list(
        "pk", "payment_id", "case_id", "amount_fen", "creditor_account", "booked_on", "end_to_end_id"
    ):
        if booked is None:
            booked = (
                Booking.objects.filter(instruction_id=iid, kind="debit")
                .values_list("booking_date", flat=True)
                .first()
            )
        out[case_id] = (payment_id, amount, booked.isoformat() if booked else "-", account[-4:], e2e)
    return out


@receiver(unit_notices, dispatch_uid="notify.payment_notices")
def payment_notices(
    sender: type[Payment], *, notices: Sequence[UnitNotice], actor: str, **kwargs: Any
) -> int:
    """A payment that failed, or waits for an account: the unit is told why, in words, and what to do."""
    cases = {
        pk: (unit_id, name, round_id, policy_id)
        for pk, unit_id, name, round_id, policy_id in Case.objects.filter(
            pk__in=one_parameter(sorted({n.case_id for n in notices}))
        ).values_list("pk", "unit_id", "unit_name", "last_round_id", "policy_id")
    }
    phones = contacts((u, r) for u, _, r, _ in cases.values())
    messages: list[NewMessage] = []
    for n in notices:
        unit_id, name, round_id, policy_id = cases[n.case_id]
        params: dict[str, Any] = {"unit_name": name, "amount": yuan(n.amount_fen), **benefit(policy_id)}
        if n.kind == Kind.PAYMENT_FAILED:
            params.update(
                what=word("returned" if n.returned else "not_credited"),
                why={"zh": n.why_zh, "en": n.why_en},
                next_step={"zh": n.next_step_zh, "en": n.next_step_en},
                reason_code=n.reason_code,
            )
        messages += _both(Kind(n.kind), n.event, unit_id, phones.get(unit_id), params, case_id=n.case_id,
                          payment_id=n.payment_id, round_id=round_id)  # fmt: skip
    return messages_queue_many(messages=messages, actor=actor, reason="payment notices")


def _application_messages(
    app: Application, kind: Kind, event: str, params: dict[str, Any], actor: str
) -> int:
    case = app.case
    phone = contacts([(case.unit_id, case.last_round_id)]).get(case.unit_id)
    messages = _both(kind, event, case.unit_id, phone, params, case_id=case.pk, round_id=case.last_round_id)
    return messages_queue_many(messages=messages, actor=actor, reason=f"application {app.pk}")


@receiver(application_submitted, dispatch_uid="notify.application_received")
def application_received(
    sender: type[Application], *, application: Application, actor: str, **kwargs: Any
) -> int:
    """The unit is told its application arrived, with its reference."""
    ref = application.reference or f"#{application.pk}"
    return _application_messages(
        application, Kind.APPLICATION_RECEIVED, f"application{application.pk}:received", {"ref": ref}, actor
    )


@receiver(application_decided, dispatch_uid="notify.application_decided")
def application_decided_message(
    sender: type[Application], *, application: Application, actor: str, **kwargs: Any
) -> int:
    """The unit is told the outcome of its application."""
    ref = application.reference or f"#{application.pk}"
    outcome = word("application_granted" if application.outcome == "granted" else "application_refused")
    return _application_messages(
        application,
        Kind.APPLICATION_DECIDED,
        f"application{application.pk}:decided",
        {"ref": ref, "outcome": outcome},
        actor,
    )
