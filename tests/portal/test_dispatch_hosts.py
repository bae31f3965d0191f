"""/apply/dispatch/: a host employer signed in as its own unit confirms or disputes the workers a labour-dispatch
firm declares it placed there (question → check answers → confirmation with an ``A-`` reference), in Chinese and
English; bad input is named next to its field; no post answers 500; a unit that is not a host of the firm sees
nothing of it on any page; the firm's amount, decision and bank data never appear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mianshen.cases.models import Case, HostAnswer
from mianshen.cases.states import State
from mianshen.core.money import format_yuan
from mianshen.registry.models import BankAccount
from mianshen.screening.models import Checkpoint

from ..dispatch_world import City, import_city, make_city, run_round
from .test_applications import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    return make_city(tmp_path_factory.mktemp("dispatch-portal"))


@pytest.fixture
def firms(city: City, settings: Any, tmp_path: Path) -> tuple[Case, Case]:
    settings.VAR_DIR = tmp_path
    run_round(import_city(city), Checkpoint.INITIAL)
    firm, firm2 = Case.objects.get(unit_id=city.firm), Case.objects.get(unit_id=city.firm2)
    assert firm.state == firm2.state == State.AWAITING_CONFIRMATION
    return firm, firm2


def _never_shows_the_firms_money(page: str, firm: Case) -> None:
    account = BankAccount.objects.filter(unit_id=firm.unit_id).values_list("account_no", flat=True).first()
    assert format_yuan(firm.amount_fen) not in page and firm.credit_code not in page
    assert not account or account[-4:] not in page


def test_a_host_sees_each_firm_that_names_it_and_the_declared_count(
    client: Client, city: City, firms: tuple[Case, Case]
) -> None:
    firm, firm2 = firms
    sign_in(client, city.host_a)
    page = client.get("/apply/").content.decode()
    assert firm.unit_name in page and firm2.unit_name in page
    assert f"/apply/dispatch/{firm.pk}/" in page and f"/apply/dispatch/{firm2.pk}/" in page
    assert "确认派遣人员" in page and firm.credit_code[:6] + "********" + firm.credit_code[-4:] in page
    _never_shows_the_firms_money(page, firm)
    question = client.get(f"/apply/dispatch/{firm.pk}/").content.decode()
    assert 'id="declared">12<' in question
    _never_shows_the_firms_money(question, firm)
    en = client.get(f"/apply/dispatch/{firm.pk}/?lang=en").content.decode()
    assert "Workers declared as placed with your unit" in en and "Confirm dispatched workers" in en


def test_the_journey_question_check_confirmation_moves_the_case_when_every_host_confirmed(
    client: Client, city: City, firms: tuple[Case, Case]
) -> None:
    firm, _ = firms
    for host in (city.host_a, city.host_b):
        session = Client()
        sign_in(session, host)
        response = session.post(f"/apply/dispatch/{firm.pk}/", {"answer": "confirm"})
        assert response.status_code == 302 and response["Location"].endswith("/apply/dispatch/check/")
        check = session.get("/apply/dispatch/check/").content.decode()
        assert "确认：人数与贵单位实际使用的一致" in check
        _never_shows_the_firms_money(check, firm)
        assert session.post("/apply/dispatch/check/").status_code == 302
        done = session.get("/apply/dispatch/done/").content.decode()
        answer = HostAnswer.objects.get(case=firm, host_credit_code=city.codes[host])
        assert answer.reference in done and answer.reference.startswith("A-") and len(answer.reference) == 12
        assert answer.host_unit_id == host
        listing = session.get("/apply/").content.decode()
        if host == city.host_a:
            assert f'id="host-answer-{firm.pk}"' in listing  # still waiting for host B: shown as answered
    firm.refresh_from_db()
    assert firm.state == State.IDENTIFIED
    # the case no longer awaits confirmation: the host sees nothing of it any more
    sign_in(client, city.host_b)
    assert f"/apply/dispatch/{firm.pk}/" not in client.get("/apply/").content.decode()
    assert client.get(f"/apply/dispatch/{firm.pk}/").status_code == 404


def test_a_dispute_with_the_number_seen_and_a_note(
    client: Client, city: City, firms: tuple[Case, Case]
) -> None:
    firm, _ = firms
    sign_in(client, city.host_b)
    posted = {"answer": "dispute", "seen_workers": "１", "note": "只使用了该单位派遣的一名人员。"}
    assert client.post(f"/apply/dispatch/{firm.pk}/", posted).status_code == 302
    assert "只使用了该单位派遣的一名人员" in client.get("/apply/dispatch/check/").content.decode()
    client.post("/apply/dispatch/check/")
    done = client.get("/apply/dispatch/done/").content.decode()
    assert "工作人员会核实" in done
    row = HostAnswer.objects.get(case=firm)
    assert (row.answer, row.seen_workers, row.declared_workers) == ("dispute", 1, 3)
    firm.refresh_from_db()
    assert firm.state == State.AWAITING_CONFIRMATION and "HOST_DISPUTED" in firm.reason
    page = client.get(f"/apply/dispatch/{firm.pk}/").content.decode()
    assert 'id="answered"' in page and row.reference in page and "<form" not in page.split("<main")[-1]


@pytest.mark.parametrize(
    ("posted", "field", "zh", "en"),
    [
        ({}, "answer", "请选择确认或有异议", "Choose confirm or dispute"),
        ({"answer": "maybe"}, "answer", "请选择确认或有异议", "Choose confirm or dispute"),
        ({"answer": "dispute", "note": "人数不对，只有一人"}, "seen_workers", "实际使用的派遣人数", "actually uses"),
        ({"answer": "dispute", "seen_workers": "一", "note": "人数不对，只有一人"}, "seen_workers", "只填数字", "digits"),
        ({"answer": "dispute", "seen_workers": "9999999", "note": "人数不对"}, "seen_workers", "0 到 1000000", "between 0"),
        ({"answer": "dispute", "seen_workers": "1", "note": "不对"}, "note", "至少 5 个字", "at least 5"),
        ({"answer": "confirm", "note": "长" * 1001}, "note", "1000", "1000"),
        ({"answer": "confirm", "note": "a\x01b"}, "note", "无法保存的字符", "cannot"),
    ],
)  # fmt: skip
def test_bad_input_is_named_next_to_its_field_in_both_languages(
    client: Client, city: City, firms: tuple[Case, Case], posted: dict[str, str], field: str, zh: str, en: str
) -> None:
    firm, _ = firms
    sign_in(client, city.host_a)
    response = client.post(f"/apply/dispatch/{firm.pk}/", posted)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="{field}-error"' in page and zh in page
    response = client.post(f"/apply/dispatch/{firm.pk}/?lang=en", posted, HTTP_ACCEPT_LANGUAGE="en")
    assert en.lower() in response.content.decode().lower()
    assert not HostAnswer.objects.exists()


def test_a_unit_that_is_not_a_host_sees_nothing_of_the_firm(city: City, firms: tuple[Case, Case]) -> None:
    """The cross-unit matrix of the new pages: for each signed-in unit and each firm's case, a page about that
    case answers only when the unit is a listed host of the firm."""
    firm, firm2 = firms
    hosts_of = {firm.pk: {city.host_a, city.host_b}, firm2.pk: {city.host_a}}
    units = (city.host_a, city.host_b, city.stranger, city.firm, city.firm2)
    for unit in units:
        session = Client()
        sign_in(session, unit)
        listing = session.get("/apply/").content.decode()
        for case in (firm, firm2):
            mine = unit in hosts_of[case.pk]
            assert (f"/apply/dispatch/{case.pk}/" in listing) is mine, (unit, case.pk)
            assert session.get(f"/apply/dispatch/{case.pk}/").status_code == (200 if mine else 404)
            response = session.post(f"/apply/dispatch/{case.pk}/", {"answer": "confirm"})
            assert response.status_code == (302 if mine else 404), (unit, case.pk)
        for case in (firm, firm2):
            if unit not in hosts_of[case.pk] and unit != case.unit_id:
                assert case.unit_name not in listing, (unit, case.pk)
    signed_out = Client()
    for path in (f"/apply/dispatch/{firm.pk}/", "/apply/dispatch/check/"):
        assert signed_out.get(path).status_code == 401
    assert signed_out.get("/apply/dispatch/done/").status_code == 302
    assert not HostAnswer.objects.exists()


def test_a_draft_for_another_firm_cannot_be_filed_by_a_non_host(
    client: Client, city: City, firms: tuple[Case, Case]
) -> None:
    """A check page whose draft names a case the session is not a host of files nothing."""
    firm, _ = firms
    sign_in(client, city.stranger)
    session = client.session
    session["portal_host_answer_draft"] = {"case_id": firm.pk, "host_credit_code": city.codes[city.host_a],
                                           "answer": "confirm", "seen_workers": "", "note": ""}  # fmt: skip
    session.save()
    assert client.post("/apply/dispatch/check/").status_code == 302
    assert not HostAnswer.objects.exists()


def test_an_answer_to_a_case_closed_meanwhile_is_refused_on_the_check_page(
    client: Client, city: City, firms: tuple[Case, Case]
) -> None:
    from datetime import date

    from mianshen.cases.services import confirmation_record

    firm, _ = firms
    sign_in(client, city.host_a)
    client.post(f"/apply/dispatch/{firm.pk}/", {"answer": "confirm"})
    confirmation_record(case_id=firm.pk, confirmed_on=date(2021, 7, 5), evidence="电话核实", actor="officer")
    response = client.get("/apply/dispatch/check/")
    assert response.status_code == 302  # the case is no longer one the host is asked about
    assert not HostAnswer.objects.exists()


SAFE_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


@hsettings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.dictionaries(st.sampled_from(["answer", "seen_workers", "note"]), SAFE_TEXT, max_size=3),
       which=st.integers(min_value=-2, max_value=3))  # fmt: skip
def test_no_post_to_the_host_form_answers_500(
    city: City, firms: tuple[Case, Case], data: dict[str, str], which: int
) -> None:
    firm, firm2 = firms
    case_id = {0: firm.pk, 1: firm2.pk, 2: 10**9, 3: 2**62}.get(which, which)
    client = Client()
    sign_in(client, city.host_a, city.stranger)
    response = client.post(f"/apply/dispatch/{case_id}/", {k: v.replace("\x00", "") for k, v in data.items()})
    assert response.status_code in {200, 302, 400, 404}  # 200: answered by an earlier example, shown as such
    assert client.post("/apply/dispatch/check/").status_code in {200, 302, 400}


def test_the_back_office_case_page_shows_the_hosts_answers_and_still_takes_a_confirmation(
    client: Client, city: City, firms: tuple[Case, Case]
) -> None:
    from django.contrib.auth import get_user_model

    from mianshen.staff.services import staff_add

    from ..backoffice.conftest import verified_login

    firm, _ = firms
    sign_in(client, city.host_b)
    client.post(
        f"/apply/dispatch/{firm.pk}/",
        {"answer": "dispute", "seen_workers": "1", "note": "只有一名派遣人员。"},
    )
    client.post("/apply/dispatch/check/")
    staff_add(username="city-admin", role="city_admin", district=None)
    office = verified_login(Client(), get_user_model().objects.get(username="city-admin"))
    page = office.get(f"/office/cases/{firm.pk}/").content.decode()
    section = page.split('id="host-answers"')[1].split("</section>")[0]
    assert city.codes[city.host_b] in section and "只有一名派遣人员" in section and "尚未答复" in section
    assert (
        "backoffice" not in section and "/confirmation" in page
    )  # an officer can still record a confirmation
    queue = office.get("/office/queues/confirmation/").content.decode()
    assert firm.number in queue and "HOST_DISPUTED" in queue
