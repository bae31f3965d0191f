"""The call-back part of the JSON API (contracts §4): ``POST /api/callbacks`` (a request: the reference and the
promised time), ``POST /api/callbacks/{ref}/code`` and ``/session`` (the portal's one-time code to the phone
given), ``GET /api/callbacks/{ref}`` (progress, once the session verified its code) and
``POST /api/callbacks/{ref}/rating`` (1–5). Registered on ``api`` by ``api.py``; the same services as the pages
(``notify.callbacks``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from mianshen.notify.callbacks import (
    CallbackDraft,
    CallbackError,
    callback_by_reference,
    callback_check,
    callback_rate,
    callback_request,
)

from . import services
from .api import Accepted, CodeIn, Error, _fail, session_csrf, session_opened
from .codes import normalise_reference
from .services import CodeCheck

router = Router(tags=["callbacks"])
VERIFIED = "portal_callback_refs"  # the same session key as the status page


class CallbackIn(Schema):
    name: str
    phone: str
    topic: str
    question: str
    credit_code: str = ""
    district: str = ""


class CallbackCreated(Schema):
    reference: str
    due_at: datetime


class CallbackOut(Schema):
    reference: str
    topic: str
    state: str
    district: str
    created_at: datetime
    due_at: datetime
    called_at: datetime | None
    outcome: str
    rating: int | None


class RatingIn(Schema):
    rating: int


@router.post(
    "",
    response={201: CallbackCreated, 400: Error, 422: Error, 429: Error},
    summary="Ask for a call-back (呼我必回)",
)
def callback_create(request: HttpRequest, payload: CallbackIn) -> Status[Any]:
    try:
        draft: CallbackDraft = callback_check(**payload.dict())
    except CallbackError as exc:
        raise _fail(422, exc.field, str(exc)) from None
    if not services.address_allowed(services.client_address(request), "callback"):
        raise _fail(429, "", "too many requests from this address; try again in an hour")
    cb = callback_request(draft, actor="公众 api")
    return Status(201, {"reference": cb.reference, "due_at": cb.due_at})


@router.post(
    "/{ref}/code",
    response={202: Accepted, 429: Error},
    summary="Send a status code to the phone given (the same answer for every reference)",
)
def callback_code(request: HttpRequest, ref: str) -> Status[Any]:
    if not services.address_allowed(services.client_address(request), "callback_status"):
        raise _fail(429, "", "too many requests from this address; try again in an hour")
    services.status_code_request(ref)
    return Status(202, {"message": "if the reference is right, a code was sent to the phone given"})


@router.post(
    "/{ref}/session",
    response={204: None, 400: Error, 422: Error},
    summary="Open the call-back's progress in this session with the code sent",
)
def callback_session(request: HttpRequest, ref: str, payload: CodeIn) -> Status[Any]:
    reference = normalise_reference(ref)
    result = (
        services.status_code_check(reference, payload.code) if reference.startswith("C-") else CodeCheck.WRONG
    )
    if result != CodeCheck.OK:
        raise _fail(
            422,
            "code",
            result.api_message,
        )
    verified = request.session.get(VERIFIED, [])
    request.session[VERIFIED] = [*verified[-9:], reference]
    session_opened(request)
    return Status(204, None)


def _verified(request: HttpRequest, ref: str) -> Any:
    reference = normalise_reference(ref)
    cb = callback_by_reference(reference) if reference in request.session.get(VERIFIED, []) else None
    if cb is None:
        raise _fail(404, "ref", "no call-back with this reference is open in this session")
    return cb


def _out(cb: Any) -> dict[str, Any]:
    return {
        "reference": cb.reference, "topic": cb.topic, "state": cb.state, "district": cb.district,
        "created_at": cb.created_at, "due_at": cb.due_at, "called_at": cb.called_at, "outcome": cb.outcome,
        "rating": cb.rating,
    }  # fmt: skip


@router.get(
    "/{ref}", response={200: CallbackOut, 404: Error}, summary="A call-back's progress (code verified)"
)
def callback_get(request: HttpRequest, ref: str) -> object:
    return _out(_verified(request, ref))


@router.post(
    "/{ref}/rating",
    response={200: CallbackOut, 400: Error, 403: Error, 404: Error, 422: Error},
    summary="Rate the call-back 1–5 (好差评); 1–2 asks for a second call (session + X-CSRFToken)",
)
def callback_rating(request: HttpRequest, ref: str, payload: RatingIn) -> object:
    session_csrf(request)
    cb = _verified(request, ref)
    try:
        return _out(callback_rate(pk=cb.pk, rating=payload.rating, actor="公众 api"))
    except CallbackError as exc:
        raise _fail(422, exc.field, str(exc)) from None
