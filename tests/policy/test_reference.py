"""The Polars engine and the scalar reference evaluator agree on generated units, boundaries included.

Units are drawn around every edge of the rule: a layoff rate at the limit and one person either side, H0 of 30
and 31 and 0, growth, a base headcount from a month inside Y or missing, a missing H1, revenues and headcounts at
the size-table bounds, half-fen amounts, paid_on on 31 December or the day after, flags listed or removed on the
as-of date, confirmations the day before or after; over every policy, random as-of dates, and the alternative
values of the assumptions A1-A6.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.datadrop.schema import FLAGS, SEPARATION_REASONS, SIZE_CLASSES, UNIT_TYPES
from mianshen.policy import engine, reference
from mianshen.policy.codes import DECISION_COLUMNS
from mianshen.policy.parameters import ResolvedParams, policies, resolve, with_overrides

from .helpers import frames

INDUSTRIES = [
    "1310",
    "6513",
    "7010",
    "7020",
    "7030",
    "5211",
    "5111",
    "4710",
    "0110",
    "6110",
    "5910",
    "8010",
    "7231",
    "6411",
    "6010",
    "5410",
    "70",
    "702",
    "13",
]
ASSUMPTION_VARIANTS = {
    "small_unit_headcount_basis": ["base", "end"],
    "non_enterprise_ratio_category": ["sme", "large"],
    "base_headcount_fallback": ["first_month_in_year", "none"],
    "base_paid_cutoff": ["end_of_data_year", "as_of"],
    "size_headcount_fallback": ["employees_then_base", "employees_only"],
    "abnormal_operation_track": ["manual_review", "none"],
}
HEADCOUNT_EDGES = [0, 1, 5, 10, 20, 24, 29, 30, 31, 99, 100, 189, 200, 299, 300, 301, 1000]
AMOUNTS = [0, 1, 5, 15, 5000, 5001, 12344, 12345, 9999, 10000, 33333]


def ym(year: int, month_no: int) -> str:
    return f"{year:04d}-{month_no:02d}"


@st.composite
def params_and_date(draw: st.DrawFn) -> tuple[ResolvedParams, date]:
    refunds = sorted(pid for pid, p in policies().items() if p.kind == "refund")
    policy = policies()[draw(st.sampled_from(refunds))]
    first, last = policy.window
    as_of = draw(
        st.one_of(
            st.dates(first, last),
            st.sampled_from([d for d in (date(policy.payment_year, 5, 31), date(policy.payment_year, 6, 1))]),
        )
    )
    params = resolve(policy.id, as_of)
    overrides = {k: draw(st.sampled_from(v)) for k, v in ASSUMPTION_VARIANTS.items() if draw(st.booleans())}
    return (with_overrides(params, overrides) if overrides else params), as_of


@st.composite
def unit_rows(
    draw: st.DrawFn, n: int, params: ResolvedParams, as_of: date
) -> dict[str, list[dict[str, Any]]]:
    y = params.data_year
    uid, code = f"U{n:03d}", f"91110105{n:09d}X"
    clean = draw(
        st.booleans()
    )  # half the units have nothing wrong but their boundaries: they reach the amount
    around = st.sampled_from(
        [as_of - timedelta(days=200), as_of - timedelta(days=1), as_of, as_of + timedelta(days=1)]
    )
    unit = {
        "unit_id": uid,
        "credit_code": code if draw(st.integers(0, 5)) else "91110105000000000X",  # sometimes shared
        "name": "单位",
        "unit_type": draw(
            st.sampled_from(["enterprise"] * 4 + list(UNIT_TYPES[:6] if clean else UNIT_TYPES))
        ),
        "industry": draw(st.sampled_from(INDUSTRIES)),
        "district": "110105",
        "dispatch": draw(st.booleans()),
        "size_class_declared": draw(st.one_of(st.none(), st.sampled_from(SIZE_CLASSES))),
        "employees": draw(st.one_of(st.none(), st.sampled_from(HEADCOUNT_EDGES), st.integers(0, 3000))),
        "revenue_yuan": draw(
            st.one_of(
                st.none(),
                st.sampled_from([b * 10_000 + d for b in (50, 300, 2000, 5000, 40000) for d in (-1, 0)]),
            )
        ),
        "assets_yuan": draw(
            st.one_of(
                st.none(), st.sampled_from([b * 10_000 + d for b in (100, 5000, 8000) for d in (-1, 0)])
            )
        ),
        "deregistered_on": None if clean else draw(st.one_of(st.none(), around)),
    }
    rows: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in (
            "units",
            "headcount",
            "separations",
            "contributions",
            "credit_flags",
            "dispatch_confirmations",
        )
    }
    rows["units"].append(unit)
    # headcount: H0 from December of Y-1 or a month inside Y (or none), H1 maybe missing, rate near the limit
    h0 = draw(st.one_of(st.sampled_from(HEADCOUNT_EDGES), st.integers(0, 500)))
    limit = params.small_limit_bp if h0 <= params.small_max_headcount else params.layoff_limit_bp
    at_limit = limit * h0 // 10_000
    cut = draw(
        st.one_of(st.integers(0, h0 + 5), st.sampled_from([at_limit, at_limit + 1, max(at_limit - 1, 0)]))
    )
    n_att = draw(st.integers(0, 3))
    h1 = max(h0 - cut - n_att, 0) if draw(st.integers(0, 4)) else h0 + draw(st.integers(0, 20))
    months = {ym(y - 1, 11): draw(st.integers(0, 50))} if draw(st.booleans()) else {}
    base_where = draw(st.sampled_from(["dec", "dec", "in_year", "none"]))
    if base_where == "dec":
        months[ym(y - 1, 12)] = h0
    elif base_where == "in_year":
        months[ym(y, draw(st.integers(1, 11)))] = h0
    if draw(st.integers(0, 5)):
        months[ym(y, 12)] = h1
    if draw(st.booleans()):
        months.setdefault(ym(y, draw(st.integers(1, 11))), draw(st.integers(0, 400)))
    rows["headcount"] = [{"unit_id": uid, "month": m, "insured": v} for m, v in months.items()]
    for _ in range(draw(st.integers(0, 3))):
        month = ym(draw(st.sampled_from([y - 1, y, y, y + 1])), draw(st.integers(1, 12)))
        reason = draw(st.sampled_from(SEPARATION_REASONS))
        persons = n_att if reason in ("retirement", "death") else draw(st.integers(0, 4))
        rows["separations"].append({"unit_id": uid, "month": month, "reason": reason, "persons": persons})
    # contributions: periods of Y (often all 12), some before and after, half-fen amounts, paid_on on the edges
    periods = set()
    year = [ym(y, k) for k in range(1, 13)]
    mode = draw(st.sampled_from(["all", "all", "one", "none"]))
    if mode == "all":
        periods |= set(year) - set(draw(st.lists(st.sampled_from(year), max_size=2)))
    elif mode == "one":  # a base of one period: half-fen amounts happen
        periods.add(draw(st.sampled_from(year)))
    periods |= set(
        draw(
            st.lists(
                st.sampled_from([ym(y - 1, 6), ym(as_of.year, as_of.month), ym(y + 1, 1), ym(y + 1, 3)]),
                max_size=2,
            )
        )
    )
    for period in sorted(periods):
        due = draw(st.sampled_from(AMOUNTS[1:] if clean else AMOUNTS))
        paid = due if clean else draw(st.sampled_from([due, due, due, 0, due + 1, max(due - 1, 0)]))
        py, pm = int(period[:4]), int(period[5:])
        edges = [date(y, 12, 31), date(y + 1, 1, 1), as_of, as_of + timedelta(days=1)]
        paid_on = date(py, pm, 15) if clean else draw(st.sampled_from([date(py, pm, 15), *edges]))
        if paid == 0 and draw(st.booleans()):
            paid_on = None
        rows["contributions"].append(
            {"unit_id": uid, "period": period, "due_fen": due, "paid_fen": paid, "paid_on": paid_on}
        )
    for _ in range(draw(st.integers(0, 1 if clean else 2))):
        listed = draw(around)
        removed = draw(st.one_of(st.none(), st.sampled_from([listed, as_of, as_of + timedelta(days=1)])))
        if removed is not None and removed < listed:
            removed = listed
        rows["credit_flags"].append(
            {
                "credit_code": unit["credit_code"],
                "flag": draw(st.sampled_from(FLAGS)),
                "listed_on": listed,
                "removed_on": removed,
                "source": "t",
            }
        )
    if draw(st.booleans()):
        rows["dispatch_confirmations"].append({"unit_id": uid, "confirmed_on": draw(around)})
    return rows


@st.composite
def drops(draw: st.DrawFn) -> tuple[ResolvedParams, date, dict[str, list[dict[str, Any]]]]:
    params, as_of = draw(params_and_date())
    merged: dict[str, list[dict[str, Any]]] = {}
    for n in range(draw(st.integers(1, 6))):
        for table, rows in draw(unit_rows(n, params, as_of)).items():
            merged.setdefault(table, []).extend(rows)
    return params, as_of, merged


def _engine_rows(
    params: ResolvedParams, as_of: date, rows: dict[str, list[dict[str, Any]]]
) -> list[dict[str, str]]:
    decided = engine.decisions(engine.evaluate(frames(rows), params, as_of))
    return [
        {k: "" if r[k] is None else str(r[k]) for k in DECISION_COLUMNS}
        for r in decided.iter_rows(named=True)
    ]


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(drops())
def test_engine_agrees_with_reference(
    drop: tuple[ResolvedParams, date, dict[str, list[dict[str, Any]]]],
) -> None:
    params, as_of, rows = drop
    typed = {name: frame.to_dicts() for name, frame in frames(rows).items()}
    assert _engine_rows(params, as_of, rows) == reference.evaluate(typed, params, as_of)
