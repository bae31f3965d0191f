"""Progress lookup (contracts §4, /lookup/): a credit code → a 6-digit code to each distinct phone on file → a
session that sees the units whose phone received the code used, and nothing else.

- ``lookup_code_request``: the request's half, the same for every credit code (known, unknown, no phone): one
  ``LookupRequest`` row and one ``portal.codes`` job, nothing else.
- ``lookup_codes_send``: the job's half: the units of the newest snapshot with that credit code, one code per
  distinct phone (``LookupCode``), queued as ``otp`` SMS in the notify outbox (its per-phone limits apply).
- ``lookup_code_check``: a typed code, 10 minutes, once, 5 tries (counted on the request, so the answers do not
  tell a known credit code from an unknown one); a success records the sign-in as an enquiry (once per unit and
  Beijing day, ``notify.enquiries``).
- ``lookup_cases``: what a signed-in session may see — the cases of its units only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.cases.models import STATE_LABELS, Case, CaseHistory, NoticeEntry
from mianshen.cases.services import mask_credit_code
from mianshen.cases.states import State
from mianshen.core.jobs import job_enqueue
from mianshen.core.money import format_yuan
from mianshen.notify.enquiries import enquiry_lookup_record
from mianshen.notify.models import Channel, Message
from mianshen.notify.selectors import inbox
from mianshen.notify.services import NotifyError
from mianshen.payments.models import Instruction, Payment
from mianshen.policy.families import words_of
from mianshen.policy.parameters import policies
from mianshen.registry.models import Snapshot, Unit
from mianshen.reports.unit_facts import payment_facts as _payment
from mianshen.reports.unit_facts import public_explanation as _explanation

from .codes import code_hash, code_sender, new_code
from .models import LookupCode, LookupRequest
from .selectors import amount_label
from .services import CODE_LIFETIME, CODE_TRIES, CodeCheck
from .view_cache import ViewCache

ACTOR = "公众 portal"
SESSION_KEY = "portal_lookup"
SESSION_LIFETIME = timedelta(minutes=30)


def normalise_credit_code(text: object) -> str:
    """A credit code as typed (any case, spaces, hyphens) in its stored form; "" if it cannot be one."""
    raw = "".join(str(text or "").split()).replace("-", "").upper()
    return raw if len(raw) == 18 and raw.isalnum() else ""


def lookup_code_request(credit_code: str, now: datetime | None = None) -> None:
    """The same writes for every credit code: a request row and a job that sends the codes after commit."""
    now = now or timezone.now()
    with transaction.atomic():
        row = LookupRequest.objects.create(
            credit_code=normalise_credit_code(credit_code) or "-",
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
        job_enqueue(kind="portal.codes", key=f"portal.codes:lookup:{row.pk}", params={"lookup": row.pk},
                    actor=ACTOR)  # fmt: skip


def lookup_codes_send(request_id: int) -> int:
    """One code to each distinct phone on file for the request's credit code (the newest snapshot's units);
    idempotent (a request's codes are made once). Returns how many went out."""
    with transaction.atomic():
        req = LookupRequest.objects.select_for_update().filter(pk=request_id).first()
        if req is None or req.credit_code == "-" or req.codes.exists():
            return 0
        phones: dict[str, list[str]] = {}
        for unit_id, phone in units_on_file(req.credit_code):
            phones.setdefault(phone, []).append(unit_id)
        sent = 0
        for phone, unit_ids in sorted(phones.items()):
            code = new_code()
            try:
                went = code_sender().send(
                    phone=phone, code=code, key=f"{req.pk}:{phone}", purpose="lookup", unit_id=unit_ids[0]
                )
            except NotifyError:  # a phone on file that is not a mobile number: no code to it
                went = False
            LookupCode.objects.create(
                request=req,
                phone=phone,
                unit_ids=unit_ids,
                code_hash=code_hash(f"L{req.pk}", code),
                sent=went,
            )
            sent += went
        return sent


def units_on_file(credit_code: str) -> list[tuple[str, str]]:
    """(unit id, phone) of the units with ``credit_code`` in the newest snapshot that lists any (a drop is a full
    extract; a later partial import — accounts only — does not hide the units), those with a phone only. Snapshots
    are few; each is looked up through its (snapshot, credit code) index."""
    for snapshot_id in Snapshot.objects.order_by("-pk").values_list("pk", flat=True):
        rows = list(
            Unit.objects.filter(snapshot_id=snapshot_id, credit_code=credit_code)
            .order_by("unit_id")
            .values_list("unit_id", "phone")
        )
        if rows:
            return [(u, "".join(str(p).split())) for u, p in rows if p and str(p).strip()]
    return []


@dataclass(frozen=True)
class SignIn:
    result: CodeCheck
    unit_ids: tuple[str, ...] = ()


def lookup_code_check(credit_code: str, code: str, now: datetime | None = None) -> SignIn:
    """Check a typed code against the newest request for ``credit_code``: 10 minutes, used once, 5 tries. On
    success the units whose phone received that code, each sign-in recorded as an enquiry."""
    now = now or timezone.now()
    cc = normalise_credit_code(credit_code) or "-"
    code = "".join(str(code or "").split())
    with transaction.atomic():
        asked = LookupRequest.objects.select_for_update().filter(credit_code=cc).order_by("-id")
        # the newest request whose code went out (a request within a phone's limit sends nothing: the code of
        # the one before still works), else the newest; the same two queries for every credit code
        req = asked.filter(codes__sent=True).first() or asked.first()
        if req is None or req.used_at is not None:
            return SignIn(CodeCheck.EXPIRED)
        if req.tries >= CODE_TRIES:
            return SignIn(CodeCheck.TOO_MANY)
        if req.expires_at <= now:
            return SignIn(CodeCheck.EXPIRED)
        LookupRequest.objects.filter(pk=req.pk).update(tries=F("tries") + 1)
        typed = code_hash(f"L{req.pk}", code) if len(code) == 6 and code.isdigit() else ""
        match = next((c for c in req.codes.filter(sent=True) if typed and c.code_hash == typed), None)
        if match is None:
            return SignIn(CodeCheck.TOO_MANY if req.tries + 1 >= CODE_TRIES else CodeCheck.WRONG)
        LookupRequest.objects.filter(pk=req.pk).update(used_at=now)
        for unit_id in match.unit_ids:
            enquiry_lookup_record(unit_id=unit_id, actor=ACTOR, now=now)
        return SignIn(CodeCheck.OK, tuple(match.unit_ids))


def session_open(session: Any, unit_ids: tuple[str, ...], now: datetime | None = None) -> None:
    now = now or timezone.now()
    session.cycle_key()  # a new session id at sign-in
    session[SESSION_KEY] = {"units": list(unit_ids), "until": (now + SESSION_LIFETIME).isoformat()}


def session_units(session: Any, now: datetime | None = None) -> tuple[str, ...]:
    """The units a session may see (empty: not signed in, or past its 30 minutes)."""
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return ()
    try:
        until = datetime.fromisoformat(str(data.get("until", "")))
    except ValueError:
        return ()
    if until <= (now or timezone.now()):
        session.pop(SESSION_KEY, None)
        return ()
    return tuple(str(u) for u in data.get("units", []))


def session_close(session: Any) -> None:
    session.pop(SESSION_KEY, None)


# ---- the unit's own case -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    current: bool
    at: datetime | None = None


@dataclass
class CaseView:
    case_id: int
    number: str
    policy_id: str
    unit_id: str
    unit_name: str
    masked_credit_code: str
    state: str
    state_label: str
    decision: str
    amount_fen: int
    amount_yuan: str
    explanation: str
    steps: list[Step]
    payment_state: str
    payment_label: str
    account_last4: str
    paid_on: str
    failure: str
    next_step: str
    inbox: list[dict[str, Any]] = field(default_factory=list)

    @property
    def amount_label(self) -> str:
        """Its amount's label in the active language: 返还金额（元） for the refund, 补助金额（元） for a subsidy."""
        return amount_label([self.policy_id])


NEXT_STEPS = {
    State.IDENTIFIED: _("无需申请：系统正在比对数据，结果出来后会短信通知您。"),
    State.AWAITING_CONFIRMATION: _("等待用工单位确认派遣人员，确认后继续办理。"),
    State.AWAITING_APPLICATION: _("您的单位需要提交申请后才能继续办理，请登录后在“申请”中提交。"),
    State.UNDER_REVIEW: _("工作人员正在人工审核，无需您操作。"),
    State.RECHECKED: _("已复核，等待列入公示名单。"),
    State.PUBLICISED: _("正在公示，公示期结束后无异议即核准拨付。"),
    State.OBJECTED: _("公示期间收到异议，正在核查，结果会通知您。"),
    State.APPROVED: _("已核准，等待拨付到单位社保在用账户。"),
    State.EXCLUDED: _("本次不予%(grant)s，理由见下方说明；如有疑问可申请呼我必回。"),
    State.RELEASED: _("已交银行拨付，通常几个工作日内到账。"),
    State.PAID: _("已拨付到账，无需再做任何事。"),
    State.AWAITING_CORRECTION: _("拨付未成功：请到社保经办机构更新单位银行账户，更新后将重新拨付。"),
    State.PAYMENT_CANCELLED: _("拨付已撤销，如有疑问可申请呼我必回。"),
}
PAYMENT_LABELS = {
    "waiting": _("等待拨付"),
    "in_progress": _("拨付中"),
    "paid": _("已到账"),
    "failed": _("拨付未成功"),
    "cancelled": _("已撤销"),
}


def _steps(case: Case, listed_on: datetime | None) -> list[Step]:
    """The timeline of a case; ``listed_on``: the start of the first notice it was on (None: never listed)."""
    history = list(case.history.order_by("pk").values_list("to_state", "at"))
    reached: dict[str, datetime] = {}
    for to_state, at in history:
        reached.setdefault(to_state, at)
    failed = case.state in (State.EXCLUDED, State.AWAITING_CORRECTION, State.PAYMENT_CANCELLED)
    plan: list[tuple[str, str, datetime | None, bool]] = [
        ("identified", str(_("已识别")), reached.get(State.IDENTIFIED) or case.opened_at, True),
        ("compared", str(_("数据比对")), None, case.last_round_id is not None),
        ("listed", str(_("列入公示")), listed_on or reached.get(State.PUBLICISED),
         listed_on is not None or State.PUBLICISED in reached),
        ("approved", str(_("已核准")), reached.get(State.APPROVED), State.APPROVED in reached),
        ("paid", str(_("已拨付")), reached.get(State.PAID), case.state == State.PAID),
    ]  # fmt: skip
    done = [p[3] for p in plan]
    for i in range(len(done) - 2, -1, -1):  # a step reached means every step before it was passed
        done[i] = done[i] or done[i + 1]
    steps: list[Step] = []
    current_given = False
    for (key, label, when, _reached), passed in zip(plan, done, strict=True):
        current = not passed and not current_given
        current_given = current_given or current
        steps.append(Step(key, label, passed, current and not failed, when))
    if failed:
        steps.append(
            Step("failed", str(STATE_LABELS[State(case.state)]), True, True, reached.get(case.state))
        )
    return steps


# The views are kept per process (``view_cache``) under a key holding every fact a view is built from, read by
# one query a request (``_freshness``): a case's row (state, version, round, decision, amount, name, code), its
# newest history line, its first notice line, its payment (current instruction, cancellation) and that
# instruction's status, booking, return and account, and the unit's newest inbox message. Whatever moves, the
# key moves with it: a cached view is never stale. At Beijing's size this is what lets one web server answer
# 200 lookups a second (bench/portal_load.py): building a view costs five ORM queries and ~6 ms of CPU.
_CASE_VIEWS: ViewCache[CaseView] = ViewCache(int(settings.PORTAL_VIEW_CACHE))


def _freshness_sql(n_policies: int, n_units: int) -> str:
    case, history, entry = Case._meta.db_table, CaseHistory._meta.db_table, NoticeEntry._meta.db_table
    payment, instruction, message = Payment._meta.db_table, Instruction._meta.db_table, Message._meta.db_table
    policies_in = ", ".join(["%s"] * n_policies)
    units_in = ", ".join(["%s"] * n_units)
    return f"""
SELECT c.id, c.version, c.state, c.last_round_id, c.decision, c.amount_fen, c.unit_name, c.credit_code,
       c.updated_at,
       (SELECT MAX(h.id) FROM {history} h WHERE h.case_id = c.id),
       (SELECT MIN(e.id) FROM {entry} e WHERE e.case_id = c.id),
       p.id, p.current_id, p.cancelled_at,
       i.id, i.status, i.booked_on, i.return_reason, i.reject_codes, i.creditor_account,
       (SELECT MAX(m.id) FROM {message} m WHERE m."to" = c.unit_id AND m.channel = %s)
FROM {case} c
LEFT JOIN {payment} p ON p.case_id = c.id
LEFT JOIN {instruction} i ON i.id = COALESCE(
    p.current_id,
    (SELECT a.id FROM {instruction} a WHERE a.payment_id = p.id ORDER BY a.attempt DESC LIMIT 1))
WHERE c.policy_id IN ({policies_in}) AND c.unit_id IN ({units_in})
ORDER BY c.id DESC"""


def _freshness(unit_ids: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """One row per case of the units, newest first: the case id, then every fact its view is built from."""
    known = sorted(policies())
    with connection.cursor() as cursor:
        cursor.execute(
            _freshness_sql(len(known), len(unit_ids)), [Channel.INBOX.value, *known, *sorted(unit_ids)]
        )
        return [tuple(row) for row in cursor.fetchall()]


def lookup_cases(unit_ids: tuple[str, ...], lang: str) -> list[CaseView]:
    """The cases of the session's units (and only those), newest first: each view from the per-process cache
    when nothing it shows has changed since it was built, else built (one query for the cases to build)."""
    if not unit_ids:
        return []
    lang_short = "en" if lang.startswith("en") else "zh"
    keys = [(lang_short, row) for row in _freshness(unit_ids)]
    views = {key: _CASE_VIEWS.get(key) for key in keys}
    missing = {key[1][0]: key for key, view in views.items() if view is None}
    if missing:
        for view in build_case_views(tuple(missing), lang_short):
            views[missing[view.case_id]] = view
            _CASE_VIEWS.put(missing[view.case_id], view)
    # a case that appeared between the two queries is shown on the next request; one that went is not shown
    return [view for view in (views[key] for key in keys) if view is not None]


def build_case_views(case_ids: tuple[int, ...], lang_short: str) -> list[CaseView]:
    """The views of these cases, built from the database (no cache), newest first."""
    views: list[CaseView] = []
    # the case's round, payment and first notice come along in the same query (fewer round trips a request)
    first_notice = (
        NoticeEntry.objects.filter(case=OuterRef("pk")).order_by("pk").values("notice__starts_at")[:1]
    )
    read = (
        Case.objects.filter(pk__in=case_ids)
        .select_related("last_round", "payment__current")
        .annotate(listed_on=Subquery(first_notice))
    )
    for case in read.order_by("-pk"):
        state, last4, paid_on, failure = _payment(case, lang_short)
        messages = [
            {"at": m.created_at, "kind": m.kind, "body": m.body_en if lang_short == "en" else m.body_zh}
            for m in inbox(unit_id=case.unit_id)[:20]
        ]
        views.append(
            CaseView(
                case_id=case.pk,
                number=case.number,
                policy_id=case.policy_id,
                unit_id=case.unit_id,
                unit_name=case.unit_name,
                masked_credit_code=mask_credit_code(case.credit_code),
                state=case.state,
                state_label=str(STATE_LABELS[State(case.state)]),
                decision=case.decision,
                amount_fen=case.amount_fen,
                amount_yuan=format_yuan(case.amount_fen),
                explanation=_explanation(case, lang_short),
                steps=_steps(case, case.listed_on),  # annotated by the query above
                payment_state=state,
                payment_label=str(PAYMENT_LABELS.get(state, "")),
                account_last4=last4,
                paid_on=paid_on,
                failure=failure,
                next_step=str(NEXT_STEPS[State(case.state)]) % words_of(case.policy_id).params(lang_short),
                inbox=messages,
            )
        )
    return views


def lookup_example() -> tuple[str, str, str] | None:
    """A unit the demo can show on /lookup/: (credit code, name, state label) of a paid case (else any case) whose
    unit has a phone on file; None when there is none."""
    for states in ([State.PAID], [s.value for s in State]):
        for case in Case.objects.filter(state__in=states).order_by("pk")[:200]:
            if any(unit_id == case.unit_id for unit_id, _phone in units_on_file(case.credit_code)):
                return case.credit_code, case.unit_name, str(STATE_LABELS[State(case.state)])
    return None
