"""/apply/dispatch/: a host employer, signed in through /lookup/ as its own unit, confirms (or disputes) the workers
a labour-dispatch firm declares it placed there (contracts §4 /apply/, ``dispatch_hosts``; the rules are
``cases.hosts``'). A session acts only as the credit codes of its own units: the firms listed are those that name
one of them as a host, and a case that does not is answered as if it did not exist.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from mianshen.cases.hosts import (
    MAX_WORKERS,
    NOTE_LENGTH,
    HostAnswered,
    HostRequest,
    host_answer_record,
    host_requests,
)
from mianshen.cases.models import HostAnswerKind
from mianshen.cases.services import CaseError
from mianshen.registry.models import Snapshot, Unit

from .applications import ApplicationInvalid
from .codes import new_reference

ANSWERS = ((HostAnswerKind.CONFIRM.value, _("确认：人数与贵单位实际使用的一致")),
           (HostAnswerKind.DISPUTE.value, _("有异议：人数不符或没有使用该单位派遣的人员")))  # fmt: skip
NEXT_STEP_CONFIRMED = _(
    "感谢确认。该劳务派遣单位的全部用工单位确认后，其稳岗返还将在下一轮比对中继续办理。贵单位无需再做任何事。"
)
NEXT_STEP_DISPUTED = _("工作人员会核实贵单位提出的异议，必要时会与贵单位联系。贵单位无需再做任何事。")


def session_hosts(unit_ids: tuple[str, ...]) -> dict[str, str]:
    """The credit codes of the session's units (credit code → unit id), from the newest snapshot that lists any
    of them (looked up through its (snapshot, unit id) key)."""
    if not unit_ids:
        return {}
    for snapshot_id in Snapshot.objects.order_by("-pk").values_list("pk", flat=True):
        rows = list(
            Unit.objects.filter(snapshot_id=snapshot_id, unit_id__in=list(unit_ids))
            .order_by("unit_id")
            .values_list("credit_code", "unit_id")
        )
        if rows:
            out: dict[str, str] = {}
            for code, unit_id in rows:
                out.setdefault(code, unit_id)
            return out
    return {}


def requests_for(unit_ids: tuple[str, ...]) -> list[HostRequest]:
    """The dispatch firms awaiting confirmation that name one of the session's units as a host employer."""
    return host_requests(session_hosts(unit_ids))


def request_for(unit_ids: tuple[str, ...], case_id: object) -> HostRequest | None:
    """The session's request on case ``case_id`` (None: not a firm that names one of its units as a host)."""
    try:
        pk = int(str(case_id))
    except (TypeError, ValueError):
        return None
    return next((r for r in requests_for(unit_ids) if r.case_id == pk), None)


@dataclass
class HostDraft:
    case_id: int
    host_credit_code: str
    answer: str
    seen_workers: str
    note: str


def answer_check(raw: Mapping[str, object]) -> tuple[str, int | None, str]:
    """(answer, seen workers, note) from a question page; :class:`ApplicationInvalid` naming every bad field."""
    errors: dict[str, Promise | str] = {}
    answer = str(raw.get("answer", "") or "").strip()
    if answer not in HostAnswerKind.values:
        errors["answer"] = _("请选择确认或有异议")
    seen_text = unicodedata.normalize("NFKC", str(raw.get("seen_workers", "") or "")).strip()
    note = str(raw.get("note", "") or "").strip()
    seen: int | None = None
    if seen_text:
        if not (seen_text.isascii() and seen_text.isdigit()) or len(seen_text) > 7:
            errors["seen_workers"] = _("请只填数字，例如 12")
        elif int(seen_text) > MAX_WORKERS:
            errors["seen_workers"] = _("人数须在 0 到 1000000 之间")
        else:
            seen = int(seen_text)
    if any((ord(c) < 32 and c not in "\n\r\t") or 0xD800 <= ord(c) <= 0xDFFF for c in note):
        errors["note"] = _("含有无法保存的字符")
    elif len(note) > NOTE_LENGTH:
        errors["note"] = _("说明不能超过 %(max)s 个字") % {"max": NOTE_LENGTH}
    if answer == HostAnswerKind.DISPUTE:
        if not seen_text and "seen_workers" not in errors:
            errors["seen_workers"] = _("有异议时请填写贵单位实际使用的派遣人数")
        if len(note) < 5 and "note" not in errors:
            errors["note"] = _("有异议时请说明情况，至少 5 个字")
    if errors:
        raise ApplicationInvalid(errors)
    if answer == HostAnswerKind.CONFIRM:
        seen = None
    return answer, seen, note


def draft_make(unit_ids: tuple[str, ...], case_id: object, raw: Mapping[str, object]) -> HostDraft:
    request = request_for(unit_ids, case_id)
    if request is None:
        raise ApplicationInvalid({"answer": _("没有劳务派遣单位申报向贵单位派遣了人员")})
    answer, seen, note = answer_check(raw)
    return HostDraft(
        request.case_id, request.host_credit_code, answer, "" if seen is None else str(seen), note
    )


def answer_file(unit_ids: tuple[str, ...], draft: HostDraft) -> HostAnswered:
    """File the draft: the request looked up among the session's units again, the answers checked again, then
    ``cases.hosts.host_answer_record`` with a fresh ``A-`` reference (drawn again on a clash)."""
    hosts = session_hosts(unit_ids)
    if draft.host_credit_code not in hosts:
        raise ApplicationInvalid({"answer": _("没有劳务派遣单位申报向贵单位派遣了人员")})
    answer, seen, note = answer_check(
        {"answer": draft.answer, "seen_workers": draft.seen_workers, "note": draft.note}
    )
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return host_answer_record(
                    case_id=draft.case_id, host_credit_code=draft.host_credit_code,
                    host_unit_id=hosts[draft.host_credit_code], answer=answer, seen_workers=seen, note=note,
                    reference=new_reference("A"),
                )  # fmt: skip
        except IntegrityError:  # a reference drawn twice (50 random bits): draw again
            continue
        except CaseError as exc:
            raise ApplicationInvalid({"answer": exc.text()}) from None
    raise ApplicationInvalid({"answer": _("未能生成编号，请重试")})


def answer_label(answer: str) -> str:
    return str(dict(ANSWERS).get(answer, answer))
