"""The outcome statistics as a PDF report (contracts §5 "a report with charts"): the figures' totals, a bar chart
of SME coverage and of money by district, each chart with its table, Chinese text in Noto Sans CJK SC.

The font is embedded as a subset (only the glyphs used), so a report is tens of kilobytes, not the whole 20 MB
collection. ``MIANSHEN_CJK_FONT`` names another font file (``.ttc`` index with ``MIANSHEN_CJK_FONT_INDEX``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from mianshen.policy.families import words_of

from .exports import _fmt, shown
from .fonts import FontMissing, cjk_font
from .selectors import FIGURES, LABELS, Outcomes

__all__ = ["FontMissing", "cjk_font", "write_pdf"]


def write_pdf(outcomes: Outcomes, path: Path, *, public: bool) -> None:
    from fpdf import FPDF

    font, index = cjk_font()
    words = words_of(outcomes.policy_id)
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("cjk", fname=font, collection_font_number=index)
    pdf.set_title(f"成效统计 outcome statistics {outcomes.policy_id}")
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(
        0,
        10,
        f"{words.zh_full} 成效统计 / outcome statistics — {outcomes.policy_id}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("cjk", size=9)
    note = f"round {outcomes.round_number}" if outcomes.round_number is not None else "no completed round"
    if public:
        note += " · 公开口径：少于 5 个单位的格子留空 / public: cells under 5 units empty"
    pdf.cell(0, 6, note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    by = {(c.figure, c.breakdown, c.key): shown(c, public=public) for c in outcomes.cells}

    # every figure's total
    pdf.set_font("cjk", size=10)
    for figure in FIGURES:
        pdf.cell(130, 6.5, LABELS[figure], border="B")
        pdf.cell(
            50,
            6.5,
            _fmt(figure, by[(figure, "total", "")]),
            border="B",
            align="R",
            new_x="LMARGIN",
            new_y="NEXT",
        )

    # charts, each with its table
    districts = outcomes.keys("district")
    _bars(pdf, "中小微企业受益率（按区）/ SME coverage by district", districts,
          [by[("sme_coverage", "district", d)] for d in districts], ratio=True)  # fmt: skip
    _bars(pdf, "拨付金额（元，按区）/ money paid by district (yuan)", districts,
          [by[("paid_fen", "district", d)] for d in districts], ratio=False)  # fmt: skip
    pdf.output(str(path))


def _bars(
    pdf: object, title: str, keys: list[str], values: list[int | Decimal | None], *, ratio: bool
) -> None:
    """A horizontal bar chart with the values written beside each bar (the chart is its own table)."""
    from fpdf import FPDF

    assert isinstance(pdf, FPDF)
    pdf.add_page()
    pdf.set_font("cjk", size=12)
    pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    numbers = [Decimal(v) if v is not None else None for v in values]
    top = max([n for n in numbers if n is not None], default=Decimal(0))
    if ratio:
        top = max(top, Decimal(1))
    width = 110.0
    for key, n in zip(keys, numbers, strict=True):
        y = pdf.get_y()
        pdf.cell(22, 6, key)
        x = pdf.get_x()
        if n is not None and top > 0:
            pdf.set_fill_color(70, 110, 170)
            pdf.rect(x, y + 1, float(Decimal(width) * n / top), 4, style="F")  # drawing units, not money
        pdf.set_x(x + width + 2)
        if n is None:
            text = "—"
        elif ratio:
            text = f"{n:.4f} ({(n * 100).quantize(Decimal('0.01'))} %)"
        else:
            text = f"¥{(int(n) + 50) // 100:,}"
        pdf.cell(50, 6, text, align="R", new_x="LMARGIN", new_y="NEXT")
