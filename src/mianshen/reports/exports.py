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
        w.writerow([escape_cell(figure), escape_cell(breakdown), escape_cell(key), escape_cell(value_text(value))])


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


def _fmt(figure: str, value: int | Decimal | None) -> str:
    if value is None:
        return "—"
    if figure in RATIOS:
        assert isinstance(value, Decimal)
        return f"{value} ({(value * 100).quantize(Decimal('0.01'))} %)"
    if figure == "paid_fen":
        whole, cents = divmod(int(value), 100)
        return f"¥{whole:,}.{cents:02d}"
    return f"{value:,}"


def tables(outcomes: Outcomes, *, public: bool) -> Iterable[Any]:
    """Rich tables: the figures (total and by size class), then the main figures by district."""
    from rich.table import Table

    by: dict[tuple[str, str, str], int | Decimal | None] = {
        (c.figure, c.breakdown, c.key): shown(c, public=public) for c in outcomes.cells
    }
    title = f"成效统计 / outcome statistics — {outcomes.policy_id}"
    if outcomes.round_number is not None:
        title += f" (round {outcomes.round_number})"
    main = Table(title=title + (" — 公开口径 / public (cells < 5 units empty)" if public else ""))
    main.add_column("指标 / figure")
    main.add_column("合计 / total", justify="right")
    for size in SIZE_CLASSES:
        main.add_column(size, justify="right")
    for figure in FIGURES:
        main.add_row(
            LABELS[figure],
            _fmt(figure, by[(figure, "total", "")]),
            *(_fmt(figure, by[(figure, "size_class", s)]) for s in SIZE_CLASSES),
        )
    yield main
    districts = outcomes.keys("district")
    if districts:
        shown_figures = ("units_insured", "units_paid", "paid_fen", "sme_coverage", "days_identified_to_money_median")
        dt = Table(title="按区 / by district")
        dt.add_column("区 / district")
        for figure in shown_figures:
            dt.add_column(LABELS[figure], justify="right")
        for d in districts:
            dt.add_row(d, *(_fmt(f, by[(f, "district", d)]) for f in shown_figures))
        yield dt
    if by[("self_service_share", "total", "")] is None:
        yield (
            "自助办理占比：暂无咨询记录来源（门户查询、呼我必回、电话咨询尚未接入），不予计算 / "
            "self_service_share: not available — no enquiries are recorded yet"
        )
