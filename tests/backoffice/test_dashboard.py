"""The dashboard's outcome figures (reports.dashboard) and the exports of every list (backoffice/exports.py):
district scoping of every figure and download, the kept figures and when they are computed again, the audit event
of a download, formula escaping, and the worksheet's row limit."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import F, Sum
from django.test import Client, RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, NoticeEntry, Objection
from mianshen.cases.services import objection_record
from mianshen.payments.models import Instruction
from mianshen.reports.dashboard import compute, dashboard, fingerprint
from mianshen.reports.models import DashboardFigures

from .payworld import PayWorld

pytestmark = pytest.mark.django_db
Login = Callable[[str | None], Client]
TABLES = ("coverage_size", "coverage_district", "money_district", "days_to_money", "days_statistics",
          "payments_district", "objections_applications", "enquiries_channel", "rounds")  # fmt: skip
DISTRICT_TABLES = ("coverage_district", "money_district", "payments_district", "objections_applications")


def _csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _download(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _table(payload: dict[str, Any], table_id: str) -> dict[str, Any]:
    return next(t for t in payload["tables"] if t["id"] == table_id)


def _settled_fen(district: str | None) -> int:
    """The money of settled payments, counted independently of the reports' SQL (the ORM over instructions)."""
    qs = Instruction.objects.filter(status="settled", payment__cancelled_at=None, payment__current_id=F("pk"))
    if district is not None:
        qs = qs.filter(case__district=district)
    return int(qs.aggregate(s=Sum("amount_fen"))["s"] or 0)


def test_every_figure_of_a_district_officer_is_the_districts(pay: PayWorld) -> None:
    city = compute()
    own = compute(district=pay.district)
    assert own["district"] == pay.district and city["district"] is None
    for table_id in DISTRICT_TABLES:
        assert [r[0] for r in _table(own, table_id)["rows"]] == [pay.district], table_id
        assert pay.third_district in [r[0] for r in _table(city, table_id)["rows"]], table_id
    # money: the district's settled payments only, against an independent count
    assert _settled_fen(pay.district) > 0
    assert _table(own, "money_district")["rows"][0][2] == _settled_fen(pay.district)
    assert sum(r[2] for r in _table(city, "money_district")["rows"]) == _settled_fen(None)
    totals = dict(own["totals"])
    assert totals["paid_fen"] == _settled_fen(pay.district)
    assert totals["units_paid"] == Case.objects.filter(district=pay.district, state="paid").count()
    # insured units: the district's in the latest round's snapshot
    by_size = _table(own, "coverage_size")["rows"]
    assert sum(r[1] for r in by_size) == totals["units_insured"]
    assert totals["units_insured"] < dict(city["totals"])["units_insured"]
    # objections: the district's
    assert (
        _table(own, "objections_applications")["rows"][0][1]
        == Objection.objects.filter(case__district=pay.district).count()
    )
    # rounds: the district's units screened in each round
    rounds = _table(own, "rounds")["rows"]
    assert [r[0] for r in rounds] == [1, 2]
    assert rounds[1][2] < _table(city, "rounds")["rows"][1][2]
    assert rounds[1][5] == rounds[1][3] - rounds[0][3]  # the change from the round before


def test_the_page_shows_the_district_officer_only_their_district(pay: PayWorld, login: Login) -> None:
    body = login("own").get(reverse("backoffice:dashboard")).content.decode()
    data = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', body, re.S)
    assert data is not None
    import json

    charts = {c["id"]: c for c in json.loads(data.group(1))["charts"]}
    assert set(charts) == set(TABLES)
    from mianshen.backoffice.display import district_name

    for table_id in DISTRICT_TABLES:
        assert charts[table_id]["labels"] == [district_name(pay.district)], table_id
    assert district_name(pay.third_district) not in body
    city = login("city").get(reverse("backoffice:dashboard")).content.decode()
    assert district_name(pay.third_district) in city


def test_the_page_works_without_javascript_and_has_no_inline_script(pay: PayWorld, login: Login) -> None:
    response = login("city").get(reverse("backoffice:dashboard"))
    assert response.status_code == 200
    body = response.content.decode()
    for table_id in TABLES:  # every figure is in a table (the chart is drawn over it, never instead)
        assert f'id="table-{table_id}"' in body
        assert f'id="chart-{table_id}"' in body
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", body, re.S)
    for attrs, content in scripts:  # only scripts from this site, or the JSON data island
        assert ' src="/static/' in attrs or 'type="application/json"' in attrs, attrs
        if "src=" in attrs:
            assert not content.strip()
    assert "chart.umd.min.js" in body and "dashboard.js" in body
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_the_figures_are_kept_until_a_business_event(pay: PayWorld, login: Login) -> None:
    DashboardFigures.objects.all().delete()
    first = dashboard(district=pay.district)
    kept = DashboardFigures.objects.get(district=pay.district)
    assert kept.fingerprint == fingerprint()
    again = dashboard(district=pay.district)
    assert again["computed_at"] == first["computed_at"]  # not computed again
    # an event that changes no figure (a download, audited as 840) keeps them
    login("own").get(reverse("backoffice:dashboard"), {"export": "csv", "table": "rounds"})
    assert AuditEvent.objects.filter(action=Action.LIST_EXPORTED).exists()
    assert dashboard(district=pay.district)["computed_at"] == first["computed_at"]
    # an objection (a business event) makes them stale: computed again, with the new objection
    before = _table(first, "objections_applications")["rows"][0][1]
    objection_record(
        case_id=pay.paid.pk, raised_by="public", contact="13800000001", grounds="再查", actor="own"
    )
    after = dashboard(district=pay.district)
    assert after["computed_at"] != first["computed_at"]
    assert _table(after, "objections_applications")["rows"][0][1] == before + 1
    assert DashboardFigures.objects.get(district=pay.district).fingerprint == fingerprint()
    # a district's request computed that district alone; the city's computes and keeps every scope at once
    assert not DashboardFigures.objects.filter(district="").exists()
    city = dashboard()
    assert city["computed_at"] != after["computed_at"]
    kept = DashboardFigures.objects.filter(fingerprint=fingerprint(), computed_at=city["computed_at"])
    assert {"", pay.district, pay.third_district} <= set(kept.values_list("district", flat=True))
    assert dashboard(district=pay.third_district)["computed_at"] == city["computed_at"]
    assert dashboard(district=pay.district)["computed_at"] == city["computed_at"]


def _add_enquiries(pay: PayWorld) -> None:
    """Enquiries that resolve to a district in each way: naming one, through their unit's case, naming another
    district than their unit's case's (its size class is then unknown in that district), and none at all."""
    from datetime import date, datetime

    from mianshen.notify.models import Enquiry

    at = datetime(2026, 12, 2, 2, tzinfo=UTC)
    rows = [("lookup", pay.paid.unit_id, ""), ("phone", pay.failed.unit_id, ""),
            ("phone", pay.paid.unit_id, pay.other_district), ("callback", None, pay.district),
            ("lookup", pay.elsewhere.unit_id, pay.district), ("phone", None, "")]  # fmt: skip
    for i, (channel, unit, district) in enumerate(rows):
        Enquiry.objects.create(channel=channel, key=f"test:{i}", unit_id=unit, district=district,
                               outcome="answered", recorded_by="test", day=date(2026, 12, 2), at=at)  # fmt: skip


def test_every_scope_at_once_equals_each_scope_computed_alone(pay: PayWorld) -> None:
    """``compute_all`` (one pass, grouped by district) gives the city and each district exactly what
    ``compute`` gives each scope on its own."""
    from mianshen.reports.dashboard import compute_all

    _add_enquiries(pay)
    every = compute_all()
    districts = set(Case.objects.values_list("district", flat=True).distinct())
    assert districts <= set(every) and None in every
    assert every[None] == compute()
    for district in sorted(d for d in every if d is not None):
        assert every[district] == compute(district=district), district
    own = every[pay.district]
    assert _table(own, "enquiries_channel")["rows"] != _table(compute(), "enquiries_channel")["rows"]


@pytest.mark.parametrize("table_id", TABLES)
def test_every_dashboard_table_downloads_in_the_users_scope(
    pay: PayWorld, login: Login, table_id: str
) -> None:
    client = login("own")
    response = client.get(reverse("backoffice:dashboard"), {"export": "csv", "table": table_id})
    assert response.status_code == 200
    rows = _csv(_download(response))
    expected = _table(compute(district=pay.district), table_id)
    if rows:
        assert list(rows[0]) == expected["columns"]
    assert len(rows) == len(expected["rows"])
    if table_id in DISTRICT_TABLES:
        assert {r["district"] for r in rows} == {pay.district}
    xlsx = client.get(reverse("backoffice:dashboard"), {"export": "xlsx", "table": table_id})
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(_download(xlsx))).active
    assert ws is not None and ws.max_row == len(expected["rows"]) + 1
    for i, kind in enumerate(expected["kinds"]):  # numbers stay numbers (ratios too), codes stay text
        for (cell,) in ws.iter_rows(min_row=2, min_col=i + 1, max_col=i + 1):
            if kind in ("int", "fen", "ratio", "days") and cell.value is not None:
                assert isinstance(cell.value, int | float), (table_id, kind, cell.value)
    assert client.get(reverse("backoffice:dashboard"), {"export": "csv", "table": "nope"}).status_code == 404
    assert (
        client.get(reverse("backoffice:dashboard"), {"export": "pdf", "table": table_id}).status_code == 404
    )


# ---- the list pages' downloads ------------------------------------------------------------------------------

LISTS: dict[str, tuple[Callable[[PayWorld], str], str | None]] = {
    # list → (its page's address, the column holding the district, if any)
    "queue-cases": (lambda w: reverse("backoffice:queue", args=["cases"]), "district"),
    "queue-review": (lambda w: reverse("backoffice:queue", args=["review"]), "district"),
    "queue-objections": (lambda w: reverse("backoffice:queue", args=["objections"]), "district"),
    "queue-applications": (lambda w: reverse("backoffice:queue", args=["applications"]), "district"),
    "queue-supervision": (lambda w: reverse("backoffice:queue", args=["supervision"]), "district"),
    "payment-failures": (lambda w: reverse("backoffice:payment_failures"), "district"),
    "payments": (lambda w: reverse("backoffice:payments"), None),
    "notices": (lambda w: reverse("backoffice:notices"), None),
    "notice-entries": (lambda w: reverse("backoffice:notice_detail", args=[w.notice_id]), "district"),
    "callbacks-all": (lambda w: reverse("backoffice:callbacks") + "?show=all", "district"),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_every_list_downloads_in_the_district_scope_and_is_audited(
    pay: PayWorld, login: Login, name: str
) -> None:
    address, district_column = LISTS[name]
    url = address(pay)
    sep = "&" if "?" in url else "?"
    for user in ("city", "own"):
        seq = fingerprint_all()
        response = login(user).get(f"{url}{sep}export=csv")
        assert response.status_code == 200, (name, user)
        assert response["Content-Type"].startswith("text/csv")
        rows = _csv(_download(response))
        if district_column and user == "own":
            assert {r[district_column] for r in rows} <= {pay.district}, name
        event = AuditEvent.objects.filter(action=Action.LIST_EXPORTED, seq__gt=seq).get()
        assert event.actor == user
        assert event.object_type == "list" and event.object_id.startswith(name.split("-")[0])
        assert event.after["format"] == "csv" and event.after["rows"] == len(rows)
        assert "export" not in event.after["filters"]
    city_rows = _csv(_download(login("city").get(f"{url}{sep}export=csv")))
    if name in ("queue-cases", "notice-entries", "payment-failures"):  # lists that hold other districts' rows
        assert {r[district_column or ""] for r in city_rows} - {pay.district}, name
    xlsx = login("own").get(f"{url}{sep}export=xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def fingerprint_all() -> int:
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    return int(last or 0)


def test_reconciliation_downloads_for_city_staff_only(pay: PayWorld, login: Login) -> None:
    url = reverse("backoffice:reconciliation")
    rows = _csv(_download(login("city").get(url, {"export": "csv"})))
    assert rows[0]["bucket"] == "approved" and rows[-1]["bucket"] == "difference"
    assert rows[-1]["fen"] == "0"  # the identity holds in the pay world
    assert login("own").get(url, {"export": "csv"}).status_code == 403


def test_the_audit_event_names_the_filters_and_rows(pay: PayWorld, login: Login) -> None:
    url = reverse("backoffice:queue", args=["cases"])
    response = login("city").get(url, {"district": pay.district, "export": "csv", "page": "2"})
    rows = _csv(_download(response))
    event = AuditEvent.objects.filter(action=Action.LIST_EXPORTED).latest("seq")
    assert event.after == {"format": "csv", "filters": {"district": pay.district}, "rows": len(rows)}
    assert len(rows) == Case.objects.filter(district=pay.district).count()
    assert event.actor_id == get_user_model().objects.get(username="city").pk


def test_past_the_worksheet_limit_csv_only(pay: PayWorld, login: Login, settings: Any) -> None:
    settings.EXPORT_XLSX_MAX_ROWS = 3
    url = reverse("backoffice:queue", args=["cases"])
    before = AuditEvent.objects.filter(action=Action.LIST_EXPORTED).count()
    refused = login("city").get(url, {"export": "xlsx"})
    assert refused.status_code == 413
    text = refused.content.decode()
    assert "CSV" in text and "3" in text and "\n" not in text.strip()
    assert AuditEvent.objects.filter(action=Action.LIST_EXPORTED).count() == before  # nothing downloaded
    rows = _csv(_download(login("city").get(url, {"export": "csv"})))
    assert len(rows) == Case.objects.count() > 3
    settings.EXPORT_XLSX_MAX_ROWS = Case.objects.count()  # exactly at the limit: allowed
    assert login("city").get(url, {"export": "xlsx"}).status_code == 200


def test_an_unknown_format_is_not_found(pay: PayWorld, login: Login) -> None:
    assert login("city").get(reverse("backoffice:notices"), {"export": "pdf"}).status_code == 404


FORMULA = st.builds(lambda head, tail: head + tail, st.sampled_from(["=", "+", "-", "@", "\t", "\r"]),
                    st.text(max_size=30))  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=FORMULA,
    plain=st.text(max_size=30).filter(lambda s: not s.startswith(("=", "+", "-", "@", "\t", "\r"))),
)
def test_text_that_a_spreadsheet_would_run_is_escaped(pay: PayWorld, text: str, plain: str) -> None:
    from openpyxl import load_workbook

    from mianshen.backoffice.exports import export_response

    request = RequestFactory().get("/office/x/")
    request.user = get_user_model().objects.get(username="city")
    for fmt in ("csv", "xlsx"):
        response = export_response(request, fmt=fmt, name="escaping", columns=("a", "b", "n"),
                                   rows=iter([[text, plain, -5]]), count=1)  # fmt: skip
        body = _download(response)
        if fmt == "csv":
            row = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))[1]
            assert row == ["'" + text, plain, "-5"]
        else:
            ws = load_workbook(io.BytesIO(body)).active
            assert ws is not None
            values = [c.value for c in ws[2]]
            # XML cannot hold some control characters: the export drops them (and a parser reads CR as LF)
            from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

            def norm(v: str) -> str:
                return ILLEGAL_CHARACTERS_RE.sub("", v).replace("\r\n", "\n").replace("\r", "\n")

            assert norm(values[0]) == norm("'" + text) and norm(values[1] or "") == norm(plain)
            assert values[2] == -5


def test_notice_entries_of_a_district_officer(pay: PayWorld, login: Login) -> None:
    url = reverse("backoffice:notice_detail", args=[pay.notice_id])
    rows = _csv(_download(login("own").get(url, {"export": "csv"})))
    expected = NoticeEntry.objects.filter(notice_id=pay.notice_id, district=pay.district).count()
    assert len(rows) == expected > 0
    assert all("*" in r["credit_code_masked"] for r in rows)


def test_the_worker_computes_stale_figures_again(pay: PayWorld) -> None:
    from mianshen.reports.dashboard import dashboard_refresh

    DashboardFigures.objects.all().delete()
    dashboard(district=pay.district)
    assert dashboard_refresh() == []  # nothing stale
    objection_record(
        case_id=pay.paid.pk, raised_by="public", contact="13800000002", grounds="复查", actor="own"
    )
    assert DashboardFigures.objects.get().fingerprint != fingerprint()
    assert dashboard_refresh() == [("beijing-2021", pay.district)]
    assert DashboardFigures.objects.exclude(fingerprint=fingerprint()).count() == 0
    assert DashboardFigures.objects.filter(district="").exists(), "one computation kept the city's too"
    kept = DashboardFigures.objects.get(district=pay.district)
    assert kept.fingerprint == fingerprint()
    assert (
        _table(kept.payload, "objections_applications")["rows"][0][1]
        == Objection.objects.filter(case__district=pay.district).count()
    )


@pytest.mark.parametrize("user", ["city", "own", "other"])
def test_cases_by_state_from_the_kept_figures_match_the_selectors(
    pay: PayWorld, login: Login, user: str
) -> None:
    from mianshen.backoffice import selectors
    from mianshen.backoffice.views.dashboard import _case_counts

    person = get_user_model().objects.get(username=user)
    staff = person.staff  # type: ignore[attr-defined]
    figures = compute(district=None if staff.district is None else staff.district)
    counts, districts = _case_counts(figures["case_states"], city=staff.district is None)
    assert counts == selectors.state_counts(person)
    assert districts == selectors.district_counts(person)
    page = login(user).get(reverse("backoffice:dashboard")).content.decode()
    assert 'id="state-counts"' in page


@pytest.mark.parametrize("user", ["city", "own"])
def test_payment_states_from_the_kept_figures_match_a_count(pay: PayWorld, user: str) -> None:
    """The payments overview's state totals come from the dashboard's kept figures while they are current, else
    from counting the cases: the same numbers either way, and never stale ones."""
    from mianshen.backoffice.payment_selectors import payment_state_totals
    from mianshen.reports.dashboard import kept_case_states

    person = get_user_model().objects.get(username=user)
    district = person.staff.district  # type: ignore[attr-defined]
    DashboardFigures.objects.all().delete()
    counted = payment_state_totals(person)
    assert kept_case_states(district) is None
    dashboard(district=district)
    assert kept_case_states(district) is not None
    assert payment_state_totals(person) == counted
    assert sum(t.cases for t in counted) > 0
    # a case moved (a business event): the kept figures are stale and not used
    Case.objects.filter(pk=pay.paid.pk).update(state="awaiting_correction")
    objection_record(
        case_id=pay.inflight.pk, raised_by="public", contact="13800000003", grounds="查", actor="own"
    )
    assert kept_case_states(district) is None
    moved = {t.state: t.cases for t in payment_state_totals(person)}
    assert moved["paid"] == {t.state: t.cases for t in counted}["paid"] - 1


def test_the_page_shows_stale_figures_at_once_marked_and_a_download_is_current(
    pay: PayWorld, login: Login
) -> None:
    """After a business event the page answers from the kept figures (no computation of a minute at Beijing's
    size), says they are stale and since when, and counts the cases by state live; a download, and "compute now",
    are of the current figures."""
    DashboardFigures.objects.all().delete()
    first = dashboard(district=pay.district)
    assert first["current"] and first["as_of_seq"] == first["latest_seq"] == int(fingerprint())
    client = login("own")
    page = client.get(reverse("backoffice:dashboard")).content.decode()
    assert 'id="figures-stale"' not in page
    before = _table(first, "objections_applications")["rows"][0][1]
    objection_record(
        case_id=pay.paid.pk, raised_by="public", contact="13800000001", grounds="再查", actor="own"
    )
    stale = dashboard(district=pay.district, stale_ok=True)
    assert not stale["current"] and stale["computed_at"] == first["computed_at"]
    assert stale["as_of_seq"] < stale["latest_seq"] == int(fingerprint())
    response = client.get(reverse("backoffice:dashboard"))
    page = response.content.decode()
    assert 'id="figures-stale"' in page and str(stale["latest_seq"]) in page
    assert DashboardFigures.objects.get(district=pay.district).computed_at.isoformat() == first["computed_at"]
    # the cases by state are counted, not taken from the stale figures: the objected case is there
    shown = re.search(r'<tr data-state="objected"><td>[^<]*</td><td class="num">([\d,]+)</td>', page)
    objected = Case.objects.filter(state="objected", district=pay.district).count()
    assert shown is not None and int(shown.group(1).replace(",", "")) == objected >= 1
    # a download is computed from the latest data
    rows = _csv(
        _download(
            client.get(reverse("backoffice:dashboard"), {"export": "csv", "table": "objections_applications"})
        )
    )
    assert int(rows[0]["objections"]) == before + 1
    # "compute now" makes them current; an auditor may not
    assert login("aud").post(reverse("backoffice:dashboard_recompute")).status_code == 403
    done = client.post(reverse("backoffice:dashboard_recompute"))
    assert done.status_code == 302
    event = AuditEvent.objects.filter(action=Action.DASHBOARD_RECOMPUTED).get()
    assert event.actor == "own" and event.object_id.endswith(pay.district)
    page = client.get(reverse("backoffice:dashboard")).content.decode()
    assert 'id="figures-stale"' not in page
    assert dashboard(district=pay.district)["current"]
