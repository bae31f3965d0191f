"""The publicity list for posting (公示名单，张贴用), one PDF per notice and district: the notice's period, how to
object, and every listed unit of the district (name, masked credit code, amount) in the order of the frozen
notice, with the table header repeated on every page and page numbers "page x of n". Kept like a letter
(``documents``): rendered on the first request, the same bytes afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mianshen.cases.models import Notice, NoticeEntry
from mianshen.core.errors import Refusal
from mianshen.core.money import format_yuan
from mianshen.policy.families import words_of
from mianshen.staff.roles import DISTRICTS

from .documents import document_keep
from .models import Document, DocumentKind

BEIJING = ZoneInfo("Asia/Shanghai")
LANGS = {"zh": "zh-hans", "en": "en"}
# column widths (mm) on A4 portrait with 12 mm margins: number, name, masked credit code, amount
WIDTHS = (16.0, 100.0, 38.0, 32.0)
ROW = 6.0


class ListUnavailable(Refusal):
    """No such district or language for a publicity list."""


def _rows(notice: Notice, district: str) -> list[tuple[str, str, int]]:
    return list(
        NoticeEntry.objects.filter(notice=notice, district=district)
        .order_by("pk")
        .values_list("unit_name", "masked_credit_code", "amount_fen")
        .iterator(chunk_size=10_000)
    )


def publicity_list_pdf(notice: Notice, district: str, lang: str = "zh") -> bytes:
    """The district's list of ``notice`` as PDF bytes (``lang``: ``zh`` or ``en`` for the headings)."""
    if district not in DISTRICTS:
        raise ListUnavailable(gettext_lazy("没有代码为 %(district)s 的区"), district=district)
    if lang not in LANGS:
        raise ListUnavailable(gettext_lazy("语言 %(lang)s 不可用：zh 或 en"), lang=lang)
    rows = _rows(notice, district)
    with translation.override(LANGS[lang]):
        return _draw(notice, district, rows)


def _draw(notice: Notice, district: str, rows: list[tuple[str, str, int]]) -> bytes:
    from fpdf import FPDF

    from .fonts import add_fonts

    start = notice.starts_at.astimezone(BEIJING).date().isoformat()
    end = (notice.ends_at.astimezone(BEIJING) - timedelta(seconds=1)).date().isoformat()
    district_name = str(DISTRICTS[district])
    words = words_of(notice.policy_id).params(translation.get_language() or "zh")
    title = _("%(Benefit_full)s公示名单 — %(district)s") % {"district": district_name, **words}
    intro = [
        _("公示名称：%(title)s") % {"title": notice.title},
        _("公示期：%(start)s 至 %(end)s（北京时间），共 %(count)s 家单位，拟%(grant)s合计 %(total)s 元。")
        % {"start": start, "end": end, "count": f"{len(rows):,}", "total": format_yuan(sum(r[2] for r in rows)),
           **words},
        _("以下单位经数据比对符合%(benefit_full)s条件，无需申请。任何单位和个人对名单有异议的，可在公示期内通过"
          "门户网站“异议”栏目（/objections/new/）在线提出，写明理由并留下联系电话；也可向所在区社会保险经办"
          "机构书面提出。统一社会信用代码中间部分以 * 隐去。") % words,
    ]  # fmt: skip
    heads = (_("序号"), _("单位名称"), _("统一社会信用代码"), _("拟%(grant)s金额（元）") % words)
    pages = _("第 %(page)s 页，共 %(pages)s 页")
    text = "".join([title, *intro, *heads, pages, "0123456789,.*/{}"] + [r[0] + r[1] for r in rows])

    pdf = FPDF(format="A4")
    pdf.alias_nb_pages("{pages-total}")
    pdf.set_creation_date(notice.starts_at)
    pdf.set_title(title)
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(auto=False)
    family = add_fonts(pdf, text)

    def _header() -> None:
        if pdf.page_no() > 1:
            pdf.set_font(family, size=9)
            pdf.cell(0, 5, title, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font(family, size=15)
            pdf.multi_cell(0, 9, title, align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, size=10)
            for line in intro:
                pdf.multi_cell(0, 6, line, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        pdf.set_font(family, size=9)
        pdf.set_fill_color(230, 234, 240)
        for width, head in zip(WIDTHS, heads, strict=True):
            pdf.cell(width, 7, head, border=1, fill=True, align="C")
        pdf.ln(7)

    def _footer() -> None:
        pdf.set_y(-12)
        pdf.set_font(family, size=8)
        pdf.cell(0, 5, pages % {"page": pdf.page_no(), "pages": "{pages-total}"}, align="C")

    pdf.header = _header  # type: ignore[method-assign]
    pdf.footer = _footer  # type: ignore[method-assign]
    pdf.add_page()
    _table(pdf, rows, family)
    return bytes(pdf.output())


def _table(pdf: object, rows: list[tuple[str, str, int]], family: str) -> None:
    """The rows, drawn fast: a row whose characters are all in the main font is written with ``text`` (no
    per-character font fallback) and measured with cached character widths; a row with a rarer character goes
    through ``cell``, which falls back to the font that has it."""
    from fpdf import FPDF

    from .fonts import shards

    assert isinstance(pdf, FPDF)
    core = shards()[0]
    widths: dict[str, float] = {}

    def width(text: str) -> float:
        total = 0.0
        for ch in text:
            w = widths.get(ch)
            if w is None:
                w = widths[ch] = pdf.get_string_width(ch)
            total += w
        return total

    bottom = pdf.h - 16
    left = pdf.l_margin
    edges = [left]
    for w in WIDTHS:
        edges.append(edges[-1] + w)
    name_width = WIDTHS[1] - 2
    baseline = ROW / 2 + 1.2
    for number, (name, code, amount) in enumerate(rows, start=1):
        plain = all(ord(c) in core for c in name)
        measure = width if plain else pdf.get_string_width
        lines = [name] if measure(name) <= name_width else _wrap(name, measure, name_width)
        height = ROW * len(lines)
        if pdf.get_y() + height > bottom:
            pdf.add_page()
        y = pdf.get_y()
        seq, yuan = str(number), format_yuan(amount)
        pdf.text(edges[1] - 1.5 - width(seq), y + baseline, seq)
        for i, line in enumerate(lines):
            if plain:
                pdf.text(edges[1] + 1, y + i * ROW + baseline, line)
            else:
                pdf.set_xy(edges[1], y + i * ROW)
                pdf.cell(WIDTHS[1], ROW, line)
        pdf.text((edges[2] + edges[3] - width(code)) / 2, y + baseline, code)
        pdf.text(edges[4] - 1.5 - width(yuan), y + baseline, yuan)
        for x in edges:
            pdf.line(x, y, x, y + height)
        pdf.line(left, y + height, edges[-1], y + height)
        pdf.set_xy(left, y + height)


def _wrap(text: str, measure: Callable[[str], float], width: float) -> list[str]:
    """``text`` cut into lines no wider than ``width`` (a long unit name: character by character, as Chinese
    wraps)."""
    lines, line, used = [], "", 0.0
    for ch in text:
        w = measure(ch)
        if line and used + w > width:
            lines.append(line)
            line, used = "", 0.0
        line += ch
        used += w
    return [*lines, line] if line else lines


def publicity_list_document(
    *, notice: Notice, district: str, lang: str = "zh", actor: str, actor_id: int | None = None
) -> Document:
    """The kept list of ``district`` for ``notice`` (rendered and kept on the first request)."""
    return document_keep(
        key=f"publicity:notice{notice.pk}:{district}:{lang}",
        render=lambda: publicity_list_pdf(notice, district, lang),
        actor=actor,
        actor_id=actor_id,
        kind=DocumentKind.PUBLICITY_LIST,
        notice=notice,
        district=district,
        lang=lang,
        filename=f"notice{notice.pk}-{district}-{lang}.pdf",
    )
