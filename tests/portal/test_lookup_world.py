"""The lookup over the back office's generated city, built through the real path (generate → import → rounds →
cases → payments through the bank simulator): the explanation rendered from the stored evidence, a paid and a
failed payment as the unit sees them, and the authorisation matrix over every case with a phone on file."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from mianshen.cases.models import Case
from mianshen.payments.models import Payment
from mianshen.policy.explain import TEXT, render
from mianshen.policy.parameters import resolve
from mianshen.portal.lookup import units_on_file
from mianshen.screening.models import RoundDecision

from ..backoffice.conftest import pay, world  # noqa: F401  (the module-scoped city and its payments)
from ..backoffice.payworld import PayWorld
from .conftest import sent_codes

pytestmark = pytest.mark.django_db


def phone_of(case: Case) -> str | None:
    return dict(units_on_file(case.credit_code)).get(case.unit_id)


def signed_in(case: Case) -> Client:
    phone = phone_of(case)
    assert phone, case
    client = Client()
    assert client.post("/lookup/", {"credit_code": case.credit_code}).status_code == 200
    code = sent_codes(to=phone)[-1]
    response = client.post("/lookup/", {"credit_code": case.credit_code, "action": "code", "code": code})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def own_case(client: Client, case: Case) -> dict[str, Any]:
    cases = client.get("/api/case").json()["cases"]
    return next(c for c in cases if c["number"] == case.number)


def expected_explanation(case: Case, lang: str) -> str:
    from mianshen.cases.services import mask_credit_code
    from mianshen.screening.models import ScreeningRound

    rnd = ScreeningRound.objects.get(pk=case.last_round_id)
    decision = RoundDecision.objects.get(round=rnd, unit_id=case.unit_id)
    row = {**decision.evidence, "unit_id": decision.unit_id, "credit_code": decision.credit_code,
           "decision": decision.decision, "failed": decision.failed, "unknown": decision.unknown,
           "routes": decision.routes, "amount_fen": decision.amount_fen}  # fmt: skip
    text = render(row, resolve(rnd.policy_id, rnd.as_of), lang)
    text = text[: text.index(TEXT[lang]["params"])]
    return text.replace(decision.credit_code, mask_credit_code(decision.credit_code)).rstrip() + "\n"


def test_a_paid_unit_sees_its_explanation_amount_and_account(pay: PayWorld) -> None:  # noqa: F811
    case = Case.objects.get(pk=pay.paid.pk)
    client = signed_in(case)
    seen = own_case(client, case)
    payment = Payment.objects.select_related("current").get(case=case)
    assert seen["payment_state"] == "paid" and seen["state"] == "paid"
    assert seen["account_last4"] == payment.current.creditor_account[-4:]  # type: ignore[union-attr]
    assert seen["amount_fen"] == case.amount_fen and all(s["done"] for s in seen["steps"])
    assert seen["explanation"] == expected_explanation(case, "zh")
    assert "参数（版本）" not in seen["explanation"] and case.credit_code not in seen["explanation"]
    english = client.get("/api/case?lang=en").json()["cases"]
    assert next(c for c in english if c["number"] == case.number)["explanation"] == expected_explanation(
        case, "en"
    )
    page = client.get("/lookup/?lang=zh").content.decode()
    assert "已到账" in page and payment.current.creditor_account not in page  # type: ignore[union-attr]


def test_a_failed_payment_says_why_and_what_to_do(pay: PayWorld) -> None:  # noqa: F811
    case = Case.objects.get(pk=pay.failed.pk)
    seen = own_case(signed_in(case), case)
    assert seen["payment_state"] == "failed" and seen["failure"], seen
    assert seen["next_step"]


def test_no_signed_in_unit_sees_another_units_case(pay: PayWorld) -> None:  # noqa: F811
    cases = [c for c in Case.objects.order_by("pk") if phone_of(c)]
    assert len(cases) > 10
    for case in cases[:: max(1, len(cases) // 8)]:
        client = signed_in(case)
        mine = {u for u, phone in units_on_file(case.credit_code) if phone == phone_of(case)}
        for path in ("/lookup/", "/lookup/?lang=en", "/api/case", f"/api/case?unit_id={cases[0].unit_id}"):
            response = client.get(path)
            body = response.content.decode()
            if path.startswith("/api/"):
                body = json.dumps(response.json(), ensure_ascii=False)
            assert case.number in body, path
            for other in cases:
                if other.unit_id not in mine:
                    assert other.number not in body, (case.unit_id, other.unit_id, path)
