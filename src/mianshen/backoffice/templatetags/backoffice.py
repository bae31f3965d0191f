"""Template filters of the back office: money from integer fen, labels of codes, what a role may do."""

from __future__ import annotations

import json
from typing import Any

from django import template

from mianshen.core.money import format_yuan

from .. import labels

register = template.Library()


@register.filter
def fen_yuan(value: Any) -> str:
    """Integer fen as yuan with thousands separators and two decimals, by integer arithmetic only:
    ``123456`` → ``1,234.56``, ``-5`` → ``-0.05``, None → ``—`` (``core.money.format_yuan``, the one
    formatter). A float or Decimal is refused (TypeError): money is never a binary fraction here."""
    if value is None or value == "":
        return "—"
    fen = value
    if isinstance(value, str) and value.lstrip("-").isascii() and value.lstrip("-").isdigit():
        fen = int(value)
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen_yuan takes integer fen, not {type(value).__name__}")
    return format_yuan(fen)


def _lookup(table: dict[str, Any], value: Any) -> str:
    key = "" if value is None else str(value)
    return str(table.get(key, key))


@register.filter
def state_label(value: Any) -> str:
    return _lookup(labels.STATES, value)


@register.filter
def decision_label(value: Any) -> str:
    return _lookup(labels.DECISIONS, value)


@register.filter
def checkpoint_label(value: Any) -> str:
    return _lookup(labels.CHECKPOINTS, value)


@register.filter
def round_status_label(value: Any) -> str:
    return _lookup(labels.ROUND_STATUSES, value)


@register.filter
def job_status_label(value: Any) -> str:
    return _lookup(labels.JOB_STATUSES, value)


@register.filter
def outcome_label(value: Any) -> str:
    return _lookup(labels.OUTCOMES, value)


@register.filter
def raised_by_label(value: Any) -> str:
    return _lookup(labels.RAISED_BY, value)


@register.filter
def role_label(value: Any) -> str:
    return _lookup(labels.ROLES, value)


@register.filter
def instruction_status_label(value: Any) -> str:
    return _lookup(labels.INSTRUCTION_STATUSES, value)


@register.filter
def bucket_label(value: Any) -> str:
    return _lookup(labels.BUCKETS, value)


@register.filter
def bank_file_status_label(value: Any) -> str:
    return _lookup(labels.BANK_FILE_STATUSES, value)


@register.filter
def inbound_status_label(value: Any) -> str:
    return _lookup(labels.INBOUND_STATUSES, value)


@register.filter
def hold_kind_label(value: Any) -> str:
    return _lookup(labels.HOLD_KINDS, value)


@register.filter
def failure_action_label(value: Any) -> str:
    return _lookup(labels.FAILURE_ACTIONS, value)


@register.filter
def correction_kind_label(value: Any) -> str:
    return _lookup(labels.CORRECTION_KINDS, value)


@register.filter
def approval_kind_label(value: Any) -> str:
    return _lookup(labels.APPROVAL_KINDS, value)


@register.filter
def decided_label(value: Any) -> str:
    return _lookup(labels.DECIDED, value)


@register.filter
def booking_kind_label(value: Any) -> str:
    return _lookup(labels.BOOKING_KINDS, value)


@register.filter
def move_label(value: Any) -> str:
    """An instruction's status move as ingest counts it: ``uploaded->rejected`` → ``已交付银行，未答复 → 银行拒绝``."""
    before, _sep, after = str(value or "").partition("->")
    return f"{_lookup(labels.INSTRUCTION_STATUSES, before)} → {_lookup(labels.INSTRUCTION_STATUSES, after)}"


@register.filter
def failure_codes(instruction: Any) -> list[str]:
    """The reason codes of a failed instruction (its return reason, or its reject codes)."""
    if instruction is None:
        return []
    return labels.failure_codes(
        reject_codes=instruction.reject_codes,
        return_reason=instruction.return_reason,
        returned=instruction.returned_on is not None,
    )


@register.filter
def reason_meaning(value: Any) -> str:
    return labels.reason_meaning(str(value or ""))


@register.filter
def bank_status_meaning(value: Any) -> str:
    return labels.bank_status_meaning(str(value or ""))


@register.filter
def next_step(value: Any) -> str:
    return labels.next_step(str(value or ""))


@register.filter
def mask_account(value: Any) -> str:
    return labels.mask_account(None if value is None else str(value))


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """``forms|get_item:obj.pk``: a dict's value (None when the dict or the key is missing)."""
    return mapping.get(key) if mapping else None


@register.filter
def may(user: Any, perm: str) -> bool:
    """``{% if user|may:"view_payment_files" %}``: the role may do it at all (``roles.can``)."""
    from ..roles import Perm, can

    return can(user, Perm(perm))


@register.filter
def district_name(value: Any) -> str:
    return labels.district_name(value)


@register.filter
def code_title(value: Any) -> str:
    return labels.code_title(str(value))


@register.filter
def codes_list(value: Any) -> list[str]:
    """``"ARREARS|SIZE_UNKNOWN"`` → ``["ARREARS", "SIZE_UNKNOWN"]``."""
    return [c for c in str(value or "").split("|") if c]


@register.filter
def signed(value: Any) -> str:
    """A difference with its sign: ``+3``, ``-2``, ``0``; None → ``—``."""
    if value is None:
        return "—"
    return f"{int(value):+d}" if int(value) else "0"


@register.filter
def as_json(value: Any) -> str:
    """A JSON value as compact JSON text (Chinese kept readable; the template still escapes it)."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


@register.filter
def action_name(value: Any) -> str:
    """An audit action code as ``700 staff.viewed_bank_data``."""
    from mianshen.audit.catalogue import Action

    try:
        return f"{int(value)} {Action(int(value)).dotted}"
    except ValueError:
        return str(value)
