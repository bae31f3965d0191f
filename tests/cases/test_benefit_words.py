"""What a unit reads names the benefit its case is about: the refund's texts read exactly as they always did, and a
case of a 2022 subsidy is never told about a 稳岗返还 — in its messages (SMS, inbox, e-mail subject), its letters, the
district publicity list, the portal's amount labels, its lookup and its objection's outcome."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone, translation

from mianshen.cases.models import Case, Notice
from mianshen.cases.services import notice_open
from mianshen.cases.states import State
from mianshen.cases.transitions import case_transition
from mianshen.notify.kinds import CATALOGUE, Kind, benefit, render, word
from mianshen.notify.models import Message
from mianshen.notify.senders import subject
from mianshen.policy.families import FAMILIES, REFUND_WORDS, family_of, words_of
from mianshen.portal.lookup import build_case_views
from mianshen.portal.selectors import amount_label
from mianshen.reports.letters import letter_facts
from mianshen.reports.publicity_list import publicity_list_pdf

from ..reports.pdfcheck import pdf_text

REFUND = "beijing-2021"
RETENTION = "retention-training-2022"
JOBS = "job-expansion-2022"
PARAMS = {"unit_name": "甲公司", "amount": "1,234.56", "start": "2021-07-01", "end": "2021-07-07",
          "date": "2021-08-02", "last4": "0042", "what": "已被退回", "why": "账户已销户", "next_step": "请更正账户。",
          "firm_name": "乙派遣公司", "workers": 3}  # fmt: skip

# The refund's Chinese texts as they were before the benefit became a parameter, byte for byte.
REFUND_ZH = {
    Kind.LISTED: "甲公司：贵单位已列入失业保险稳岗返还公示名单，拟返还 1,234.56 元，无需申请。公示期 2021-07-01 至 "
    "2021-07-07。对名单有异议的，可在公示期内在 /objections/new/ 提出。",
    Kind.APPROVED: "甲公司：贵单位的稳岗返还 1,234.56 元已核准，将拨付至登记的对公账户。",
    Kind.PAID: "甲公司：稳岗返还 1,234.56 元已于 2021-08-02 拨付至尾号 0042 的账户。",
    Kind.PAYMENT_FAILED: "甲公司：稳岗返还款 1,234.56 元已被退回：账户已销户。请更正账户。 进度可在 /lookup/ 查询。",
    Kind.NO_ACCOUNT: "甲公司：单位未登记可用的社保缴费银行账户，稳岗返还 1,234.56 元暂无法拨付：请登记有效的对公账户，"
    "经复核后拨付，无需重新申请。进度可在 /lookup/ 查询。",
    Kind.DROPPED: "甲公司：经公示后的比对，贵单位不再符合稳岗返还条件（账户已销户）。说明可在 /lookup/ 查看，"
    "也可在 /callback/ 申请回电。",
    Kind.MUST_APPLY: "甲公司：贵单位在重点监管名单上，稳岗返还须主动申请：请在 /lookup/ 验证后于 /apply/ 提交。",
    Kind.CONFIRM_DISPATCH: "甲公司：劳务派遣单位乙派遣公司申报向贵单位派遣了 3 人，请在 /lookup/ 验证后于 /apply/ "
    "确认或提出异议，确认后该单位的稳岗返还方可继续办理。",
}
NAMED = [kind for kind, info in CATALOGUE.items() if "{benefit" in info.text or "{grant}" in info.text]


def test_every_text_about_a_case_names_its_benefit() -> None:
    assert set(NAMED) == set(REFUND_ZH)  # a new kind naming the benefit gets its refund text pinned here


@pytest.mark.parametrize("kind", sorted(REFUND_ZH))
def test_the_refund_reads_as_it_always_did(kind: Kind) -> None:
    assert render(kind, {**PARAMS, **benefit(REFUND)}, "zh-hans") == REFUND_ZH[kind]
    english = render(kind, {**PARAMS, **benefit(REFUND)}, "en")
    assert "{" not in english and "refund" in english


@pytest.mark.parametrize("policy", [RETENTION, JOBS, "job-expansion-2023", "job-expansion-2025"])
@pytest.mark.parametrize("kind", sorted(REFUND_ZH))
def test_a_subsidy_is_named_for_what_it_is(policy: str, kind: Kind) -> None:
    words = words_of(policy)
    zh = render(kind, {**PARAMS, **benefit(policy)}, "zh-hans")
    en = render(kind, {**PARAMS, **benefit(policy)}, "en")
    assert words.zh in zh and "稳岗返还" not in zh and "返还" not in zh
    assert words.en in en and "refund" not in en.lower() and "{" not in en


def test_every_family_has_its_words_and_its_remittance_prefix() -> None:
    names = {family.words.zh for family in FAMILIES.values()}
    assert len(names) == len(FAMILIES)  # no two benefits share a name
    for family in FAMILIES.values():
        assert family.remittance_prefix == family.words.zh
        assert family.words.zh in family.words.zh_full and family.words.en in family.words.en_full
    assert words_of("no-such-policy") == REFUND_WORDS  # a withdrawn policy's cases still read as they did


def test_an_upheld_objection_says_what_is_not_paid() -> None:
    assert word("objection_upheld", words_of(REFUND))["zh"] == "异议成立，不予返还"
    assert word("objection_upheld", words_of(RETENTION)) == {
        "zh": "异议成立，不予发放",
        "en": "the objection was upheld; the job-retention training subsidy is not paid",
    }


def test_an_email_subject_names_the_benefit() -> None:
    assert subject(benefit(REFUND)) == "稳岗返还通知 / Job-stabilisation refund"  # as before
    assert subject(benefit(JOBS)) == "扩岗补助通知 / Job-expansion subsidy"
    assert subject({"code": "123456"}) == "稳岗返还通知 / Job-stabilisation refund"  # a code names no benefit


# ---- through the real paths: cases, notice, messages, letters, the list, the portal -------------------------


def _case(policy: str, unit: str, state: State = State.RECHECKED) -> Case:
    return Case.objects.create(policy_id=policy, unit_id=unit, credit_code=f"9111010{unit[-1]}MA0123456X",
                               unit_name=f"北京{unit}有限公司", district="110105", state=state.value,
                               amount_fen=150000)  # fmt: skip


def _open(policy: str) -> Notice:
    today = timezone.localdate()
    return notice_open(policy_id=policy, actor="officer", start=today - timedelta(days=1), days=7)


@pytest.mark.django_db
def test_a_retention_case_is_told_about_the_retention_subsidy(tmp_path: Path) -> None:
    listed, other = _case(RETENTION, "U1"), _case(RETENTION, "U2")
    notice = _open(RETENTION)
    assert notice.title == f"{RETENTION} 留工培训补助公示"
    case_transition(case_id=listed.pk, to=State.APPROVED, actor="round 3", reason="notice ended")
    case_transition(case_id=other.pk, to=State.OBJECTED, actor="officer", reason="objection")
    case_transition(case_id=other.pk, to=State.EXCLUDED, actor="officer", reason="upheld")
    messages = list(Message.objects.filter(case_id__in=[listed.pk, other.pk]))
    assert {m.kind for m in messages} == {"listed", "approved", "objection_outcome"}
    for m in messages:
        assert "稳岗返还" not in m.body_zh and "refund" not in m.body_en.lower(), m.body_en
    listed_zh = next(m.body_zh for m in messages if m.kind == "listed")
    assert "贵单位已列入一次性留工培训补助公示名单，拟发放 1,500.00 元" in listed_zh
    approved_en = next(m.body_en for m in messages if m.kind == "approved")
    assert "your job-retention training subsidy of 1,500.00 yuan is approved" in approved_en
    outcome = next(m.body_zh for m in messages if m.kind == "objection_outcome")
    assert "异议成立，不予发放" in outcome

    # the letters (告知书), in both languages
    letter = letter_facts(Case.objects.get(pk=listed.pk), "listed", "zh")
    assert letter.title == "一次性留工培训补助告知书（列入公示名单）"
    assert (
        "符合一次性留工培训补助条件" in letter.paragraphs[0] and "拟发放 1,500.00 元" in letter.paragraphs[0]
    )
    assert ("拟发放金额（元）", "1,500.00") in letter.facts
    letter_en = letter_facts(Case.objects.get(pk=listed.pk), "listed", "en")
    assert letter_en.title == "Job-retention training subsidy: notice to the unit (on the publicity list)"
    assert ("Subsidy proposed (yuan)", "1,500.00") in letter_en.facts

    # the district's list for posting
    text = "".join(pdf_text(publicity_list_pdf(notice, "110105"), tmp_path).split())
    assert "一次性留工培训补助公示名单" in text and "拟发放金额（元）" in text and "拟发放合计" in text
    assert "稳岗返还" not in text and "返还" not in text

    # the portal: the publicity page's amount column, the lookup's label and next step
    page = Client().get("/publicity/").content.decode()
    assert "补助金额（元）" in page and "返还金额（元）" not in page
    views = {v.case_id: v for v in build_case_views((listed.pk, other.pk), "zh")}
    with translation.override("zh-hans"):
        assert views[listed.pk].amount_label == "补助金额（元）"
    assert views[other.pk].next_step.startswith("本次不予发放")


@pytest.mark.django_db
def test_the_refund_keeps_its_words_through_the_same_paths(tmp_path: Path) -> None:
    case = _case(REFUND, "U3")
    notice = _open(REFUND)
    assert notice.title == f"{REFUND} 稳岗返还公示"
    listed = Message.objects.get(case_id=case.pk, kind="listed", channel="inbox")
    assert "贵单位已列入失业保险稳岗返还公示名单，拟返还 1,500.00 元，无需申请。" in listed.body_zh
    letter = letter_facts(Case.objects.get(pk=case.pk), "listed", "en")
    assert letter.title == "Job-stabilisation refund: notice to the unit (on the publicity list)"
    assert ("Refund proposed (yuan)", "1,500.00") in letter.facts
    text = "".join(pdf_text(publicity_list_pdf(notice, "110105"), tmp_path).split())
    assert "失业保险稳岗返还公示名单" in text and "拟返还金额（元）" in text
    page = Client().get("/publicity/").content.decode()
    assert "返还金额（元）" in page


def test_mixed_notices_label_the_amount_plainly() -> None:
    with translation.override("zh-hans"):
        assert amount_label([REFUND]) == "返还金额（元）"
        assert amount_label([RETENTION, JOBS]) == "金额（元）"
        assert amount_label([REFUND, REFUND]) == "返还金额（元）"
    with translation.override("en"):
        assert amount_label([RETENTION]) == "Subsidy (yuan)"
        assert amount_label([REFUND]) == "Refund (yuan)"
        assert amount_label([]) == "Amount (yuan)"  # no notice open: the plain label
    assert family_of(JOBS).words.zh_full == "一次性扩岗补助"
