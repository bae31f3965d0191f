"""The JSON API (django-ninja; OpenAPI 3 at /api/openapi.json, docs at /api/docs), on the same selectors and
services as the pages (contracts §4). Bad input answers 422 with ``detail`` (a list of problems, each with its
field and message); an unknown or unverified objection reference answers 404 the same way."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token, rotate_token
from django.utils.translation import get_language
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.utils import check_csrf

from . import lookup, selectors, services
from .codes import normalise_reference
from .districts import district_name
from .selectors import SearchError
from .services import CodeCheck, PortalError

api = NinjaAPI(
    title="mianshen public API",
    version="1",
    description="失业保险稳岗返还（免申即享）公开接口 / public interface of the job-stabilisation refund",
    urls_namespace="api",
)
VERIFIED = "portal_objection_refs"


class Problem(Schema):
    field: str
    message: str


class Error(Schema):
    detail: list[Problem]


class Notice(Schema):
    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    open: bool


class Line(Schema):
    entry_id: int
    notice_id: int
    unit_name: str
    masked_credit_code: str
    district: str
    district_name: str
    amount_fen: int
    amount_yuan: str


class PublicityOut(Schema):
    page: int
    page_size: int
    has_next: bool
    total: int
    total_capped: bool
    notices: list[Notice]
    items: list[Line]


def _fail(status: int, field: str, message: str) -> HttpError:
    error = HttpError(status, message)
    error.field = field  # type: ignore[attr-defined]
    return error


CSRF_HELP = (
    "CSRF token missing or incorrect: send the value of the csrftoken cookie (set when the session was opened) "
    "in the X-CSRFToken header"
)


def session_csrf(request: HttpRequest) -> None:
    """Refuse (403) an unsafe call that acts through the session (a rating, an application) without Django's
    CSRF token (contracts §4: "with CSRF on unsafe methods"); the session endpoints hand the token out as the
    ``csrftoken`` cookie."""
    if check_csrf(request) is not None:
        raise _fail(403, "csrf", CSRF_HELP)


def session_opened(request: HttpRequest) -> None:
    """A session was just opened with a code: a fresh CSRF token for it (the ``csrftoken`` cookie)."""
    rotate_token(request)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> object:
    field = getattr(exc, "field", "")
    return api.create_response(
        request, {"detail": [{"field": field, "message": str(exc)}]}, status=exc.status_code
    )


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> object:
    """Input the schema refuses (a missing field, a wrong type, JSON that is not JSON): the same shape as the
    services' refusals, one problem per field."""
    problems = [
        {
            "field": ".".join(
                str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "payload")
            ),
            "message": str(error.get("msg", "invalid")),
        }
        for error in exc.errors
    ]
    return api.create_response(
        request, {"detail": problems or [{"field": "", "message": "invalid"}]}, status=422
    )


@api.get("/publicity", response={200: PublicityOut, 422: Error}, summary="The open notices' lines (公示名单)")
def publicity(request: HttpRequest, q: str = "", district: str = "", page: str = "1") -> object:
    try:
        found = selectors.publicity_page(q=q, district=district, page=page)
    except SearchError as exc:
        raise _fail(422, exc.field, str(exc)) from None
    return {
        "page": found.page,
        "page_size": found.page_size,
        "has_next": found.has_next,
        "total": found.total,
        "total_capped": found.total_capped,
        "notices": [
            {"id": n.pk, "title": n.title, "starts_at": n.starts_at, "ends_at": n.ends_at, "open": True}
            for n in found.open_notices
        ],
        "items": [
            {
                "entry_id": r.id,
                "notice_id": r.notice_id,
                "unit_name": r.unit_name,
                "masked_credit_code": r.masked_credit_code,
                "district": r.district,
                "district_name": district_name(r.district),
                "amount_fen": r.amount_fen,
                "amount_yuan": r.amount_yuan,
            }
            for r in found.rows
        ],
    }


class ObjectionIn(Schema):
    entry_id: int
    grounds: str
    phone: str
    name: str = ""


class ObjectionCreated(Schema):
    reference: str


@api.post(
    "/objections",
    response={201: ObjectionCreated, 400: Error, 422: Error},
    summary="Raise an objection (提出异议)",
)
def objection_create(request: HttpRequest, payload: ObjectionIn) -> Status[Any]:
    try:
        draft = services.objection_check(
            entry_id=payload.entry_id, grounds=payload.grounds, name=payload.name, phone=payload.phone
        )
        receipt = services.objection_submit(draft)
    except PortalError as exc:
        raise _fail(422, exc.field, exc.text()) from None
    return Status(201, {"reference": receipt.reference})


class ObjectionOut(Schema):
    reference: str
    unit_name: str
    masked_credit_code: str
    recorded_at: datetime
    outcome: str
    decided_at: datetime | None
    decision_reason: str


class CodeIn(Schema):
    code: str


class Accepted(Schema):
    message: str


@api.post(
    "/objections/{ref}/code",
    response={202: Accepted, 429: Error},
    summary="Send a status code to the phone the objector gave (the same answer for every reference)",
)
def objection_code(request: HttpRequest, ref: str) -> Status[Any]:
    if not services.address_allowed(services.client_address(request), "objection_status"):
        raise _fail(429, "", "too many requests from this address; try again in an hour")
    services.status_code_request(ref)
    return Status(202, {"message": "if the reference is right, a code was sent to the phone given"})


@api.post(
    "/objections/{ref}/session",
    response={204: None, 400: Error, 422: Error},
    summary="Open the objection's status in this session with the code sent",
)
def objection_session(request: HttpRequest, ref: str, payload: CodeIn) -> Status[Any]:
    result = services.status_code_check(ref, payload.code)
    if result != CodeCheck.OK:
        raise _fail(
            422,
            "code",
            result.api_message,
        )
    verified = request.session.get(VERIFIED, [])
    request.session[VERIFIED] = [*verified[-9:], normalise_reference(ref)]
    session_opened(request)
    return Status(204, None)


@api.get(
    "/objections/{ref}",
    response={200: ObjectionOut, 404: Error},
    summary="An objection's outcome (the session must have verified its code)",
)
def objection_get(request: HttpRequest, ref: str) -> object:
    reference = normalise_reference(ref)
    status = services.objection_status(reference) if reference in request.session.get(VERIFIED, []) else None
    if status is None:
        raise _fail(404, "ref", "no objection with this reference is open in this session")
    return status.__dict__


# ---- progress lookup (contracts §4) ---------------------------------------------------------------------------


class LookupCodeIn(Schema):
    credit_code: str


class LookupSessionIn(Schema):
    credit_code: str
    code: str


class StepOut(Schema):
    key: str
    label: str
    done: bool
    current: bool
    at: datetime | None


class InboxOut(Schema):
    at: datetime
    kind: str
    body: str


class CaseOut(Schema):
    number: str
    policy_id: str
    unit_name: str
    masked_credit_code: str
    state: str
    state_label: str
    decision: str
    amount_fen: int
    amount_yuan: str
    explanation: str
    steps: list[StepOut]
    payment_state: str
    account_last4: str
    paid_on: str
    failure: str
    next_step: str
    inbox: list[InboxOut]


class CasesOut(Schema):
    cases: list[CaseOut]


LOOKUP_ACCEPTED = "if the credit code has a phone on file, a code was sent to it; update a missing or old contact at the social insurance office, or ask for a call-back at /callback/"


@api.post(
    "/lookup/code",
    response={202: Accepted, 400: Error, 422: Error, 429: Error},
    summary="Send a lookup code to the phone(s) on file (the same answer for every credit code)",
)
def lookup_code(request: HttpRequest, payload: LookupCodeIn) -> Status[Any]:
    if not lookup.normalise_credit_code(payload.credit_code):
        raise _fail(422, "credit_code", "a credit code has 18 digits and capital letters")
    if not services.address_allowed(services.client_address(request), "lookup"):
        raise _fail(429, "", "too many requests from this address; try again in an hour")
    lookup.lookup_code_request(payload.credit_code)
    return Status(202, {"message": LOOKUP_ACCEPTED})


@api.post(
    "/lookup/session",
    response={204: None, 400: Error, 422: Error},
    summary="Sign in with the code sent: the session sees the units whose phone received it (30 minutes)",
)
def lookup_session(request: HttpRequest, payload: LookupSessionIn) -> Status[Any]:
    signin = lookup.lookup_code_check(payload.credit_code, payload.code)
    if signin.result != CodeCheck.OK:
        raise _fail(
            422,
            "code",
            signin.result.api_message,
        )
    lookup.session_open(request.session, signin.unit_ids)
    session_opened(request)
    return Status(204, None)


@api.get(
    "/case",
    response={200: CasesOut, 401: Error},
    summary="The signed-in unit's own case(s), and nothing else",
)
def case_own(request: HttpRequest) -> object:
    units = lookup.session_units(request.session)
    if not units:
        raise _fail(401, "", "sign in through /api/lookup/session first (the session lasts 30 minutes)")
    return {"cases": [c.__dict__ for c in lookup.lookup_cases(units, get_language() or "zh-hans")]}


# ---- applications (contracts §4: the signed-in unit's, session + CSRF) ----------------------------------------


class OfferOut(Schema):
    kind: str
    label: str
    available: bool
    why_not: str


class DocumentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int


class ApplicationOut(Schema):
    reference: str
    kind: str
    kind_label: str
    submitted_at: datetime
    outcome: str
    outcome_label: str
    decided_at: datetime | None
    decision_reason: str
    documents: list[DocumentOut]


class CaseApplicationsOut(Schema):
    number: str
    unit_name: str
    masked_credit_code: str
    state: str
    state_label: str
    key_supervision: bool
    offers: list[OfferOut]
    applications: list[ApplicationOut]


class ApplicationsOut(Schema):
    cases: list[CaseApplicationsOut]


class UploadIn(Schema):
    name: str
    content_base64: str


class ApplicationIn(Schema):
    case_number: str
    kind: str
    answers: dict[str, str] = {}
    documents: list[UploadIn] = []


class ApplicationCreated(Schema):
    reference: str


SIGN_IN_FIRST = "sign in through /api/lookup/session first (the session lasts 30 minutes)"


@api.get(
    "/applications",
    response={200: ApplicationsOut, 401: Error},
    summary="The signed-in unit's cases: the situations it may apply for now (and why not), its applications",
)
def applications_list(request: HttpRequest) -> object:
    from . import applications

    units = lookup.session_units(request.session)
    if not units:
        raise _fail(401, "", SIGN_IN_FIRST)
    get_token(request)  # the CSRF cookie for the POST
    return {
        "cases": [
            {**{k: v for k, v in c.__dict__.items() if k not in {"offers", "applications", "case_id"}},
             "offers": [o.__dict__ for o in c.offers],
             "applications": [{**a.__dict__, "documents": [d.__dict__ for d in a.documents]}
                              for a in c.applications]}
            for c in applications.session_applications(units)
        ]
    }  # fmt: skip


@api.post(
    "/applications",
    response={201: ApplicationCreated, 400: Error, 401: Error, 403: Error, 422: Error},
    summary="Apply (主动申请) for one of the signed-in unit's cases: the same checks and service as /apply/",
)
def applications_create(request: HttpRequest, payload: ApplicationIn) -> Status[Any]:
    from . import applications

    units = lookup.session_units(request.session)
    if not units:
        raise _fail(401, "", SIGN_IN_FIRST)
    session_csrf(request)
    case = next(
        (c for c in applications.session_applications(units) if c.number == payload.case_number), None
    )
    if case is None:
        raise _fail(422, "case_number", "no case with this number is open in this session")
    files: list[tuple[str, bytes]] = []
    for i, doc in enumerate(payload.documents[: applications.MAX_FILES + 1]):
        try:
            files.append((doc.name, base64.b64decode(doc.content_base64, validate=True)))
        except (binascii.Error, ValueError):
            raise _fail(422, f"documents.{i}", "not base64") from None
    try:
        draft = applications.draft_make(units, case.case_id, payload.kind, payload.answers, files)
        app = applications.application_file(units, draft)
    except applications.ApplicationInvalid as exc:
        field, message = next(iter(exc.texts().items()))
        raise _fail(422, field, message) from None
    return Status(201, {"reference": app.reference})


# 呼我必回 (its own module, so that the API can grow in parallel): /api/callbacks
from .callback_api import router as _callback_router  # noqa: E402

api.add_router("/callbacks", _callback_router)
