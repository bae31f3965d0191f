"""What a unit may read about its own case, shared by the portal's lookup (/lookup/) and the letters to units
(``letters``): the decision explained from the evidence stored with its round (as ``mianshen explain`` writes
it, without the staff's parameter listing, the credit code masked) and where its payment stands.
"""

from __future__ import annotations

import json
from typing import Any, cast

from mianshen.cases.models import Case
from mianshen.cases.services import mask_credit_code
from mianshen.payments.lifecycle import InstructionStatus
from mianshen.payments.models import Instruction, Payment
from mianshen.payments.reasons import reason_info
from mianshen.policy.explain import TEXT
from mianshen.policy.families import family_of
from mianshen.policy.parameters import ParameterError, resolve
from mianshen.screening.models import RoundDecision

DECISION_FIELDS = ("unit_id", "credit_code", "decision", "failed", "unknown", "routes", "amount_fen")
LIVE = {InstructionStatus.CREATED, InstructionStatus.FROZEN, InstructionStatus.UPLOADED,
        InstructionStatus.NO_ANSWER, InstructionStatus.ACCEPTED, InstructionStatus.DISPUTED}  # fmt: skip


def public_explanation(case: Case, lang: str) -> str:
    """The decision explained from the evidence stored with its round (as ``explain`` writes it), without the
    staff's parameter listing; the credit code masked. ``lang``: ``zh`` or ``en``; "" when there is none."""
    rnd = case.last_round
    if rnd is None:
        return ""
    decision = RoundDecision.objects.filter(round=rnd, unit_id=case.unit_id).first()
    if decision is None:
        return ""
    evidence: Any = decision.evidence
    if isinstance(evidence, str | bytes):
        evidence = json.loads(evidence)
    if not isinstance(evidence, dict):
        return ""
    row = {**evidence, **{name: getattr(decision, name) for name in DECISION_FIELDS}}
    try:
        params = resolve(rnd.policy_id, rnd.as_of)
        text = family_of(params).render(row, params, lang)
    except (ParameterError, KeyError, ValueError):
        return ""
    staff_part = text.find(TEXT[lang]["params"])
    if staff_part > 0:
        text = text[:staff_part]
    return text.replace(decision.credit_code, mask_credit_code(decision.credit_code)).rstrip() + "\n"


def payment_facts(case: Case, lang: str) -> tuple[str, str, str, str]:
    """(state, last 4 digits of the account, paid on, what failed and what to do) of the case's payment; the
    state is one of ``waiting``, ``in_progress``, ``paid``, ``failed``, ``cancelled``, or "" with no payment.
    A case read with ``select_related("payment__current")`` brings its payment along (no query here)."""
    descriptor = Case.payment  # the reverse one-to-one: cached (None when there is none) when read along
    if descriptor.is_cached(case):
        payment = cast("Payment | None", descriptor.related.get_cached_value(case))
    else:
        payment = Payment.objects.filter(case=case).select_related("current").first()
    if payment is None:
        return "", "", "", ""
    current = current_instruction(payment)
    last4 = current.creditor_account[-4:] if current is not None else ""
    if payment.cancelled_at is not None:
        return "cancelled", last4, "", ""
    if current is None:
        return "waiting", "", "", ""
    if current.status == InstructionStatus.SETTLED:
        return "paid", last4, current.booked_on.isoformat() if current.booked_on else "", ""
    if current.status in LIVE:
        return "in_progress", last4, "", ""
    info = reason_info(failure_code(current) or None)
    zh = lang.startswith("zh")
    why = f"{info.meaning_zh if zh else info.meaning_en} {info.next_step_zh if zh else info.next_step_en}"
    return "failed", last4, "", why.strip()


def current_instruction(payment: Payment) -> Instruction | None:
    """The payment's current instruction, else its latest attempt."""
    return payment.current or Instruction.objects.filter(payment=payment).order_by("-attempt").first()


def failure_code(instruction: Instruction) -> str:
    """The bank's reason code of a failed instruction: the return reason, else the first rejection code."""
    return instruction.return_reason or (instruction.reject_codes.split() or [""])[0]
