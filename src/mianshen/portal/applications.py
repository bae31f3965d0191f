"""/apply/ (contracts §4): the application channel for a unit signed in through /lookup/.

The typed questions of each situation (domain.md §2, plus applying under key supervision), checked here for the
pages and the API alike (every problem named by its field, in the active language); documents checked by their
content and stored by ``cases.documents``; the application itself through ``cases.services.application_submit``
(the same service the demo uses), with an ``A-`` reference. A session sees and acts on its own units' cases and
applications only: every read and write here takes the session's units and looks the case up among them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as marked  # a message marked N_() where it is defined
from django.utils.translation import gettext_lazy as _

from mianshen.cases.documents import (
    DocumentRefused,
    StoredDocument,
    document_check,
    document_store,
    max_bytes,
)
from mianshen.cases.models import STATE_LABELS, Application, ApplicationKind, Case
from mianshen.cases.services import CaseError, Offer, application_offers, application_submit, mask_credit_code
from mianshen.cases.states import State
from mianshen.datadrop.schema import USCC_ALPHABET, uscc_check_char

from .codes import new_reference
from .selectors import UNIT_TYPE_NAMES
from .services import PHONE

MAX_FILES = 3


def document_limit() -> int:
    """The largest document taken, in bytes (``settings.APPLICATION_UPLOAD_MAX_BYTES``)."""
    return max_bytes()


USCC = re.compile(f"^[{USCC_ALPHABET}]{{2}}[0-9]{{6}}[{USCC_ALPHABET}]{{10}}$")


@dataclass(frozen=True)
class Question:
    name: str
    label: Promise
    kind: str  # text, textarea, date, int, choice, codes, digits
    required: bool = True
    hint: Promise | str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (value, Chinese msgid: translated when shown)
    max_length: int = 200


UNIT_TYPES = tuple((k, v) for k, v in UNIT_TYPE_NAMES.items())
STATEMENT = Question(
    "statement", _("情况说明"), "textarea", hint=_("至少 10 个字，最多 2000 字。"), max_length=2000
)
QUESTIONS: dict[str, tuple[Question, ...]] = {
    ApplicationKind.KEY_SUPERVISION: (
        Question(
            "statement",
            _("对未履行承诺或不配合核查情况的说明及整改情况"),
            "textarea",
            hint=_("至少 10 个字，最多 2000 字。"),
            max_length=2000,
        ),
        Question("contact_name", _("联系人姓名"), "text", max_length=50),
        Question(
            "contact_phone", _("联系人手机号码"), "text", hint=_("审核人员可能致电核实。"), max_length=20
        ),
    ),
    ApplicationKind.COMMITMENT_FULFILLED: (
        Question("fulfilled_on", _("履行承诺的日期"), "date", hint=_("格式 YYYY-MM-DD，例如 2021-06-30。")),
        Question(
            "fulfilled_what",
            _("履行了什么承诺"),
            "textarea",
            hint=_("例如：已补足约定的岗位数，已配合核查。至少 5 个字。"),
            max_length=500,
        ),
        STATEMENT,
    ),
    ApplicationKind.TYPE_OUTSIDE_SCOPE: (
        Question("unit_type", _("单位的实际类型"), "choice", choices=UNIT_TYPES),
        STATEMENT,
    ),
    ApplicationKind.RELATED_TRANSFERS: (
        Question(
            "related_codes",
            _("关联单位的统一社会信用代码"),
            "codes",
            hint=_("每行一个，最多 20 个。"),
            max_length=2000,
        ),
        Question("persons_transferred", _("转移到关联单位的人数"), "int", hint=_("只填数字。")),
        STATEMENT,
    ),
    ApplicationKind.TYPE_CHANGE_MISSED: (
        Question("new_unit_type", _("变更后的单位类型"), "choice", choices=UNIT_TYPES),
        Question("changed_on", _("变更日期"), "date", hint=_("格式 YYYY-MM-DD，例如 2021-06-30。")),
        STATEMENT,
    ),
    ApplicationKind.BELIEVE_QUALIFY: (STATEMENT,),
    ApplicationKind.WRONG_BANK_DETAILS: (
        Question(
            "bank_code", _("开户银行代码"), "digits", hint=_("3 位数字，例如工商银行 102。"), max_length=3
        ),
        Question(
            "branch_code",
            _("开户行行号"),
            "digits",
            hint=_("12 位数字，前 3 位为开户银行代码。"),
            max_length=12,
        ),
        Question(
            "account_no", _("账号"), "text", hint=_("单位在社保经办机构登记在用的对公账户。"), max_length=40
        ),
        Question("account_name", _("户名"), "text", max_length=140),
        Question("statement", _("补充说明（选填）"), "textarea", required=False, max_length=2000),
    ),
}
# whether a document is needed: "required", "optional" or "none"
DOCUMENTS: dict[str, str] = {
    ApplicationKind.KEY_SUPERVISION: "optional",
    ApplicationKind.COMMITMENT_FULFILLED: "required",
    ApplicationKind.TYPE_OUTSIDE_SCOPE: "required",
    ApplicationKind.RELATED_TRANSFERS: "required",
    ApplicationKind.TYPE_CHANGE_MISSED: "required",
    ApplicationKind.BELIEVE_QUALIFY: "optional",
    ApplicationKind.WRONG_BANK_DETAILS: "none",
}
DOCUMENT_HINTS: dict[str, Promise] = {
    ApplicationKind.KEY_SUPERVISION: _("整改或履行承诺的证明材料（选填）。"),
    ApplicationKind.COMMITMENT_FULFILLED: _("履行承诺的证明材料，例如核查部门出具的说明。"),
    ApplicationKind.TYPE_OUTSIDE_SCOPE: _("登记证书或批准成立文件。"),
    ApplicationKind.RELATED_TRANSFERS: _("人员在关联单位之间转移的证明，例如劳动合同或参保转移记录。"),
    ApplicationKind.TYPE_CHANGE_MISSED: _("变更登记的证明文件。"),
    ApplicationKind.BELIEVE_QUALIFY: _("能说明情况的材料（选填）。"),
}
NEXT_STEPS: dict[str, Promise] = {
    ApplicationKind.WRONG_BANK_DETAILS: _(
        "请同时到社保经办机构更新单位在用账户。我们会把您填写的账户与下一批数据中单位的社保在用账户核对，"
        "只会重新拨付到社保在用账户，不会直接拨付到您填写的账户。"
    ),
}
NEXT_STEP = _(
    "两名工作人员会审核您的申请（双人复核）。审核结果会通过短信和站内消息通知您；准予后，案件会在下一轮比对中继续办理。"
)


class ApplicationInvalid(Exception):
    """The answers of an application form, refused: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, Promise | str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    def texts(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.errors.items()}


@dataclass
class Draft:
    case_id: int
    kind: str
    values: dict[str, str]
    documents: list[dict[str, Any]] = field(default_factory=list)

    def stored(self) -> tuple[StoredDocument, ...]:
        return tuple(StoredDocument(**d) for d in self.documents)


def _visible(text: str) -> str:
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def own_case(unit_ids: tuple[str, ...], case_id: object) -> Case | None:
    """The case ``case_id`` if it belongs to one of the session's units (else None: another unit's case is
    answered as if it did not exist)."""
    try:
        pk = int(str(case_id))
    except (TypeError, ValueError):
        return None
    if not unit_ids or not 0 < pk < 2**63:
        return None
    return Case.objects.filter(pk=pk, unit_id__in=list(unit_ids)).first()


def answers_check(kind: str, raw: Mapping[str, object]) -> dict[str, str]:
    """The answers of ``kind``'s questions, cleaned; :class:`ApplicationInvalid` naming every bad field."""
    if kind not in QUESTIONS:
        raise ApplicationInvalid({"kind": _("请选择申请的情形")})
    errors: dict[str, Promise | str] = {}
    values: dict[str, str] = {}
    for q in QUESTIONS[kind]:
        text = str(raw.get(q.name, "") or "")
        text = text.strip() if q.kind == "textarea" else " ".join(text.split())
        if (
            any(ord(c) < 32 and c not in "\n\r\t" for c in text)
            or "\x00" in text
            or any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        ):
            errors[q.name] = _("含有无法保存的字符")
            continue
        text = _visible(text)
        values[q.name] = text
        if not text:
            if q.required:
                errors[q.name] = _("请填写“%(label)s”") % {"label": q.label}
            continue
        if len(text) > q.max_length:
            errors[q.name] = _("“%(label)s”不能超过 %(max)s 个字") % {"label": q.label, "max": q.max_length}
            continue
        problem = _problem(q, text, values)
        if problem:
            errors[q.name] = problem
    if "related_codes" in values and "related_codes" not in errors and values["related_codes"]:
        values["related_codes"] = "\n".join(_codes(values["related_codes"]))
    if errors:
        raise ApplicationInvalid(errors)
    return values


def _codes(text: str) -> list[str]:
    return [
        c for c in (unicodedata.normalize("NFKC", line).strip().upper() for line in text.splitlines()) if c
    ]


def _problem(q: Question, text: str, values: dict[str, str]) -> Promise | str | None:
    if q.name == "statement" and q.required and len(text) < 10:
        return _("请说明情况，至少 10 个字")
    if q.name == "fulfilled_what" and len(text) < 5:
        return _("请说明履行了什么承诺，至少 5 个字")
    if q.kind == "date":
        day = _date(text)
        if day is None:
            return _("请按 YYYY-MM-DD 填写真实存在的日期，例如 2021-06-30")
        if day > timezone.localdate():
            return _("日期不能晚于今天")
        if day.year < 1990:
            return _("日期不能早于 1990 年")
        values[q.name] = day.isoformat()
    elif q.kind == "int":
        digits = unicodedata.normalize("NFKC", text)
        if not (digits.isascii() and digits.isdigit()):
            return _("请只填数字，例如 12")
        if not 1 <= int(digits) <= 100_000:
            return _("人数须在 1 到 100000 之间")
        values[q.name] = str(int(digits))
    elif q.kind == "choice":
        if text not in dict(q.choices):
            return _("请从列表中选择")
    elif q.kind == "codes":
        codes = _codes(text)
        if not codes or len(codes) > 20:
            return _("请填写 1 到 20 个统一社会信用代码，每行一个")
        for code in codes:
            if not USCC.match(code) or uscc_check_char(code[:17]) != code[17]:
                return _("“%(code)s”不是有效的统一社会信用代码（18 位，含校验位）") % {"code": code[:20]}
    elif q.kind == "digits":
        digits = unicodedata.normalize("NFKC", text).replace(" ", "")
        size = 3 if q.name == "bank_code" else 12
        if not (digits.isascii() and digits.isdigit() and len(digits) == size):
            return _("请填写 %(size)s 位数字") % {"size": size}
        if q.name == "branch_code" and values.get("bank_code") and not digits.startswith(values["bank_code"]):
            return _("开户行行号的前 3 位须与开户银行代码一致")
        values[q.name] = digits
    elif q.name == "account_no":
        number = re.sub(r"[\s\-]+", "", unicodedata.normalize("NFKC", text)).upper()
        if not (number.isascii() and number.isalnum() and 6 <= len(number) <= 34):
            return _("请填写 6 到 34 位的账号（数字或字母）")
        values[q.name] = number
    elif q.name == "contact_phone":
        phone = text.replace("-", "").replace(" ", "").removeprefix("+86")
        if not PHONE.match(phone):
            return _("请输入 11 位手机号码，例如 13812345678")
        values[q.name] = phone
    return None


def documents_check(
    kind: str, files: list[tuple[str, bytes]], kept: int = 0, *, store: bool = True
) -> tuple[StoredDocument, ...]:
    """Check the files given (type by content, size) and, with ``store``, store them; :class:`ApplicationInvalid`
    on the ``documents`` field when one is refused, too many are given, or a needed one is missing (``kept``:
    already stored in the draft)."""
    need = DOCUMENTS.get(kind, "none")
    files = [(n, d) for n, d in files if d or n]
    if need == "none" and files:
        raise ApplicationInvalid({"documents": _("这种情形不需要上传材料")})
    if len(files) + kept > MAX_FILES:
        raise ApplicationInvalid({"documents": _("最多上传 %(max)s 个文件") % {"max": MAX_FILES}})
    if need == "required" and not files and not kept:
        raise ApplicationInvalid({"documents": _("请上传证明材料（PDF、JPEG 或 PNG）")})
    try:
        for name, data in files:
            document_check(name, data)  # every file checked before any is written
        return tuple(document_store(name, data) for name, data in files) if store else ()
    except DocumentRefused as exc:
        raise ApplicationInvalid({"documents": exc.text()}) from None


def draft_make(
    unit_ids: tuple[str, ...], case_id: object, kind: str, raw: Mapping[str, object], files: list[tuple[str, bytes]],
    kept: list[dict[str, Any]] | None = None,
) -> Draft:  # fmt: skip
    """Check a question page's answers (all fields, then the documents) into a draft for the check page."""
    case = own_case(unit_ids, case_id)
    if case is None:
        raise ApplicationInvalid({"case": _("没有找到您单位的这个案件")})
    offer = next((o for o in application_offers(case) if o.kind == kind), None)
    if offer is None:
        raise ApplicationInvalid({"kind": _("请选择申请的情形")})
    if not offer.available:
        raise ApplicationInvalid({"kind": offer.why_not})
    errors: dict[str, Promise | str] = {}
    values: dict[str, str] = {}
    try:
        values = answers_check(kind, raw)
    except ApplicationInvalid as exc:
        errors.update(exc.errors)
    kept = list(kept or [])
    try:  # stored only when every answer is right (else nothing is written: the files are chosen again)
        stored = documents_check(kind, files, kept=len(kept), store=not errors)
    except ApplicationInvalid as exc:
        errors.update(exc.errors)
        stored = ()
    if errors:
        raise ApplicationInvalid(errors)
    return Draft(case.pk, kind, values, kept + [asdict(d) for d in stored])


def actor_of(case: Case) -> str:
    """Who an application filed by a unit's own session is recorded as: the unit itself."""
    return f"单位 {case.unit_id} portal"


def application_file(unit_ids: tuple[str, ...], draft: Draft) -> Application:
    """File the draft: the case looked up among the session's units again, the answers checked again, then
    ``cases.services.application_submit`` with a fresh ``A-`` reference (drawn again on a clash)."""
    case = own_case(unit_ids, draft.case_id)
    if case is None:
        raise ApplicationInvalid({"case": _("没有找到您单位的这个案件")})
    values = answers_check(draft.kind, draft.values)
    statement = values.get("statement", "")
    evidence = {k: v for k, v in values.items() if k != "statement"}
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return application_submit(
                    case_id=case.pk, kind=draft.kind, statement=statement, evidence=evidence,
                    actor=actor_of(case), reference=new_reference("A"), documents=draft.stored(),
                )  # fmt: skip
        except IntegrityError:  # a reference drawn twice (50 random bits): draw again
            continue
        except CaseError as exc:
            raise ApplicationInvalid({"kind": exc.text()}) from None
    raise ApplicationInvalid({"kind": _("未能生成申请编号，请重试")})


# ---- what a session sees -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentView:
    id: int
    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ApplicationView:
    reference: str
    kind: str
    kind_label: str
    submitted_at: Any
    outcome: str
    outcome_label: str
    decided_at: Any
    decision_reason: str
    answers: list[tuple[str, str]]
    documents: list[DocumentView]


@dataclass(frozen=True)
class CaseApplications:
    case_id: int
    number: str
    unit_name: str
    masked_credit_code: str
    state: str
    state_label: str
    key_supervision: bool
    offers: list[Offer]
    applications: list[ApplicationView]


OUTCOME_LABELS = {"": _("办理中"), "granted": _("准予"), "refused": _("不予准许")}


def answer_rows(kind: str, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of each answered question, in the form's order; a choice shown by its name."""
    rows = []
    for q in QUESTIONS.get(kind, ()):
        value = str(values.get(q.name, "") or "")
        if q.kind == "choice":
            value = marked(dict(q.choices).get(value, value))
        if value:
            rows.append((str(q.label), value))
    return rows


def session_applications(unit_ids: tuple[str, ...]) -> list[CaseApplications]:
    """The session's units' cases (newest first), each with the situations offered and its applications."""
    out = []
    for case in Case.objects.filter(unit_id__in=list(unit_ids)).order_by("-pk") if unit_ids else []:
        apps = []
        for a in Application.objects.filter(case=case).prefetch_related("documents").order_by("-pk"):
            answers = answer_rows(a.kind, {**(a.evidence if isinstance(a.evidence, dict) else {}),
                                           "statement": a.statement})  # fmt: skip
            apps.append(
                ApplicationView(
                    a.reference or f"#{a.pk}", a.kind, str(ApplicationKind(a.kind).label), a.submitted_at,
                    a.outcome, str(OUTCOME_LABELS.get(a.outcome, a.outcome)), a.decided_at,
                    a.decision_reason if a.outcome else "", answers,
                    [DocumentView(d.pk, d.name, d.content_type, d.size) for d in a.documents.order_by("pk")],
                )
            )  # fmt: skip
        out.append(
            CaseApplications(
                case.pk, case.number, case.unit_name, mask_credit_code(case.credit_code), case.state,
                str(STATE_LABELS[State(case.state)]), case.key_supervision, application_offers(case), apps,
            )
        )  # fmt: skip
    return out
