"""The letters to units (告知书) over the back office's generated city with payments (the real path: generate →
import → rounds → notice → release → the bank simulator's answers): one PDF per kind, its text read back by
pdftotext and compared with the stored facts and the lookup's explanation; fonts embedded as subsets with a
glyph for every character (rare ones outside GB2312 included); kept once and served unchanged; audited."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.cases.models import Case, NoticeEntry
from mianshen.cases.services import mask_credit_code
from mianshen.core.money import format_yuan
from mianshen.payments.models import Payment
from mianshen.payments.reasons import reason_info
from mianshen.reports.letters import (
    LetterUnavailable,
    letter_document,
    letter_facts,
    letter_pdf,
    letters_available,
)
from mianshen.reports.models import Document
from mianshen.reports.unit_facts import current_instruction, failure_code, public_explanation

from ..backoffice.conftest import pay, world  # noqa: F401  (the module-scoped city and its payments)
from ..backoffice.payworld import PayWorld
from .pdfcheck import missing_glyphs, pdf_fonts, pdf_text

pytestmark = pytest.mark.django_db
BEIJING = ZoneInfo("Asia/Shanghai")
RARE = "𠀀㐀䶵鿏喆堃昇"


def flat(text: str) -> str:
    """Text without any white space: pdftotext breaks lines where the PDF wraps them."""
    return "".join(text.split())


def read(doc: Document, tmp: Path) -> str:
    """The letter's text without its page footers (a footer falls between two pages' lines)."""
    text = flat(pdf_text(bytes(doc.content), tmp))
    return re.sub(r"本告知书依据.*?查询。第\d+页，共\d+页|This letter.*?/lookup/\.Page\d+of\d+", "", text)


def test_listed_letter_says_amount_period_how_to_object_and_explains(pay: PayWorld, tmp_path: Path) -> None:  # noqa: F811
    case = Case.objects.get(pk=pay.publicised.pk)
    entry = NoticeEntry.objects.select_related("notice").filter(case=case).latest("pk")
    doc = letter_document(case=case, kind="listed", actor="officer")
    text = flat(read(doc, tmp_path))
    start = entry.notice.starts_at.astimezone(BEIJING).date().isoformat()
    end = (entry.notice.ends_at.astimezone(BEIJING) - timedelta(seconds=1)).date().isoformat()
    assert flat("失业保险稳岗返还告知书（列入公示名单）") in text
    assert flat(case.unit_name) in text and mask_credit_code(case.credit_code) in text
    assert flat(f"拟返还 {format_yuan(entry.amount_fen)} 元") in text
    assert flat(f"公示期 {start} 至 {end}") in text and "/objections/new/" in text
    explanation = public_explanation(case, "zh")
    assert explanation and flat(explanation) in text  # the lookup's text, whole
    assert case.credit_code not in text  # masked everywhere


def test_paid_letter_says_amount_date_and_last_four_digits(pay: PayWorld, tmp_path: Path) -> None:  # noqa: F811
    case = Case.objects.get(pk=pay.paid.pk)
    instruction = current_instruction(Payment.objects.get(case=case))
    assert instruction is not None and instruction.booked_on is not None
    text = flat(read(letter_document(case=case, kind="paid", actor="officer"), tmp_path))
    last4 = instruction.creditor_account[-4:]
    expected = (
        f"{format_yuan(instruction.amount_fen)} 元已于 {instruction.booked_on.isoformat()} 拨付至尾号 {last4}"
    )
    assert flat(expected) in text
    assert instruction.creditor_account not in text  # only the last four digits
    assert flat(public_explanation(case, "zh")) in text


def test_failed_letter_says_why_and_what_to_do(pay: PayWorld, tmp_path: Path) -> None:  # noqa: F811
    case = Case.objects.get(pk=pay.failed.pk)
    instruction = current_instruction(Payment.objects.get(case=case))
    assert instruction is not None
    info = reason_info(failure_code(instruction) or None)
    text = flat(read(letter_document(case=case, kind="failed", actor="officer"), tmp_path))
    assert flat(info.meaning_zh) in text and flat(info.next_step_zh) in text
    assert (
        flat(f"{format_yuan(instruction.amount_fen)} 元拨付至尾号 {instruction.creditor_account[-4:]}")
        in text
    )
    english = letter_document(case=case, kind="failed", lang="en", actor="officer")
    english_text = flat(read(english, tmp_path))
    assert flat(info.meaning_en) in english_text and flat(info.next_step_en) in english_text
    assert flat(public_explanation(case, "en")) in english_text


def test_a_letter_is_kept_once_and_served_unchanged(pay: PayWorld) -> None:  # noqa: F811
    case = Case.objects.get(pk=pay.paid.pk)
    first = letter_document(case=case, kind="paid", actor="a")
    again = letter_document(case=case, kind="paid", actor="b")
    assert again.pk == first.pk and bytes(again.content) == bytes(first.content)
    assert hashlib.sha256(bytes(first.content)).hexdigest() == first.sha256 and first.size == len(
        first.content
    )
    kept = AuditEvent.objects.filter(action=Action.DOCUMENT_KEPT, object_id=str(first.pk))
    assert kept.count() == 1 and kept.get().after["sha256"] == first.sha256
    assert Document.objects.filter(case=case, kind="letter_paid").count() == 1


def test_no_letter_without_its_fact(pay: PayWorld) -> None:  # noqa: F811
    unpaid = Case.objects.get(pk=pay.publicised.pk)
    assert letters_available(unpaid) == ["listed"]
    for kind in ("paid", "failed"):
        with pytest.raises(LetterUnavailable):
            letter_document(case=unpaid, kind=kind, actor="x")
    with pytest.raises(LetterUnavailable):
        letter_document(case=unpaid, kind="nonsense", actor="x")
    with pytest.raises(LetterUnavailable):
        letter_document(case=unpaid, kind="listed", lang="fr", actor="x")
    assert letters_available(Case.objects.get(pk=pay.paid.pk))[-1] == "paid"
    assert letters_available(Case.objects.get(pk=pay.failed.pk))[-1] == "failed"
    assert not Document.objects.filter(case=unpaid).exclude(kind="letter_listed").exists()


def test_rare_characters_render_with_a_glyph_each(pay: PayWorld, tmp_path: Path) -> None:  # noqa: F811
    """Characters outside GB2312 (Ext-A, Ext-B, the newest URO) in a unit's name: each has a real glyph in an
    embedded subset font (Noto Sans CJK, or the Ext-B fallback) and pdftotext gives each back."""
    case = Case.objects.get(pk=pay.paid.pk)
    case.unit_name = f"北京{RARE}科技有限公司"
    letter = letter_facts(case, "paid")
    data = letter_pdf(letter)
    text = pdf_text(data, tmp_path)
    assert flat(case.unit_name) in flat(text)
    assert missing_glyphs(data, letter.text()) == set()
    fonts = pdf_fonts(data, tmp_path)
    assert len(fonts) >= 2  # the main font and a fallback for U+20000
    assert all(emb == "yes" and sub == "yes" and uni == "yes" for _name, emb, sub, uni in fonts), fonts
    assert all("+" in name for name, *_ in fonts)  # subset prefix: ABCDEF+Name
    assert len(data) < 200_000  # subsets, not the 20 MB collection


def test_the_glyph_check_sees_a_missing_glyph(pay: PayWorld, tmp_path: Path) -> None:  # noqa: F811
    """The checker is not blind: a character drawn with a font that lacks it (core fonts only, no fallback)
    is reported missing."""
    from fpdf import FPDF

    from mianshen.reports.fonts import fonts_for

    pdf = FPDF()
    pdf.add_font("core", fname=str(fonts_for("北")[0]))
    pdf.add_page()
    pdf.set_font("core", size=12)
    pdf.cell(0, 10, "北京𠀀")
    data = bytes(pdf.output())
    assert missing_glyphs(data, "北京𠀀") == {"𠀀"}


def test_command_writes_the_kept_letter(pay: PayWorld, tmp_path: Path) -> None:  # noqa: F811
    case = Case.objects.get(pk=pay.paid.pk)
    out = tmp_path / "letter.pdf"
    call_command("notice-letter", "--unit", case.unit_id, "--kind", "paid", "--out", str(out))
    doc = Document.objects.get(case=case, kind="letter_paid", lang="zh")
    assert out.read_bytes() == bytes(doc.content)
    assert AuditEvent.objects.filter(action=Action.DOCUMENT_DOWNLOADED, object_id=str(doc.pk)).exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--unit", "NOSUCHUNIT", "--kind", "paid"], "no case for that credit code"),
        (["--unit", "@publicised", "--kind", "paid"], "no settled payment|没有已到账的拨付"),
        (["--unit", "@publicised", "--kind", "listed", "--out", "/nonexistent/x.pdf"], "no such directory"),
    ],
)
def test_command_refuses_bad_input_in_one_line(
    pay: PayWorld,  # noqa: F811
    tmp_path: Path,
    args: list[str],
    says: str,
) -> None:
    unit = Case.objects.get(pk=pay.publicised.pk).unit_id
    args = [unit if a == "@publicised" else a for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "x.pdf")]
    with pytest.raises(CommandError, match=says) as caught:
        call_command("notice-letter", *args, "--lang", "zh")
    assert "\n" not in str(caught.value)


def test_a_character_no_font_has_is_refused_in_one_line(pay: PayWorld, tmp_path: Path) -> None:  # noqa: F811
    """A name with a character no installed font draws (a private-use code point): no letter with an empty box,
    nothing kept; the command says which character in one line, exit 2."""
    from mianshen.reports.fonts import GlyphMissing

    case = Case.objects.get(pk=pay.publicised.pk)
    Case.objects.filter(pk=case.pk).update(unit_name="北京\U000f0000科技有限公司")
    case.refresh_from_db()
    with pytest.raises(GlyphMissing, match="U\\+F0000"):
        letter_document(case=case, kind="listed", actor="x")
    assert not Document.objects.filter(case=case).exists()
    with pytest.raises(CommandError, match="U\\+F0000") as caught:
        call_command(
            "notice-letter", "--unit", case.unit_id, "--kind", "listed", "--out", str(tmp_path / "x.pdf")
        )
    assert "\n" not in str(caught.value) and caught.value.returncode == 2
    assert not (tmp_path / "x.pdf").exists()
