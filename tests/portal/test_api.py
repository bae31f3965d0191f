"""The JSON API at /api/: OpenAPI 3, the publicity list, objections and their status — the same services as the
pages — and bad input answered 422 with the field named, never a 500."""

from __future__ import annotations

import json
from pathlib import Path

from django.test import Client

from mianshen.cases.models import Objection
from mianshen.cases.services import objection_decide

from .conftest import Listed, sent_codes

GROUNDS = "该单位去年已停业，职工全部离职。"


def test_the_openapi_document_lists_the_contract_paths(client: Client, db: None) -> None:
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/publicity", "/api/objections", "/api/objections/{ref}"} <= set(doc["paths"])
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and b"/static/ninja/swagger-ui-bundle.js" in docs.content  # no CDN


def test_publicity_search_pages_and_errors(client: Client, listed: Listed) -> None:
    page = client.get("/api/publicity", {"q": "星光"}).json()
    assert [i["unit_name"] for i in page["items"]] == ["北京星光科技有限公司"]
    item = page["items"][0]
    assert "********" in item["masked_credit_code"] and isinstance(item["amount_fen"], int)
    assert item["amount_yuan"] == "1,000.00" and item["district_name"] == "朝阳区"
    every = client.get("/api/publicity", {"page": "3"}).json()
    assert every["total"] == 45 and len(every["items"]) == 5 and not every["has_next"]
    bad = client.get("/api/publicity", {"district": "1"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "district"


def test_an_objection_by_the_api_and_its_status_after_the_code(
    client: Client, listed: Listed, outbox: Path
) -> None:
    entry = listed.entry(listed.cases[6])
    created = client.post(
        "/api/objections",
        json.dumps({"entry_id": entry.pk, "grounds": GROUNDS, "phone": "13900001111"}),
        content_type="application/json",
    )
    assert created.status_code == 201
    reference = created.json()["reference"]
    assert client.get(f"/api/objections/{reference}").status_code == 404  # not verified in this session
    assert client.post(f"/api/objections/{reference}/code").status_code == 202
    code = sent_codes(outbox)[-1]
    wrong = client.post(
        f"/api/objections/{reference}/session", {"code": "x"}, content_type="application/json"
    )
    assert wrong.status_code == 422
    client.post(f"/api/objections/{reference}/code")  # within the minute: nothing more is sent
    opened = client.post(
        f"/api/objections/{reference}/session", {"code": code}, content_type="application/json"
    )
    assert opened.status_code == 204
    status = client.get(f"/api/objections/{reference}").json()
    assert status["outcome"] == "" and status["unit_name"] == listed.cases[6].unit_name
    objection = Objection.objects.get(case=listed.cases[6])
    objection_decide(
        objection_id=objection.pk, outcome="rejected", reason="经核实单位正常经营", actor="officer"
    )
    assert client.get(f"/api/objections/{reference}").json()["outcome"] == "rejected"


def test_bad_objections_are_422_with_the_field(client: Client, listed: Listed) -> None:
    entry = listed.entry(listed.cases[0])
    for payload, field in [
        ({"entry_id": entry.pk, "grounds": "短", "phone": "13900001111"}, "grounds"),
        ({"entry_id": entry.pk, "grounds": GROUNDS, "phone": "1390000"}, "phone"),
        ({"entry_id": 10**12, "grounds": GROUNDS, "phone": "13900001111"}, "entry"),
    ]:
        r = client.post("/api/objections", json.dumps(payload), content_type="application/json")
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, payload
    assert client.post("/api/objections", "{", content_type="application/json").status_code in (400, 422)
    assert not Objection.objects.exists()
