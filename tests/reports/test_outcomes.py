"""The outcome statistics (contracts §5) on a generated city run through the demo cycle, each figure checked
against an independent computation: plain Python over the rows of the database, written here without the
report's SQL. Then the command's formats parse back to the same figures, and ``--public`` empties small cells."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from mianshen.cases.models import (
    Application,
    Case,
    CaseHistory,
    HostConfirmation,
    NoticeEntry,
    Objection,
    Review,
)
from mianshen.cli.demo import POLICY, run_demo
from mianshen.notify.models import Enquiry
from mianshen.payments.models import Correction, Instruction, Payment
from mianshen.registry.models import Unit
from mianshen.reports.selectors import DAY_FIGURES, FIGURES, RATIOS, SIZE_CLASSES, ReportRefused, outcomes
from mianshen.screening.models import RoundDecision, ScreeningRound

pytestmark = pytest.mark.django_db(transaction=True)

BEIJING = ZoneInfo("Asia/Shanghai")


def _ratio(num: int, den: int) -> Decimal | None:
    if den == 0:
        return None
    return (Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _rank(values: list[int], p: float) -> int | None:
    """Nearest-rank percentile, from its textbook definition."""
    if not values:
        return None
    s = sorted(values)
    return s[math.ceil(p * len(s) - 1e-9) - 1]


def _local(at: datetime) -> date:
    return at.astimezone(BEIJING).date()


def independent(policy: str) -> dict[tuple[str, str, str], Any]:
    """Every figure, by reading each row and adding up in Python."""
    rounds = {r.pk: r for r in ScreeningRound.objects.filter(policy_id=policy, status="completed")}
    latest = max(rounds.values(), key=lambda r: r.number)
    decisions = {(d.round_id, d.unit_id): d for d in RoundDecision.objects.filter(round_id__in=list(rounds))}

    def size_of(round_id: int | None, unit_id: str) -> str:
        d = decisions.get((round_id, unit_id)) if round_id else None
        sc = (d.evidence or {}).get("size_class") if d else None
        return sc if sc in ("micro", "small", "medium", "large") else "unknown"

    units_by_snapshot: dict[int, dict[str, Unit]] = defaultdict(dict)
    for u in Unit.objects.all():
        units_by_snapshot[u.snapshot_id][u.unit_id] = u

    out: dict[tuple[str, str, str], Any] = defaultdict(int)
    groups_seen: set[tuple[str, str]] = set()

    def keys(district: str, size: str) -> list[tuple[str, str]]:
        ks = [("total", ""), ("size_class", size), ("district", district)]
        groups_seen.update(ks)
        return ks

    insured_sme: dict[tuple[str, str], int] = defaultdict(int)
    for u in units_by_snapshot[latest.snapshot_id].values():
        size = size_of(latest.pk, u.unit_id)
        for b, k in keys(u.district, size):
            out[("units_insured", b, k)] += 1
            if u.unit_type == "enterprise" and size in ("micro", "small", "medium"):
                insured_sme[(b, k)] += 1

    first_found: dict[str, datetime] = {}
    for (rid, unit_id), d in decisions.items():
        if d.decision in ("eligible", "manual_review", "pending_confirmation"):
            at = rounds[rid].started_at
            if unit_id not in first_found or at < first_found[unit_id]:
                first_found[unit_id] = at

    paid_sme: dict[tuple[str, str], int] = defaultdict(int)
    paid_n: dict[tuple[str, str], int] = defaultdict(int)
    first_try: dict[tuple[str, str], int] = defaultdict(int)
    untouched: dict[tuple[str, str], int] = defaultdict(int)
    days: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for case in Case.objects.filter(policy_id=policy).select_related("last_round"):
        size = size_of(case.last_round_id, case.unit_id)
        snap_units = units_by_snapshot[case.last_round.snapshot_id] if case.last_round else {}
        unit = snap_units.get(case.unit_id)
        sme = unit is not None and unit.unit_type == "enterprise" and size in ("micro", "small", "medium")
        ks = keys(case.district, size)
        objections = list(Objection.objects.filter(case=case))
        applications = list(Application.objects.filter(case=case))
        for b, k in ks:
            out[("units_eligible", b, k)] += case.decision == "eligible" or (
                case.decision in ("manual_review", "pending_confirmation")  # let through by staff, four eyes
                and case.state
                not in ("under_review", "awaiting_confirmation", "awaiting_application", "excluded")
            )
            out[("objections", b, k)] += len(objections)
            out[("objections_upheld", b, k)] += sum(o.outcome == "upheld" for o in objections)
            out[("applications", b, k)] += len(applications)
            out[("applications_granted", b, k)] += sum(
                a.outcome in ("granted", "approved", "approve") for a in applications
            )
        payment = Payment.objects.filter(case=case).first()
        if payment is None or payment.cancelled_at is not None or payment.current_id is None:
            continue
        current = Instruction.objects.get(pk=payment.current_id)
        if current.status != "settled":
            continue
        attempts = list(Instruction.objects.filter(payment=payment))
        recovered = any(a.status in ("rejected", "returned") for a in attempts if a.pk != current.pk)
        touched = (
            Review.objects.filter(case=case).exists()
            or HostConfirmation.objects.filter(case=case).exists()
            or any(o.outcome in ("upheld", "rejected") for o in objections)
            or any(a.outcome for a in applications)
            or Correction.objects.filter(payment=payment).exists()
        )
        settled_on = current.booked_on
        assert settled_on is not None
        notices = [e.notice.starts_at for e in NoticeEntry.objects.filter(case=case).select_related("notice")]
        approvals = [h.at for h in CaseHistory.objects.filter(case=case, to_state="approved")]
        starts = {
            "days_identified_to_money": first_found.get(case.unit_id),
            "days_publicity_to_money": max(notices) if notices else None,
            "days_approval_to_money": max(approvals) if approvals else None,
        }
        for b, k in ks:
            out[("units_paid", b, k)] += 1
            out[("paid_fen", b, k)] += current.amount_fen
            paid_n[(b, k)] += 1
            paid_sme[(b, k)] += sme
            first_try[(b, k)] += current.attempt == 1
            out[("recovered", b, k)] += recovered
            untouched[(b, k)] += not touched
            for name, start in starts.items():
                if start is not None:
                    days[(name, b, k)].append((settled_on - _local(start)).days)

    for b, k in groups_seen:
        out[("sme_coverage", b, k)] = _ratio(paid_sme[(b, k)], insured_sme[(b, k)])
        out[("first_try_success", b, k)] = _ratio(first_try[(b, k)], paid_n[(b, k)])
        out[("untouched_share", b, k)] = _ratio(untouched[(b, k)], paid_n[(b, k)])
        out[("self_service_share", b, k)] = None
        for name in DAY_FIGURES:
            values = days[(name, b, k)]
            out[(f"{name}_median", b, k)] = _rank(values, 0.5)
            out[(f"{name}_p90", b, k)] = _rank(values, 0.9)
            out[(f"{name}_max", b, k)] = max(values) if values else None
    # enquiries: lookups ÷ all, by the district an enquiry names (else its unit's case's) and its unit's size
    case_of = {c.unit_id: c for c in Case.objects.filter(policy_id=policy)}
    asked: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for e in Enquiry.objects.all():
        case = case_of.get(e.unit_id or "")
        district = e.district or (case.district if case else "")
        size = size_of(case.last_round_id, case.unit_id) if case else "unknown"
        for group in (("total", ""), ("size_class", size), ("district", district)):
            asked[group][0] += e.channel == "lookup"
            asked[group][1] += 1
    for (b, k), (lookups, n) in asked.items():
        if (b, k) != ("district", ""):  # an enquiry with no district counts in the total only
            out[("self_service_share", b, k)] = _ratio(lookups, n)
    return dict(out)


@pytest.fixture
def paid_city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    run_demo(root=tmp_path / "demo", units=400, seed=7, say=lambda step, text: None)
    # enquiries by channel (notify): two lookup sign-ins of paid units, a call-back naming a district, an
    # anonymous phone consultation
    paid = list(Case.objects.filter(policy_id=POLICY, state="paid").order_by("pk")[:2])
    at = timezone.now()
    asked = [("lookup", paid[0].unit_id, ""), ("lookup", paid[1].unit_id, ""), ("callback", None, "110105")]
    for n, (channel, unit, district) in enumerate([*asked, ("phone", None, "")]):
        Enquiry.objects.create(channel=channel, key=f"test:{n}", unit_id=unit, district=district, outcome="answered",
                               recorded_by="test", day=at.date(), at=at)  # fmt: skip
    return tmp_path


def test_every_figure_matches_an_independent_computation_and_every_format_parses_back(
    paid_city: Path,
) -> None:
    got = outcomes(POLICY)
    expected = independent(POLICY)
    assert got.policy_id == POLICY
    # the city is real enough that the figures are not trivially zero
    assert got.value("units_paid") > 100 and got.value("recovered") > 0
    assert got.value("objections") == 2 and got.value("objections_upheld") == 1
    assert got.value("self_service_share") == Decimal("0.5000")  # 2 lookups of 4 enquiries
    assert 0 < got.value("sme_coverage") < 1  # type: ignore[operator]
    assert got.value("days_identified_to_money_max") is not None
    cells = {(c.figure, c.breakdown, c.key): c.value for c in got.cells}
    for key, value in cells.items():
        figure = key[0]
        empty = None if figure.startswith("days") or figure in RATIOS else 0  # a group without units
        assert value == expected.get(key, empty), key
    # every district with a unit or a case, every size class, appears
    districts = {k for (_, b, k) in expected if b == "district"}
    assert set(got.keys("district")) == districts
    assert got.keys("size_class") == list(SIZE_CLASSES)
    # the breakdowns add up to the total for the counts
    for figure in ("units_insured", "units_paid", "paid_fen", "objections"):
        for breakdown in ("size_class", "district"):
            assert sum(got.value(figure, breakdown, k) for k in got.keys(breakdown)) == got.value(figure)  # type: ignore[misc]

    # csv
    out = paid_city / "o.csv"
    call_command("report", "outcomes", "--format", "csv", "--out", str(out))
    parsed = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(parsed[0]) == ["figure", "breakdown", "key", "value"]
    assert {(r["figure"], r["breakdown"], r["key"]): r["value"] for r in parsed} == {
        k: "" if v is None else str(v) for k, v in cells.items()
    }
    # json: values are exact numbers
    out = paid_city / "o.json"
    call_command("report", "outcomes", "--policy", POLICY, "--format", "json", "--out", str(out))
    data = json.loads(out.read_text(encoding="utf-8"), parse_float=Decimal)
    assert {(r["figure"], r["breakdown"], r["key"]): r["value"] for r in data} == cells
    assert any(str(r["value"]).count(".") and len(str(r["value"]).split(".")[1]) == 4 for r in data)
    # xlsx
    from openpyxl import load_workbook

    out = paid_city / "o.xlsx"
    call_command("report", "outcomes", "--format", "xlsx", "--out", str(out))
    ws = load_workbook(out, read_only=True)["outcomes"]
    sheet = [(*r, None, None, None, None)[:4] for r in ws.iter_rows(values_only=True)]  # empty tails trimmed
    assert sheet[0] == ("figure", "breakdown", "key", "value")
    back = {(r[0], r[1], r[2] or ""): r[3] for r in sheet[1:]}
    assert back.keys() == cells.keys()
    for key, value in cells.items():
        assert (back[key] is None) if value is None else Decimal(str(back[key])) == value, key
    # table
    out = paid_city / "o.txt"
    call_command("report", "outcomes", "--out", str(out))
    text = out.read_text(encoding="utf-8")
    assert "中小微企业受益率" in text and f"{got.value('units_paid'):,}" in text

    # pdf: Chinese text with the font embedded as a subset; every total reads back from the text
    import subprocess

    from mianshen.reports.exports import _fmt
    from mianshen.reports.selectors import FIGURES, LABELS

    out = paid_city / "o.pdf"
    call_command("report", "outcomes", "--format", "pdf", "--out", str(out))
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert "NotoSansCJK" in fonts and out.stat().st_size < 200_000  # a subset, not the 20 MB collection
    assert all(line.split()[-5:-2] == ["yes", "yes", "yes"] for line in fonts.splitlines()[2:])  # emb sub uni
    pdf_text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
    lines = pdf_text.splitlines()
    for figure in FIGURES:
        line = next(x for x in lines if x.strip().startswith(LABELS[figure]))
        assert line.rstrip().endswith(_fmt(figure, cells[(figure, "total", "")])), (figure, line)
    assert "中小微企业受益率（按区）" in pdf_text and "拨付金额（元，按区）" in pdf_text

    # --public: every cell counting fewer than 5 units is empty, the others unchanged
    out = paid_city / "p.csv"
    call_command("report", "outcomes", "--format", "csv", "--public", "--out", str(out))
    public = {(r["figure"], r["breakdown"], r["key"]): r["value"] for r in csv.DictReader(out.open())}
    units = {(c.figure, c.breakdown, c.key): c.units for c in got.cells}
    suppressed = 0
    for key, value in cells.items():
        small = units[key] is None or units[key] < 5  # type: ignore[operator]
        assert public[key] == ("" if small or value is None else str(value)), key
        suppressed += small and value is not None
    assert suppressed > 0  # the city has small cells (objections: 2) and they are emptied
    assert public[("objections", "total", "")] == "" and public[("units_paid", "total", "")] != ""


def test_a_settled_then_returned_payment_is_not_paid(paid_city: Path) -> None:
    before = outcomes(POLICY)
    settled = Instruction.objects.filter(status="settled").order_by("pk").first()
    assert settled is not None
    Instruction.objects.filter(pk=settled.pk).update(status="returned", returned_on=settled.booked_on)
    after = outcomes(POLICY)
    assert after.value("units_paid") == before.value("units_paid") - 1  # type: ignore[operator]
    assert after.value("paid_fen") == before.value("paid_fen") - settled.amount_fen  # type: ignore[operator]
    expected = independent(POLICY)
    for c in after.cells:
        empty = None if c.figure.startswith("days") or c.figure in RATIOS else 0
        assert c.value == expected.get((c.figure, c.breakdown, c.key), empty), c


def test_a_districts_figures_are_the_citys_figures_for_that_district(paid_city: Path) -> None:
    """``outcomes(district=d)`` (a district officer's dashboard) is, figure by figure, the city's breakdown for d
    — medians, enquiries and ratios included — and names no other district."""
    city = outcomes(POLICY)
    districts = city.keys("district")
    assert len(districts) > 3
    for d in districts:
        scoped = outcomes(POLICY, district=d)
        assert scoped.keys("district") == [d]
        for figure in FIGURES:
            assert scoped.value(figure) == city.value(figure, "district", d), (d, figure)
            assert scoped.value(figure, "district", d) == city.value(figure, "district", d), (d, figure)
        for figure in ("units_insured", "units_paid", "paid_fen", "objections"):
            assert sum(scoped.value(figure, "size_class", k) for k in SIZE_CLASSES) == scoped.value(figure)  # type: ignore[misc]
    with pytest.raises(ReportRefused):
        outcomes(POLICY, district="1101'; DROP TABLE x; --")
