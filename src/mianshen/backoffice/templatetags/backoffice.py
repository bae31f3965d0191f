"""Template filters of the back office: money from integer fen, labels of codes."""

from __future__ import annotations

import json
from typing import Any

from django import template

from .. import labels

register = template.Library()


@register.filter
def fen_yuan(value: Any) -> str:
    """Integer fen as yuan with thousands separators and two decimals, by integer arithmetic only:
    ``123456`` → ``1,234.56``, ``-5`` → ``-0.05``, None → ``—``. A float or Decimal is refused (TypeError):
    money is never a binary fraction here."""
    if value is None or value == "":
        return "—"
    fen = value
    if isinstance(value, str) and value.lstrip("-").isascii() and value.lstrip("-").isdigit():
        fen = int(value)
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen_yuan takes integer fen, not {type(value).__name__}")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


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
