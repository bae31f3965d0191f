"""Letters and publicity lists through the pages: staff download them from the case page and the notice page
(district-scoped, audited, the kept bytes every time); a unit signed in on /lookup/ downloads its own letters and
no other unit's."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, NoticeEntry
from mianshen.portal.lookup import units_on_file
from mianshen.reports.letters import letters_available
from mianshen.reports.models import Document

from ..backoffice.conftest import login, pay, world  # noqa: F401  (the module-scoped city and its payments)
from ..backoffice.payworld import PayWorld
from ..portal.test_lookup_world import phone_of, signed_in
from .pdfcheck import pdf_text

pytestmark = pytest.mark.django_db


def test_staff_download_a_letter_from_the_case_page(
    pay: PayWorld,  # noqa: F811
    login: Callable[[str | None], Client],  # noqa: F811
) -> None:
    case = Case.objects.get(pk=pay.paid.pk)
    own = login("own" if case.district == pay.district else "city")
    page = own.get(f"/office/cases/{case.pk}/").content.decode()
    link = f"/office/cases/{case.pk}/letters/paid.pdf"
    assert link in page and f"/office/cases/{case.pk}/letters/failed.pdf" not in page
    first = own.get(link)
    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"
    data = b"".join(first.streaming_content) if first.streaming else first.content
    doc = Document.objects.get(case=case, kind="letter_paid", lang="zh")
    assert data == bytes(doc.content) and first["X-Content-SHA256"] == hashlib.sha256(data).hexdigest()
    assert own.get(link).content == data  # kept: the same bytes
    downloads = AuditEvent.objects.filter(action=Action.DOCUMENT_DOWNLOADED, object_id=str(doc.pk))
    assert downloads.count() == 2
    assert own.get(f"/office/cases/{case.pk}/letters/failed.pdf").status_code == 404
    assert own.get(f"/office/cases/{case.pk}/letters/bogus.pdf").status_code == 404


def test_another_districts_officer_and_strangers_get_nothing(
    pay: PayWorld,  # noqa: F811
    login: Callable[[str | None], Client],  # noqa: F811
) -> None:
    case = Case.objects.get(pk=pay.publicised.pk)
    assert case.district == pay.district
    link = f"/office/cases/{case.pk}/letters/listed.pdf"
    assert login("other").get(link).status_code == 404
    anonymous = login(None).get(link)
    assert anonymous.status_code == 302 and "/office/login/" in anonymous["Location"]
    assert login("nobody").get(link).status_code in (403, 404)
    assert not Document.objects.filter(case=case).exists()  # nothing rendered for them
    assert login("aud").get(link).status_code == 200  # the auditor reads


def test_publicity_list_per_district_from_the_notice_page(
    pay: PayWorld,  # noqa: F811
    login: Callable[[str | None], Client],  # noqa: F811
    tmp_path: Path,
) -> None:
    notice_id = pay.notice_id
    entries = NoticeEntry.objects.filter(notice_id=notice_id, district=pay.district).order_by("pk")
    assert entries.exists()
    city = login("city")
    page = city.get(f"/office/notices/{notice_id}/").content.decode()
    link = f"/office/notices/{notice_id}/list-{pay.district}.pdf"
    assert link in page
    response = city.get(link)
    assert response.status_code == 200
    text = "".join(pdf_text(response.content, tmp_path).split())
    for entry in entries:
        assert "".join(entry.unit_name.split()) in text and entry.masked_credit_code in text
    assert login("other").get(link).status_code == 404  # another district's officer
    own_page = login("own").get(f"/office/notices/{notice_id}/").content.decode()
    assert link in own_page and f"list-{pay.other_district}.pdf" not in own_page
    assert login("own").get(f"/office/notices/{notice_id}/list-999999.pdf").status_code == 404


def test_a_signed_in_unit_downloads_its_own_letters_only(pay: PayWorld, tmp_path: Path) -> None:  # noqa: F811
    mine = Case.objects.get(pk=pay.paid.pk)
    client = signed_in(mine)
    page = client.get("/lookup/").content.decode()
    own_link = f"/lookup/letters/{mine.pk}/paid.pdf"
    assert own_link in page
    response = client.get(own_link)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert mine.unit_name.replace(" ", "") in "".join(pdf_text(response.content, tmp_path).split())
    doc = Document.objects.get(case=mine, kind="letter_paid")
    event = AuditEvent.objects.filter(action=Action.DOCUMENT_UNIT_DOWNLOADED, object_id=str(doc.pk)).get()
    assert event.after["unit_id"] == mine.unit_id
    # every other unit's letters: not found, the same answer as a letter that does not exist
    my_units = {u for u, phone in units_on_file(mine.credit_code) if phone == phone_of(mine)}
    others = [c for c in Case.objects.exclude(unit_id__in=my_units).order_by("pk") if letters_available(c)]
    assert others
    for other in others:
        for kind in letters_available(other):
            assert client.get(f"/lookup/letters/{other.pk}/{kind}.pdf").status_code == 404
    assert client.get(f"/lookup/letters/{mine.pk}/failed.pdf").status_code == 404
    assert Client().get(own_link).status_code == 404  # not signed in


def test_a_letter_no_font_can_draw_is_a_one_line_refusal(
    pay: PayWorld,  # noqa: F811
    login: Callable[[str | None], Client],  # noqa: F811
) -> None:
    case = Case.objects.get(pk=pay.publicised.pk)
    Case.objects.filter(pk=case.pk).update(unit_name="北京\U000f0000科技有限公司")
    response = login("city").get(f"/office/cases/{case.pk}/letters/listed.pdf")
    assert response.status_code == 422 and "U+F0000" in response.content.decode()
    assert not Document.objects.filter(case=case).exists()
