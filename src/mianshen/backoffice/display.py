"""How the back office shows the domain's codes: every label a person reads, in the active language, from the one
message catalogue (``src/mianshen/locale``). The labels of stored codes are the models' ``choices`` (and the
mappings beside them: ``screening.models.DECISION_LABELS``, ``payments.models.ACTION_LABELS`` …); the policy's
condition and route names are marked for the catalogue in ``policy.conditions`` and translated here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import get_language, gettext

from mianshen.policy.conditions import CONDITIONS, ROUTES
from mianshen.policy.job_expansion import CONDITIONS as JOB_CONDITIONS
from mianshen.policy.retention import CONDITIONS as RETENTION_CONDITIONS

from .roles import DISTRICTS


def lang_code() -> str:
    """``zh`` or ``en``: the explanation language matching the active UI language."""
    return "en" if (get_language() or "").startswith("en") else "zh"


def label(labels: Mapping[Any, Any], code: Any) -> str:
    """``labels[code]`` in the active language, else the code (``""`` for None): ``label(STATE_LABELS, "paid")``
    → ``已拨付``."""
    key = "" if code is None else str(code)
    return str(labels.get(key, key))


def code_title(code: str) -> str:
    """A condition or route code with its title in the active language (``ARREARS`` → ``ARREARS 欠费``): the
    policy's Chinese title through the catalogue."""
    for c in (*CONDITIONS, *RETENTION_CONDITIONS, *JOB_CONDITIONS):  # a shared code: the refund's title
        if code == c.code:
            return f"{code} {gettext(c.title['zh'])}"
        if code == c.unknown_code:
            return gettext("%(code)s %(title)s（无法判断）") % {"code": code, "title": gettext(c.title["zh"])}
    for r in ROUTES:
        if code == r.code:
            return f"{code} {gettext(r.title['zh'])}"
    return code


def district_name(code: str | None) -> str:
    if not code:
        return ""
    return str(DISTRICTS.get(code, code))


def failure_codes(*, reject_codes: str, return_reason: str, returned: bool) -> list[str]:
    """The reason codes of a failed instruction: its return reason if the money came back, else the codes of
    the rejection (``"AC01 BE01"`` → ``["AC01", "BE01"]``)."""
    if returned:
        return [return_reason] if return_reason else []
    return [c for c in reject_codes.split() if c]


def reason_meaning(code: str) -> str:
    """A reason code with what it means in the active language (``AC01`` → ``AC01 账号错误``)."""
    from mianshen.payments.reasons import reason_info

    info = reason_info(code or None)
    return f"{info.code} {info.meaning}"


def bank_status_meaning(code: str) -> str:
    """An ISO status code with its meaning (``ACSC`` → ``ACSC 清算完成（付款方）``); "" for none."""
    from mianshen.payments.reasons import status_info

    if not code:
        return ""
    info = status_info(code)
    return f"{info.code} {info.meaning}"


def next_step(action: str) -> str:
    """What the unit is told to do after a failure with this action (payments.reasons), in the active
    language; "" for no action."""
    from mianshen.payments.reasons import REASONS

    info = next((r for r in REASONS.values() if r.action.value == action), None)
    if info is None:
        return ""
    return info.next_step


def mask_account(number: str | None) -> str:
    """An account number with all but its last four digits hidden (``6210500000000001`` → ``••••0001``): the
    full number is shown only in an audited panel."""
    if not number:
        return ""
    return "••••" + number[-4:]
