"""No input to a portal form or the API gives a 500 (hypothesis over the fields, the pages and the API)."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Listed

TEXT = st.text(max_size=80) | st.sampled_from(
    ["", "*", "0", "-1", "9" * 30, "110105", "O-0000000000", "\x00"]
)
FORMS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def clean(text: str) -> str:
    return text.replace("\x00", "")  # the test client cannot send NUL in a form; Django refuses it with 400


@FORMS
@given(q=TEXT, district=TEXT, page=TEXT)
def test_publicity_search_never_fails(
    client: Client, listed: Listed, q: str, district: str, page: str
) -> None:
    for path in ("/publicity/", "/publicity/download.csv", "/api/publicity"):
        r = client.get(path, {"q": clean(q), "district": clean(district), "page": clean(page)})
        assert r.status_code in (200, 400, 422), (path, r.status_code)
        if r.streaming:
            b"".join(r.streaming_content)  # type: ignore[attr-defined]  # read it all, as a client would


@FORMS
@given(entry=TEXT, grounds=TEXT, name=TEXT, phone=TEXT)
def test_the_objection_form_never_fails(
    client: Client, listed: Listed, entry: str, grounds: str, name: str, phone: str
) -> None:
    data = {"entry": clean(entry), "grounds": clean(grounds), "name": clean(name), "phone": clean(phone)}
    r = client.post("/objections/new/", data)
    assert r.status_code in (302, 400, 404)


@FORMS
@given(reference=TEXT, code=TEXT, action=st.sampled_from(["", "code", "x"]))
def test_the_status_form_never_fails(
    client: Client, db: None, reference: str, code: str, action: str
) -> None:
    r = client.post(
        "/objections/status/", {"reference": clean(reference), "code": clean(code), "action": action}
    )
    assert r.status_code in (200, 302, 400, 429)


@pytest.mark.parametrize("path", ["/api/objections/%00", "/api/objections/O-0000000000", "/api/objections/x"])
def test_unknown_references_in_the_api_are_404(client: Client, db: None, path: str) -> None:
    assert client.get(path).status_code == 404


CREDIT = TEXT | st.sampled_from(["91110105MA01ABCD2X", "91110105ma01abcd2x", "9111-0105 MA01ABCD2X"])


@FORMS
@given(credit_code=CREDIT, code=TEXT, action=st.sampled_from(["", "code", "signout", "x"]))
def test_the_lookup_form_and_api_never_fail(
    client: Client, db: None, credit_code: str, code: str, action: str
) -> None:
    r = client.post("/lookup/", {"credit_code": clean(credit_code), "code": clean(code), "action": action})
    assert r.status_code in (200, 302, 400, 429)
    for path, body in (("/api/lookup/code", {"credit_code": credit_code}),
                       ("/api/lookup/session", {"credit_code": credit_code, "code": code})):  # fmt: skip
        r = client.post(path, body, content_type="application/json")
        assert r.status_code in (202, 204, 400, 422, 429), (path, r.status_code)
    assert client.get("/api/case").status_code == 401
