"""The notice to a unit (告知书), one PDF per unit and kind, rendered on request and kept (``documents``):

- ``listed``: on the publicity list — the amount the public saw, the notice period, how to object;
- ``paid``: the amount, the settlement date and the last 4 digits of the account;
- ``failed``: why the payment failed, in words, and what to do.

Each letter carries the decision explained from the evidence stored with its round (``unit_facts``, the
portal lookup's text). A letter states one fact — a notice entry, a payment attempt — so its key names that
fact and the language: the second request for it gets the kept bytes, a later failure gets a letter of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db.models import TextChoices
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mianshen.cases.models import Case, NoticeEntry
from mianshen.cases.services import mask_credit_code
from mianshen.core.errors import Refusal
from mianshen.core.money import format_yuan
from mianshen.payments.lifecycle import InstructionStatus
from mianshen.payments.models import Payment
from mianshen.payments.reasons import reason_info
from mianshen.policy.families import words_of
from mianshen.staff.roles import DISTRICTS

from .documents import document_keep
from .models import Document, DocumentKind
from .unit_facts import LIVE, current_instruction, failure_code, public_explanation

BEIJING = ZoneInfo("Asia/Shanghai")
LANGS = {"zh": "zh-hans", "en": "en"}


class LetterKind(TextChoices):
    LISTED = "listed", gettext_lazy("列入公示名单")
    PAID = "paid", gettext_lazy("已拨付")
    FAILED = "failed", gettext_lazy("拨付未成功")


DOCUMENT_KINDS = {
    LetterKind.LISTED: DocumentKind.LETTER_LISTED,
    LetterKind.PAID: DocumentKind.LETTER_PAID,
    LetterKind.FAILED: DocumentKind.LETTER_FAILED,
}


class LetterUnavailable(Refusal):
    """No letter of that kind for the case (not listed, not paid, no failed payment)."""


@dataclass
class Letter:
    """What a letter says, before it is drawn: the facts in the letter's language."""

    kind: LetterKind
    lang: str
    key: str
    case: Case
    title: str
    greeting: str
    paragraphs: list[str]
    facts: list[tuple[str, str]]
    explanation: str
    footer: str
    filename: str
    extra: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """Every string the letter draws (the fonts are chosen for it)."""
        parts = [self.title, self.greeting, self.footer, self.explanation, _("决定及计算说明")]
        parts += self.paragraphs + [f"{k}{v}" for k, v in self.facts]
        return "\n".join(parts) + "第页共 0123456789/"


def _day(d: date) -> str:
    return d.isoformat()


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise LetterUnavailable(gettext_lazy("语言 %(lang)s 不可用：zh 或 en"), lang=lang)
    return lang


def letter_facts(case: Case, kind: str, lang: str = "zh") -> Letter:
    """The letter of ``kind`` for ``case`` in ``lang`` (``zh``/``en``); ``LetterUnavailable`` when the case has
    no such fact (not on a list; no settled payment; no failed payment)."""
    lang = _lang(lang)
    try:
        kind = LetterKind(kind)
    except ValueError:
        raise LetterUnavailable(
            gettext_lazy("没有 %(kind)s 这种告知书：listed、paid 或 failed"), kind=kind
        ) from None
    with translation.override(LANGS[lang]):
        return _facts(case, kind, lang)


def _facts(case: Case, kind: LetterKind, lang: str) -> Letter:
    masked = mask_credit_code(case.credit_code)
    words = words_of(case.policy_id).params(lang)  # the benefit's name: %(benefit_full)s, %(grant)s …
    facts: list[tuple[str, str]] = [
        (_("单位名称"), case.unit_name),
        (_("统一社会信用代码"), masked),
        (_("所在区"), str(DISTRICTS.get(case.district, case.district))),
        (_("案件编号"), case.number),
        (_("政策"), case.policy_id),
    ]
    if kind == LetterKind.LISTED:
        entry = NoticeEntry.objects.filter(case=case).select_related("notice").order_by("-pk").first()
        if entry is None:
            raise LetterUnavailable(gettext_lazy("案件 %(case)s 未列入公示名单"), case=case.number)
        notice = entry.notice
        start = _day(notice.starts_at.astimezone(BEIJING).date())
        end = _day((notice.ends_at.astimezone(BEIJING) - timedelta(seconds=1)).date())
        key = f"letter:listed:entry{entry.pk}:{lang}"
        paragraphs = [
            _(
                "经数据比对，贵单位符合%(benefit_full)s条件，已列入公示名单，拟%(grant)s %(amount)s 元，无需申请。"
            )
            % {"amount": format_yuan(entry.amount_fen), **words},
            _(
                "公示期 %(start)s 至 %(end)s（北京时间）。公示期满无异议的，经核准后拨付至贵单位在用的社保缴费"
                "银行账户。"
            )
            % {"start": start, "end": end},
            _(
                "如何提出异议：任何单位和个人对名单有异议的，可在公示期内通过门户网站“异议”栏目（/objections/new/）"
                "在线提出，写明理由并留下联系电话；也可向所在区社会保险经办机构书面提出。异议受理后会告知编号，"
                "核查结果可凭编号在 /objections/status/ 查询。"
            ),
        ]
        facts += [(_("拟%(grant)s金额（元）") % words, format_yuan(entry.amount_fen)), (_("公示期"), f"{start} — {end}"),
                  (_("公示名称"), notice.title)]  # fmt: skip
        title = _("%(Benefit_full)s告知书（列入公示名单）") % words
    else:
        payment = Payment.objects.filter(case=case).select_related("current").first()
        current = current_instruction(payment) if payment is not None else None
        settled = current is not None and current.status == InstructionStatus.SETTLED
        failed = (
            current is not None
            and not settled
            and current.status not in LIVE
            and payment is not None
            and payment.cancelled_at is None
        )
        if kind == LetterKind.PAID and not settled:
            raise LetterUnavailable(gettext_lazy("案件 %(case)s 没有已到账的拨付"), case=case.number)
        if kind == LetterKind.FAILED and not failed:
            raise LetterUnavailable(gettext_lazy("案件 %(case)s 没有未成功的拨付"), case=case.number)
        assert current is not None
        amount = format_yuan(current.amount_fen)
        last4 = current.creditor_account[-4:]
        key = f"letter:{kind.value}:instruction{current.pk}:{lang}"
        if kind == LetterKind.PAID:
            paid_on = _day(current.booked_on) if current.booked_on else ""
            paragraphs = [
                _(
                    "贵单位的%(benefit_full)s %(amount)s 元已于 %(date)s 拨付至尾号 %(last4)s 的账户，无需再办理"
                    "任何手续。"
                )
                % {"amount": amount, "date": paid_on, "last4": last4, **words},
            ]
            facts += [(_("%(amount_label)s（元）") % words, amount), (_("到账日期"), paid_on),
                      (_("收款账户尾号"), last4)]  # fmt: skip
            title = _("%(Benefit_full)s告知书（已拨付）") % words
        else:
            code = failure_code(current)
            info = reason_info(code or None)
            zh = lang == "zh"
            why, todo = (info.meaning_zh, info.next_step_zh) if zh else (info.meaning_en, info.next_step_en)
            paragraphs = [
                _("贵单位的%(benefit_full)s %(amount)s 元拨付至尾号 %(last4)s 的账户未成功。")
                % {"amount": amount, "last4": last4, **words},
                _("原因：%(why)s") % {"why": why},
                _(
                    "请您：%(todo)s 更正后将重新拨付，无需重新申请；进度可在 /lookup/ 查询，也可在 /callback/ "
                    "申请回电。"
                )
                % {"todo": todo},
            ]
            facts += [(_("%(amount_label)s（元）") % words, amount), (_("收款账户尾号"), last4),
                      (_("银行原因代码"), code or "—")]  # fmt: skip
            title = _("%(Benefit_full)s告知书（拨付未成功）") % words
    return Letter(
        kind=kind,
        lang=lang,
        key=key,
        case=case,
        title=title,
        greeting=_("尊敬的 %(unit)s：") % {"unit": case.unit_name},
        paragraphs=paragraphs,
        facts=facts,
        explanation=public_explanation(case, lang),
        footer=_("本告知书依据系统存档的比对证据生成（案件 %(case)s）；进度可在 /lookup/ 查询。")
        % {"case": case.number},
        filename=f"{case.number}-{kind.value}-{lang}.pdf",
    )


def letter_pdf(letter: Letter) -> bytes:
    """The letter drawn on A4: title, greeting, paragraphs, the facts as a table, the explanation."""
    from fpdf import FPDF

    from .fonts import add_fonts

    with translation.override(LANGS[letter.lang]):
        pdf = FPDF(format="A4")
        pdf.set_creation_date(letter.case.opened_at)  # the bytes do not depend on the clock of the rendering
        pdf.set_title(letter.title)
        pdf.set_auto_page_break(auto=True, margin=18)
        family = add_fonts(pdf, letter.text())
        footer = letter.footer
        pages = _("第 %(page)s 页，共 %(pages)s 页")

        def _footer() -> None:
            pdf.set_y(-14)
            pdf.set_font(family, size=8)
            pdf.cell(0, 5, footer, new_x="LMARGIN", new_y="NEXT")
            pdf.cell(0, 4, pages % {"page": pdf.page_no(), "pages": "{nb}"}, align="C")

        pdf.footer = _footer  # type: ignore[method-assign]
        pdf.add_page()
        pdf.set_font(family, size=16)
        pdf.multi_cell(0, 9, letter.title, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.set_font(family, size=11)
        pdf.multi_cell(0, 7, letter.greeting, align="L", new_x="LMARGIN", new_y="NEXT")
        for paragraph in letter.paragraphs:
            pdf.multi_cell(0, 7, paragraph, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        pdf.ln(3)
        pdf.set_font(family, size=10)
        for label, value in letter.facts:
            pdf.cell(45, 7, label, border="B")
            pdf.multi_cell(0, 7, value, border="B", align="L", new_x="LMARGIN", new_y="NEXT")
        if letter.explanation:
            pdf.ln(5)
            pdf.set_font(family, size=12)
            pdf.cell(0, 8, _("决定及计算说明"), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, size=9)
            for line in letter.explanation.splitlines():
                pdf.multi_cell(0, 5, line or " ", align="L", new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())


def letter_document(
    *, case: Case, kind: str, lang: str = "zh", actor: str, actor_id: int | None = None
) -> Document:
    """The kept letter of ``kind`` for ``case`` (rendered and kept on the first request); ``LetterUnavailable``
    when the case has no such fact."""
    letter = letter_facts(case, kind, lang)
    return document_keep(
        key=letter.key,
        render=lambda: letter_pdf(letter),
        actor=actor,
        actor_id=actor_id,
        kind=DOCUMENT_KINDS[letter.kind],
        case=case,
        lang=letter.lang,
        filename=letter.filename,
    )


def letters_available(case: Case) -> list[LetterKind]:
    """The kinds of letter the case has a fact for now (for the links on the case and lookup pages)."""
    kinds: list[LetterKind] = []
    if NoticeEntry.objects.filter(case=case).exists():
        kinds.append(LetterKind.LISTED)
    payment = Payment.objects.filter(case=case).select_related("current").first()
    current = current_instruction(payment) if payment is not None else None
    if current is not None and payment is not None:
        if current.status == InstructionStatus.SETTLED:
            kinds.append(LetterKind.PAID)
        elif current.status not in LIVE and payment.cancelled_at is None:
            kinds.append(LetterKind.FAILED)
    return kinds
