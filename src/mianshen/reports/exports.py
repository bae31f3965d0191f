"""The outcome statistics written out (contracts §5): one row per figure and breakdown with the columns
``figure, breakdown, key, value`` as CSV, JSON or XLSX, or as tables for a terminal.

- ``public=True`` applies the small-cell rule: a cell counting fewer than :data:`MIN_UNITS` units is written
  empty (primary suppression), as is a figure that is not available.
- Cells of CSV and XLSX that begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return are escaped with a
  leading apostrophe (:func:`escape_cell`), so that a spreadsheet shows them as text and never runs them.
- XLSX is written with openpyxl in write-only mode (rows streamed, constant memory).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from .selectors import FIGURES, LABELS, RATIOS, SIZE_CLASSES, Cell, Outcomes

MIN_UNITS = 5
COLUMNS: tuple[str, str, str, str] = ("figure", "breakdown", "key", "value")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(text: str) -> str:
    """A cell a spreadsheet would take for a formula (or a DDE payload) gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_START) else text


def shown(cell: Cell, *, public: bool) -> int | Decimal | None:
    """The value as published: ``None`` (an empty cell) when not available or, in public, under 5 units."""
    if cell.value is None:
        return None
    if public and (cell.units is None or cell.units < MIN_UNITS):
        return None
    return cell.value


def value_text(value: int | Decimal | None) -> str:
    """Integers in plain decimal, ratios with their 4 places, empty for no value."""
    return "" if value is None else str(value)


def rows(outcomes: Outcomes, *, public: bool) -> Iterator[tuple[str, str, str, int | Decimal | None]]:
    """One row per figure and breakdown: figure, breakdown, key, value (in the order of ``FIGURES``, then the
    breakdowns: total, by size class, by district)."""
    order = {f: i for i, f in enumerate(FIGURES)}
    for c in sorted(outcomes.cells, key=lambda c: order[c.figure]):
        yield c.figure, c.breakdown, c.key, shown(c, public=public)


def write_csv(outcomes: Outcomes, out: io.TextIOBase | Any, *, public: bool) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for figure, breakdown, key, value in rows(outcomes, public=public):
        w.writerow(
            [escape_cell(figure), escape_cell(breakdown), escape_cell(key), escape_cell(value_text(value))]
        )


def json_text(outcomes: Outcomes, *, public: bool) -> str:
    """A JSON array of objects ``{figure, breakdown, key, value}``; values are JSON numbers written exactly
    (ratios with 4 decimals: read them with ``parse_float=Decimal``), ``null`` when empty."""
    parts = []
    for figure, breakdown, key, value in rows(outcomes, public=public):
        head = json.dumps({"figure": figure, "breakdown": breakdown, "key": key}, ensure_ascii=False)[:-1]
        parts.append(f'{head}, "value": {"null" if value is None else str(value)}}}')
    return "[\n" + ",\n".join(parts) + "\n]\n"


def write_xlsx(outcomes: Outcomes, path: Path, *, public: bool) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("outcomes")
    ws.append(list(COLUMNS))
    for figure, breakdown, key, value in rows(outcomes, public=public):
        cell: WriteOnlyCell | None = None
        if value is not None:
            cell = WriteOnlyCell(ws, value=value)
            if figure in RATIOS:
                cell.number_format = "0.0000"
        # text cells escaped; numbers are numbers (never a formula)
        ws.append([escape_cell(figure), escape_cell(breakdown), escape_cell(key), cell])
    wb.save(str(path))


# --- terminal tables ----------------------------------------------------------------------------------------------


def _fmt(figure: str, value: int | Decimal | None, *, short: bool = False) -> str:
    if value is None:
        return "—"
    if figure in RATIOS:
        assert isinstance(value, Decimal)
        percent = f"{(value * 100).quantize(Decimal('0.01'))} %"
        return percent if short else f"{value} ({percent})"
    if figure == "paid_fen":
        if short:  # whole yuan, half-up (the exports keep the fen)
            return f"¥{(int(value) + 50) // 100:,}"
        whole, cents = divmod(int(value), 100)
        return f"¥{whole:,}.{cents:02d}"
    return f"{value:,}"


# the columns of the breakdown tables: a few figures, short headings (every figure is in the exports)
_BREAKDOWN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("units_insured", "参保\ninsured"),
    ("units_paid", "已拨付\npaid"),
    ("paid_fen", "金额\nmoney"),
    ("sme_coverage", "中小微受益\nSME cov."),
    ("days_identified_to_money_median", "到账天数\ndays (med.)"),
)


def tables(outcomes: Outcomes, *, public: bool) -> Iterable[Any]:
    """Rich tables: every figure's total, then a few figures by size class and by district."""
    from rich.table import Table

    by: dict[tuple[str, str, str], int | Decimal | None] = {
        (c.figure, c.breakdown, c.key): shown(c, public=public) for c in outcomes.cells
    }
    title = f"成效统计 / outcome statistics — {outcomes.policy_id}"
    if outcomes.round_number is not None:
        title += f", round {outcomes.round_number}"
    if public:
        title += " — 公开口径 / public: cells under 5 units empty"
    main = Table(title=title)
    main.add_column("指标 / figure")
    main.add_column("合计 / total", justify="right", no_wrap=True)
    for figure in FIGURES:
        main.add_row(LABELS[figure], _fmt(figure, by[(figure, "total", "")]))
    yield main
    for breakdown, heading, keys in (
        ("size_class", "按规模 / by size class", list(SIZE_CLASSES)),
        ("district", "按区 / by district", outcomes.keys("district")),
    ):
        if not keys:
            continue
        t = Table(title=heading)
        t.add_column("规模 / size" if breakdown == "size_class" else "区 / district", no_wrap=True)
        for _figure, header in _BREAKDOWN_COLUMNS:
            t.add_column(header, justify="right", no_wrap=True)
        for k in keys:
            t.add_row(k, *(_fmt(f, by[(f, breakdown, k)], short=True) for f, _ in _BREAKDOWN_COLUMNS))
        yield t
    if by[("self_service_share", "total", "")] is None:
        yield (
            "自助办理占比：尚无咨询记录（门户查询登录、呼我必回、电话咨询），不予计算 / "
            "self_service_share: not available — no enquiries recorded yet (portal sign-ins, call-backs, phone)"
        )


# The case study's published figures (docs: ../shared/docs/domain.md): Beijing, 2021.
PUBLISHED: tuple[tuple[str, str, str], ...] = (
    ("units_paid", "已拨付单位 / units paid", "约 441,300 / about 441,300"),
    ("paid_fen", "拨付金额 / money paid", "约 9.82 亿元 / about ¥982 million"),
    ("sme_coverage", "中小微企业受益率 / SME coverage", "13.7 % (2020) → 69 % (2021)"),
    (
        "days_identified_to_money_median",
        "识别至到账 / days to money",
        "35 → 14 天 days (含公示 7 天 incl. 7 of publicity)",
    ),
    ("untouched_share", "全程免申 / untouched share", "—"),
    ("self_service_share", "自助办理 / self-service share", "89.95 %（电话 8.76 %，呼我必回 1.29 %）"),
)


def comparison_table(outcomes: Outcomes) -> Any:
    """This run's figures beside the case study's published ones, labelled as synthetic."""
    from rich.table import Table

    by = {(c.figure, c.breakdown, c.key): c.value for c in outcomes.cells}
    t = Table(title="成效对照 / outcomes beside the case study — 合成数据 / synthetic data")
    t.add_column("指标 / figure")
    t.add_column("本次演示（合成数据）/ this demo (synthetic data)", justify="right")
    t.add_column("北京 2021 公开数据 / Beijing 2021, published", justify="right")
    for figure, label, published in PUBLISHED:
        t.add_row(label, _fmt(figure, by[(figure, "total", "")]), published)
    return t
