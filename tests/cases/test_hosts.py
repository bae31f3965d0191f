"""Host employers confirm dispatched workers (``cases.hosts``): every listed host confirms → the case gets its
confirmation through ``confirmation_record`` and the next round passes it; a dispute puts it in front of an
officer (who may still confirm); a unit that is not a listed host is refused; a repeated answer is idempotent; a
case no longer awaiting confirmation is refused with its own message. And the round tells each host (not the
firm) through the outbox, once per host, without the firm's amount."""

from __future__ import annotations

from datetime import date

import pytest

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.hosts import DISPUTED, host_actor, host_answer_record, host_answers_of, host_requests
from mianshen.cases.models import Case, HostAnswer, HostConfirmation
from mianshen.cases.services import CaseError, confirmation_record
from mianshen.cases.states import State
from mianshen.core.money import format_yuan
from mianshen.notify.models import Message
from mianshen.screening.models import Checkpoint

from ..dispatch_world import PHONES, City, import_city, make_city, run_round

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    return make_city(tmp_path_factory.mktemp("dispatch"))


@pytest.fixture
def snapshot(city: City) -> object:
    snap = import_city(city)
    run_round(snap, Checkpoint.INITIAL)
    return snap


def _answer(city: City, case: Case, host: str, answer: str = "confirm", seen: int | None = None,
            note: str = "", ref: str = "A-0000000001") -> object:  # fmt: skip
    return host_answer_record(case_id=case.pk, host_credit_code=city.codes[host], host_unit_id=host,
                              answer=answer, seen_workers=seen, note=note, reference=ref)  # fmt: skip


def test_the_round_tells_each_host_with_a_phone_not_the_firm_and_not_its_amount(
    city: City, snapshot: object
) -> None:
    firm = Case.objects.get(unit_id=city.firm)
    assert firm.state == State.AWAITING_CONFIRMATION
    told = Message.objects.filter(kind="confirm_dispatch", case_id=firm.pk)
    assert sorted((m.channel, m.to) for m in told) == sorted(
        [("inbox", city.host_a), ("sms", PHONES["host_a"]), ("inbox", city.host_b), ("sms", PHONES["host_b"])]
    )
    assert not Message.objects.filter(kind="confirm_dispatch", unit_id=city.firm).exists()
    body = told.get(channel="sms", to=PHONES["host_a"]).body_zh
    assert firm.unit_name in body and "12 人" in body and format_yuan(firm.amount_fen) not in body
    # firm2's outside host is no unit: only host A is told of firm2
    firm2 = Case.objects.get(unit_id=city.firm2)
    assert {m.to for m in Message.objects.filter(kind="confirm_dispatch", case_id=firm2.pk)} == {
        city.host_a, PHONES["host_a"]}  # fmt: skip
    # the same round again: nothing new (the keys are per case version and host)
    before = Message.objects.count()
    run_round(snapshot, Checkpoint.INITIAL)
    assert Message.objects.count() == before


def test_every_host_confirms_the_case_moves_on_and_the_next_round_passes_it(
    city: City, snapshot: object
) -> None:
    firm = Case.objects.get(unit_id=city.firm)
    assert [r.declared_workers for r in host_requests([city.codes[city.host_a]]) if r.case_id == firm.pk] == [
        12
    ]
    first = _answer(city, firm, city.host_a, ref="A-0000000001")
    assert first.created and not first.case_confirmed
    firm.refresh_from_db()
    assert firm.state == State.AWAITING_CONFIRMATION
    last = _answer(city, firm, city.host_b, ref="A-0000000002")
    assert last.created and last.case_confirmed
    firm.refresh_from_db()
    assert firm.state == State.IDENTIFIED
    conf = HostConfirmation.objects.get(case=firm)
    assert conf.recorded_by == host_actor(city.codes[city.host_b]) and "A-0000000001" in conf.evidence
    assert (
        AuditEvent.objects.filter(action=Action.DISPATCH_HOST_CONFIRMED, object_id=str(firm.pk)).count() == 2
    )
    assert AuditEvent.objects.filter(action=Action.DISPATCH_CONFIRMED, object_id=str(firm.pk)).count() == 1
    run_round(snapshot, Checkpoint.BEFORE_PUBLICITY)
    firm.refresh_from_db()
    assert firm.state == State.RECHECKED  # not sent back to awaiting confirmation
    assert not host_requests([city.codes[city.host_a], city.codes[city.host_b]]) or all(
        r.case_id != firm.pk for r in host_requests([city.codes[city.host_a]])
    )


def test_a_dispute_puts_the_case_in_front_of_an_officer_who_may_still_confirm(
    city: City, snapshot: object
) -> None:
    firm = Case.objects.get(unit_id=city.firm)
    _answer(city, firm, city.host_a)
    done = _answer(city, firm, city.host_b, "dispute", 1, "只用了一名派遣人员。", ref="A-0000000002")
    assert done.created and not done.case_confirmed
    firm.refresh_from_db()
    assert firm.state == State.AWAITING_CONFIRMATION and DISPUTED in firm.reason.split("|")
    row = HostAnswer.objects.get(case=firm, host_credit_code=city.codes[city.host_b])
    assert (row.answer, row.declared_workers, row.seen_workers) == ("dispute", 3, 1)
    assert (
        AuditEvent.objects.filter(action=Action.DISPATCH_HOST_DISPUTED, object_id=str(firm.pk)).count() == 1
    )
    assert [(c, w, a.answer if a else None) for c, w, a in host_answers_of(firm)] == [
        (city.codes[city.host_a], 12, "confirm"), (city.codes[city.host_b], 3, "dispute")]  # fmt: skip
    confirmation_record(case_id=firm.pk, confirmed_on=date(2021, 7, 5), evidence="电话核实", actor="officer")
    firm.refresh_from_db()
    assert firm.state == State.IDENTIFIED


def test_a_unit_that_is_not_a_listed_host_is_refused(city: City, snapshot: object) -> None:
    firm = Case.objects.get(unit_id=city.firm)
    with pytest.raises(CaseError, match="No labour-dispatch unit"):
        _answer(city, firm, city.stranger)
    with pytest.raises(CaseError, match="No labour-dispatch unit"):  # a case that does not exist: the same
        host_answer_record(case_id=10**9, host_credit_code=city.codes[city.host_a], host_unit_id=city.host_a,
                           answer="confirm", seen_workers=None, note="", reference="A-0000000003")  # fmt: skip
    assert host_requests([city.codes[city.stranger]]) == []
    assert not HostAnswer.objects.exists()


def test_a_repeated_answer_is_idempotent(city: City, snapshot: object) -> None:
    firm = Case.objects.get(unit_id=city.firm)
    first = _answer(city, firm, city.host_b, "dispute", 0, "没有使用该单位的人员。")
    again = _answer(city, firm, city.host_b, "confirm", ref="A-0000000009")
    assert not again.created and again.answer.pk == first.answer.pk and again.answer.answer == "dispute"
    assert HostAnswer.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.DISPATCH_HOST_DISPUTED).count() == 1


def test_a_case_no_longer_awaiting_confirmation_is_refused_with_its_own_message(
    city: City, snapshot: object
) -> None:
    firm = Case.objects.get(unit_id=city.firm)
    confirmation_record(case_id=firm.pk, confirmed_on=date(2021, 7, 5), evidence="电话核实", actor="officer")
    with pytest.raises(CaseError, match="already settled") as caught:
        _answer(city, firm, city.host_a)
    assert "已办结" in caught.value.text("zh-hans")
    assert not HostAnswer.objects.exists()


@pytest.mark.parametrize(
    ("answer", "seen", "note", "says"),
    [("maybe", None, "", "confirm or dispute"), ("dispute", None, "人数不符合实际", "number of dispatched"),
     ("dispute", 2, "短", "at least 5"), ("confirm", None, "长" * 1001, "1000")],
)  # fmt: skip
def test_a_bad_answer_is_refused_in_words(
    city: City, snapshot: object, answer: str, seen: int | None, note: str, says: str
) -> None:
    firm = Case.objects.get(unit_id=city.firm)
    with pytest.raises(CaseError, match=says):
        _answer(city, firm, city.host_a, answer, seen, note)


def test_dispatch_hosts_are_imported_into_the_snapshot(city: City, snapshot: object) -> None:
    from mianshen.registry.models import DispatchHost

    rows = sorted(
        DispatchHost.objects.filter(snapshot=snapshot).values_list("unit_id", "host_credit_code", "workers")
    )
    assert len(rows) == 4 and (city.firm, city.codes[city.host_a], 12) in rows


def test_the_hosts_of_many_cases_are_each_case_hosts_in_a_query_per_snapshot(
    city: City, snapshot: object, django_assert_max_num_queries: object
) -> None:
    """``hosts_of_cases`` (the demo's bulk read) gives every case what ``case_hosts`` gives it, in order, in a
    query for the rounds and one per snapshot however many cases: a case without hosts is left out, one never
    decided by a round too; a second snapshot's round gives the hosts of that snapshot."""
    from mianshen.cases.hosts import case_hosts, hosts_of_cases

    cases = list(Case.objects.order_by("pk"))
    cases.append(Case(pk=10**9, unit_id=city.firm, last_round=None))  # never decided: no hosts
    with django_assert_max_num_queries(2):  # type: ignore[operator]
        bulk = hosts_of_cases(cases)
    one_by_one = {c.pk: case_hosts(c) for c in cases}
    assert bulk == {pk: hosts for pk, hosts in one_by_one.items() if hosts}
    firm, firm2 = Case.objects.get(unit_id=city.firm), Case.objects.get(unit_id=city.firm2)
    assert list(bulk[firm.pk].items()) == [(city.codes[city.host_a], 12), (city.codes[city.host_b], 3)]
    assert set(bulk) == {firm.pk, firm2.pk}
    second = import_city(city)  # the same drop again: a second snapshot, its round moves the cases onto it
    run_round(second, Checkpoint.INITIAL)
    moved = list(Case.objects.order_by("pk"))
    assert {c.last_round_id for c in moved} != {c.last_round_id for c in cases[:-1]}
    assert hosts_of_cases(moved) == {c.pk: case_hosts(c) for c in moved if case_hosts(c)}
