"""The dashboard: the outcome figures (``reports.dashboard``: coverage, money, days to money, payment success and
recovery, objections and applications, enquiries by channel, round over round), each chart beside its table,
every table downloadable; cases per state (and per district for city-level staff), latest rounds, running jobs.

A district officer sees their district's figures only (``reports.dashboard(district=…)``), city-level staff the
city's. The charts are drawn by ``static/backoffice/dashboard.js`` (Chart.js, vendored) from a JSON data island
(``json_script``): no inline script, so the Content-Security-Policy holds; without JavaScript the tables are the
page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from mianshen.cases.states import State
from mianshen.core.models import Job, JobStatus
from mianshen.core.money import format_yuan
from mianshen.notify.models import EnquiryChannel
from mianshen.reports.dashboard import dashboard as outcome_figures
from mianshen.reports.dashboard import dashboard_recompute as recompute_figures
from mianshen.reports.selectors import ReportRefused
from mianshen.screening.models import Checkpoint

from .. import display, selectors
from ..exports import export_response, wanted
from ._base import actor, refusal_text, staff, staff_view

TITLES: dict[str, Promise] = {
    "coverage_size": _("按企业规模的覆盖"),
    "coverage_district": _("各区覆盖"),
    "money_district": _("各区拨付金额"),
    "days_to_money": _("识别至到账天数分布"),
    "days_statistics": _("到账天数（中位数、p90、最大）"),
    "payments_district": _("各区拨付成功与补发"),
    "objections_applications": _("各区异议与主动申请"),
    "enquiries_channel": _("咨询渠道"),
    "rounds": _("各轮比对变化"),
}
COLUMNS: dict[str, Promise] = {
    "size_class": _("规模"),
    "district": _("区"),
    "units_insured": _("参保单位"),
    "units_eligible": _("符合条件"),
    "units_paid": _("已拨付单位"),
    "sme_coverage": _("中小微企业受益率"),
    "paid_fen": _("拨付金额（元）"),
    "days_identified_to_money": _("识别至到账（天）"),
    "days_publicity_to_money": _("公示至到账（天）"),
    "days_approval_to_money": _("核准至到账（天）"),
    "figure": _("指标"),
    "median": _("中位数"),
    "p90": _("第 90 百分位"),
    "max": _("最大"),
    "first_try_success": _("首次拨付成功率"),
    "recovered": _("失败后补发成功"),
    "objections": _("异议"),
    "objections_upheld": _("异议成立"),
    "applications": _("主动申请"),
    "applications_granted": _("申请获准"),
    "channel": _("渠道"),
    "enquiries": _("咨询量"),
    "round": _("轮次"),
    "checkpoint": _("节点"),
    "units_screened": _("比对单位"),
    "units_payable": _("可拨付单位"),
    "payable_fen": _("可拨付金额（元）"),
    "payable_change": _("较上一轮变化"),
    "untouched_share": _("全程无人工干预占比"),
    "self_service_share": _("自助办理占比"),
    "days_identified_to_money_median": _("识别至到账天数（中位数）"),
}
SIZES: dict[str, Promise] = {
    "micro": _("微型"),
    "small": _("小型"),
    "medium": _("中型"),
    "large": _("大型"),
    "unknown": _("规模未知"),
}


def _key_text(kind: str, value: Any) -> str:
    if kind == "district":
        return display.district_name(value)
    if kind == "size":
        return str(SIZES.get(value, value))
    if kind == "channel":
        return display.label(dict(EnquiryChannel.choices), value)
    if kind == "checkpoint":
        return display.label(dict(Checkpoint.choices), value)
    if kind == "figure":
        return str(COLUMNS.get(value, value))
    return str(value)


def _cell_text(kind: str, value: Any) -> str:
    if value is None:
        return "—"
    if kind == "fen":
        return format_yuan(int(value))
    if kind == "ratio":
        return f"{(Decimal(value) * 100).quantize(Decimal('0.01'))} %"
    if kind in ("int", "days"):
        return f"{int(value):,}"
    return _key_text(kind, value)


def _chart_value(kind: str, value: Any) -> int | str | None:
    """What the chart draws: whole yuan (half-up, integer arithmetic) for money, percent text for ratios."""
    if value is None:
        return None
    if kind == "fen":
        return (int(value) + 50) // 100
    if kind == "ratio":
        return str((Decimal(value) * 100).quantize(Decimal("0.01")))
    return int(value)


def _views(tables: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tables for the template, chart specifications for the data island)."""
    shown, charts = [], []
    for t in tables:
        kinds = t["kinds"]
        headers = [str(COLUMNS.get(c, c)) for c in t["columns"]]
        rows = [[(_cell_text(k, v), k not in ("text", "district", "size", "channel", "checkpoint", "figure"))
                 for k, v in zip(kinds, row, strict=True)] for row in t["rows"]]  # fmt: skip
        shown.append({"id": t["id"], "title": str(TITLES[t["id"]]), "headers": headers,
                      "numeric": [k not in ("district", "size", "channel", "checkpoint", "figure") for k in kinds],
                      "rows": rows})  # fmt: skip
        charts.append({
            "id": t["id"],
            "type": t["chart"],
            "title": str(TITLES[t["id"]]),
            "labels": [_key_text(kinds[0], row[0]) for row in t["rows"]],
            "datasets": [{"label": headers[i] + (" (%)" if kinds[i] == "ratio" else ""),
                          "data": [_chart_value(kinds[i], row[i]) for row in t["rows"]]} for i in t["series"]],
        })  # fmt: skip
    return shown, charts


@staff_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    me = staff(request)
    figures: dict[str, Any] | None = None
    refusal = ""
    fmt = wanted(request)
    try:
        # the page shows kept figures at once, marked when a later change has made them stale (the worker, or
        # "compute now", brings them up to date); a download is always of current figures
        figures = outcome_figures(district=None if me.city_level else me.district, stale_ok=fmt is None)
    except ReportRefused as exc:
        refusal = refusal_text(exc)
    if fmt is not None:
        return _table_export(request, fmt, figures)
    if figures is not None and figures["current"]:  # current kept figures hold the cases by state too
        counts, districts = _case_counts(figures["case_states"], city=me.city_level)
    else:
        counts, districts = selectors.state_counts(request.user), selectors.district_counts(request.user)
    tables, charts = _views(figures["tables"]) if figures else ([], [])
    totals = (
        [(str(COLUMNS[f]), _cell_text(_total_kind(f), v)) for f, v in figures["totals"]] if figures else []
    )
    return render(
        request,
        "backoffice/dashboard.html",
        {
            "counts": counts,
            "total_cases": sum(c.cases for c in counts),
            "states": [s.value for s in State],
            "districts": districts,
            "rounds": selectors.latest_rounds(),
            "jobs_active": Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).count(),
            "me": me,
            "figures": figures,
            "refusal": refusal,
            "totals": totals,
            "tables": tables,
            "charts": {"charts": charts},
        },
    )


@staff_view(methods=("POST",))
def dashboard_recompute(request: HttpRequest) -> HttpResponse:
    """Compute the figures of the user's scope now (for when no worker runs: otherwise the worker does it when
    idle) and show the page again. Not a business event: nothing is audited, nothing changes but the kept
    figures."""
    me = staff(request)
    try:
        done = recompute_figures(district=None if me.city_level else me.district, actor=actor(request))
    except ReportRefused as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, _("成效统计已重新计算（%(seconds)s 秒）。") % {"seconds": done["seconds"]})
    return redirect("backoffice:dashboard")


def _case_counts(
    rows: list[list[Any]], *, city: bool
) -> tuple[list[selectors.StateCount], list[tuple[str, list[int]]]]:
    """Cases and money per state, and per district the cases in each state (city-level staff only), from the
    ``[district, state, cases, fen]`` rows of the kept figures (as ``selectors.state_counts`` and
    ``district_counts`` would count them)."""
    n: dict[str, int] = {}
    fen: dict[str, int] = {}
    table: dict[str, dict[str, int]] = {}
    for district, state, cases, money in rows:
        n[state] = n.get(state, 0) + cases
        fen[state] = fen.get(state, 0) + money
        table.setdefault(district, {})[state] = cases
    counts = [selectors.StateCount(s.value, n.get(s.value, 0), fen.get(s.value, 0)) for s in State]
    districts = [(d, [table[d].get(s.value, 0) for s in State]) for d in sorted(table)] if city else []
    return counts, districts


def _total_kind(figure: str) -> str:
    if figure == "paid_fen":
        return "fen"
    if figure.endswith(("_coverage", "_success", "_share")):
        return "ratio"
    return "int"


def _raw_rows(table: dict[str, Any]) -> list[list[Any]]:
    """A table's rows for a download: ratios (kept as exact text) as decimals, so that a spreadsheet gets
    numbers; everything else as kept (codes, counts, fen)."""
    kinds = table["kinds"]
    return [[Decimal(v) if k == "ratio" and v is not None else v for k, v in zip(kinds, row, strict=True)]
            for row in table["rows"]]  # fmt: skip


def _table_export(request: HttpRequest, fmt: str, figures: dict[str, Any] | None) -> HttpResponse:
    """One dashboard table (``?table=<id>&export=csv|xlsx``) with its codes and raw values: counts, fen, ratios
    as decimals (the user's scope: a district officer's district)."""
    wanted_id = request.GET.get("table", "")
    table = next((t for t in (figures or {}).get("tables", []) if t["id"] == wanted_id), None)
    if table is None:
        raise Http404(wanted_id)
    return export_response(
        request,
        fmt=fmt,
        name=f"dashboard-{table['id']}",
        columns=table["columns"],
        rows=iter(_raw_rows(table)),
        count=len(table["rows"]),
    )
