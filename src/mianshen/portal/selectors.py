"""What the public pages read: the publicity list (search, district, pages, CSV), the guide's figures (from the
parameter set in force) and the questions and answers."""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext as marked  # a message marked N_() where it is defined
from django.utils.translation import gettext_noop as N_

from mianshen.cases.models import Notice, NoticeEntry
from mianshen.cases.services import mask_credit_code
from mianshen.core.money import format_yuan
from mianshen.policy.families import words_of
from mianshen.policy.numbers import percent_bp
from mianshen.policy.parameters import ResolvedParams, get_policy, resolve
from mianshen.staff.roles import DISTRICTS

from .districts import district_name
from .models import PublicityGram
from .publicity_index import is_short
from .view_cache import ViewCache

FULL_CODE = re.compile(r"^[0-9A-Z]{18}$")
CODE_PART = re.compile(r"^[0-9A-Za-z]{1,6}$")
COUNT_CAP = 1000
MAX_QUERY = 60
MAX_PAGE = 100_000
CSV_CHUNK = 2000


class SearchError(ValueError):
    """A search the list cannot run: ``field`` names the input, ``str()`` the message in the active language."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PublicityRow:
    id: int
    notice_id: int
    unit_name: str
    masked_credit_code: str
    district: str
    amount_fen: int

    @property
    def district_name(self) -> str:
        return district_name(self.district)

    @property
    def amount_yuan(self) -> str:
        return format_yuan(self.amount_fen)


@dataclass(frozen=True)
class PublicityPage:
    rows: list[PublicityRow]
    page: int
    page_size: int
    has_next: bool
    total: int
    total_capped: bool  # more than COUNT_CAP matched: ``total`` is COUNT_CAP
    open_notices: list[Notice]
    closed_notices: list[Notice]
    q: str
    district: str

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def notice_is_open(notice: Notice, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return notice.closed_at is None and notice.starts_at <= now < notice.ends_at


def amount_label(policy_ids: Iterable[str]) -> str:
    """The label of an amount about cases of ``policy_ids``, in the active language: the benefit's own
    (返还金额（元） for the refund, 补助金额（元） for the 2022 subsidies), or 金额（元） when they mix benefits."""
    words = {words_of(policy_id) for policy_id in policy_ids}
    if len(words) == 1:
        return _("%(amount_label)s（元）") % words.pop().params(get_language() or "zh-hans")
    return _("金额（元）")


def notices(now: datetime | None = None) -> tuple[list[Notice], list[Notice]]:
    """(open notices, closed ones), newest first."""
    now = now or timezone.now()
    every = list(Notice.objects.order_by("-id")[:50])
    opened = [n for n in every if notice_is_open(n, now)]
    closed = [n for n in every if n.closed_at is not None or n.ends_at <= now]
    return opened, closed


def clean_search(q: Any, district: Any, page: Any) -> tuple[str, str, int]:
    """The search's inputs checked: a query of at most 60 characters (no ``*``: the masked middle of a code is
    never searched), a known district or none, a page number of at least 1."""
    q = " ".join(str(q or "").split())
    district = str(district or "").strip()
    if len(q) > MAX_QUERY:
        raise SearchError("q", _("搜索内容不能超过 60 个字符"))
    if "*" in q:
        raise SearchError("q", _("请输入单位名称的一部分，或信用代码中公示可见的部分（不含 *）"))
    if district and district not in DISTRICTS:
        raise SearchError("district", _("请选择列表中的区"))
    text = str(page or "1").strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise SearchError("page", _("页码须为 1 到 100000 之间的整数"))
    return q, district, int(text)


def _short_name(q: str) -> bool:
    """A name fragment of one or two characters (not the visible part of a code) on a database with the
    fragment index: searched in ``PublicityGram``."""
    return is_short(q) and not CODE_PART.match(q)


def _grams(notice_ids: list[int], q: str, district: str) -> QuerySet[PublicityGram]:
    """The notices' lines holding a short fragment, from the fragment index, in list order (entry id); for one
    notice an index-only range scan of its primary key (gram, notice, entry) or, with a district, of its second
    index."""
    grams = PublicityGram.objects.filter(gram=q, notice_id__in=notice_ids)
    if district:
        grams = grams.filter(district=district)
    return grams.order_by("entry_id")


def _short_page(notice_ids: list[int], q: str, district: str, start: int, stop: int) -> tuple[list[int], int]:
    """The entry ids ``[start:stop]`` (list order) of the lines holding a short fragment in the open notices, and
    the count of matches capped at ``COUNT_CAP + 1`` — per notice (each its own ordered range), merged."""
    firsts = [list(_grams([i], q, district).values_list("entry_id", flat=True)[:stop]) for i in notice_ids]
    found = list(heapq.merge(*firsts))[start:stop]
    matches = 0
    for notice_id in notice_ids:
        if matches > COUNT_CAP:
            break
        matches += _grams([notice_id], q, district).order_by()[: COUNT_CAP + 1 - matches].count()
    return found, matches


def _entries(notice_ids: list[int], q: str, district: str) -> QuerySet[NoticeEntry]:
    entries = NoticeEntry.objects.filter(notice_id__in=notice_ids)
    if q and _short_name(q):
        return entries.filter(id__in=_grams(notice_ids, q, district).order_by().values("entry_id"))
    if district:
        entries = entries.filter(district=district)
    if q:
        code = q.upper()
        if FULL_CODE.match(code):
            # an exact full code: the masked form finds the line by index, the case's code confirms it
            entries = entries.filter(masked_credit_code=mask_credit_code(code), case__credit_code=code)
        elif CODE_PART.match(q):
            # the visible parts of a code (the masked middle is '*', never typed), or a name fragment
            entries = entries.filter(Q(masked_credit_code__contains=code) | Q(unit_name__contains=q))
        else:
            entries = entries.filter(unit_name__contains=q)
    return entries


@cache
def _notice_size(notice_id: int) -> int:
    """Lines of a notice: frozen when it opened, so counted once per process."""
    return NoticeEntry.objects.filter(notice_id=notice_id).count()


def publicity_page(
    *, q: Any = "", district: Any = "", page: Any = 1, now: datetime | None = None
) -> PublicityPage:
    """One page of the open notices' lines (oldest line first), with the count of matches (capped at 1000 for
    a search: a count is never a scan of the whole list)."""
    q, district, number = clean_search(q, district, page)
    opened, closed = notices(now)
    size = int(settings.PORTAL_PAGE_SIZE)
    ids = [n.pk for n in opened]
    # a notice's lines are frozen when it opens: the same search over the same open notices is the same page
    key = (tuple(ids), q, district, number, size)
    rows, has_next, total, capped = _PAGES.get_or_build(key, lambda: _page(ids, q, district, number, size))
    return PublicityPage(rows, number, size, has_next, total, capped, opened, closed, q, district)


# Pages of the list kept per web worker (portal.view_cache): keyed by the open notices, the search and the page,
# over lines that never change once their notice opened, so a kept page is never stale.
_PAGES: ViewCache[tuple[list[PublicityRow], bool, int, bool]] = ViewCache(int(settings.PORTAL_VIEW_CACHE))


def _page(
    ids: list[int], q: str, district: str, number: int, size: int
) -> tuple[list[PublicityRow], bool, int, bool]:
    """(rows, has next, total, total capped) of one page of the search over the notices ``ids``."""
    start = (number - 1) * size
    columns = ("id", "notice_id", "unit_name", "masked_credit_code", "district", "amount_fen")
    if _short_name(q):
        # the page's ids by an index-only scan in list order, then those lines by key; the count likewise
        found, matches = _short_page(ids, q, district, start, start + size + 1)
        by_id = {v[0]: v for v in NoticeEntry.objects.filter(id__in=found).values_list(*columns)}
        values = [by_id[i] for i in found]
    else:
        entries = _entries(ids, q, district)
        values = list(entries.order_by("id").values_list(*columns)[start : start + size + 1])
        matches = entries.order_by()[: COUNT_CAP + 1].count() if q or district else 0
    rows = [PublicityRow(*v) for v in values[:size]]
    if not q and not district:
        total, capped = sum(_notice_size(i) for i in ids), False
    else:
        total, capped = min(matches, COUNT_CAP), matches > COUNT_CAP
    return rows, len(values) > size, total, capped


def publicity_rows(*, q: Any = "", district: Any = "", now: datetime | None = None) -> Iterator[PublicityRow]:
    """Every matching line of the open notices, for the CSV download: fetched in chunks of 2,000 by key (``id >
    last``), each its own query, so no cursor stays open between chunks (a client that stops reading leaves
    nothing behind in the database connection)."""
    q, district, _page = clean_search(q, district, 1)
    opened, _closed = notices(now)
    entries = _entries([n.pk for n in opened], q, district)
    last = 0
    while True:
        chunk = list(
            entries.filter(id__gt=last)
            .order_by("id")
            .values_list("id", "notice_id", "unit_name", "masked_credit_code", "district", "amount_fen")[
                :CSV_CHUNK
            ]
        )
        for v in chunk:
            yield PublicityRow(*v)
        if len(chunk) < CSV_CHUNK:
            return
        last = chunk[-1][0]


def open_entry(entry_id: Any, now: datetime | None = None) -> NoticeEntry | None:
    """A line of a notice that is open now (an objection may be raised against it), or None."""
    text = str(entry_id or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    entry = NoticeEntry.objects.select_related("notice").filter(pk=int(text)).first()
    if entry is None or not notice_is_open(entry.notice, now):
        return None
    return entry


# ---- the guide ---------------------------------------------------------------------------------------------


def guide_params(today: date | None = None) -> ResolvedParams:
    """The parameter set of ``settings.PORTAL_POLICY`` in force today, or on the nearest day of its payment
    year (a past policy shows its last day's values)."""
    policy = get_policy(settings.PORTAL_POLICY)
    first, last = policy.window
    day = today or timezone.localdate()
    return resolve(policy.id, min(max(day, first), last))


@dataclass(frozen=True)
class GuideFigures:
    policy_id: str
    title: str
    source: str
    payment_year: int
    data_year: int
    layoff_limit: str
    small_max_headcount: int
    small_limit: str
    ratio_large: str
    ratio_sme: str
    unit_types: list[str]
    attrition: str
    conditions: list[str]


UNIT_TYPE_NAMES = {
    "enterprise": N_("企业"),
    "social_organization": N_("社会团体"),
    "foundation": N_("基金会"),
    "social_service_institution": N_("社会服务机构"),
    "law_firm": N_("律师事务所"),
    "accounting_firm": N_("会计师事务所"),
    "individual_business": N_("以单位形式参保的个体经济组织"),
    "public_institution": N_("事业单位"),
    "government_agency": N_("机关"),
    "other": N_("其他"),
}
REASON_NAMES = {"retirement": N_("退休"), "death": N_("死亡")}
CONDITION_NAMES = {
    "TYPE_NOT_COVERED": N_("单位类型在返还范围内"),
    "DEREGISTERED": N_("未注销、未吊销"),
    "SERIOUS_DISHONESTY": N_("未列入严重失信主体名单"),
    "ARREARS": N_("无欠缴失业保险费"),
    "NO_PREMIUM": N_("上年度实际缴纳了失业保险费"),
    "LAYOFF_RATE_EXCEEDED": N_("裁员率不超过标准"),
    "SIZE_UNKNOWN": N_("能够确定企业规模"),
    "FULL_PAYMENT_SHORT": N_("上年度足额缴费满 12 个月"),
}


def guide_figures(today: date | None = None) -> GuideFigures:
    params = guide_params(today)
    ratio = params.ratio_bp
    return GuideFigures(
        policy_id=params.policy_id,
        title=params.policy.title,
        source=params.policy.source,
        payment_year=params.policy.payment_year,
        data_year=params.data_year,
        layoff_limit=percent_bp(params.layoff_limit_bp),
        small_max_headcount=params.small_max_headcount,
        small_limit=percent_bp(params.small_limit_bp),
        ratio_large=percent_bp(ratio["large"]),
        ratio_sme=percent_bp(ratio["sme"]),
        unit_types=[marked(UNIT_TYPE_NAMES.get(t, t)) for t in sorted(params["covered_unit_types"])],
        attrition=_("、").join(
            marked(REASON_NAMES.get(r, r)) for r in sorted(params["natural_attrition_reasons"])
        ),
        conditions=[marked(CONDITION_NAMES.get(c, c)) for c in sorted(params.conditions)],
    )


# ---- questions and answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    id: str
    question: str
    answer: str


@cache
def _faq() -> list[dict[str, Any]]:
    text = (resources.files("mianshen.portal") / "content" / "faq.yaml").read_text(encoding="utf-8")
    items: list[dict[str, Any]] = yaml.safe_load(text)["questions"]
    return items


def faq(q: str = "", language: str = "zh-hans") -> list[Answer]:
    """The questions and answers in ``language`` (English or Chinese), those containing every word of ``q``
    (in either language, ignoring case)."""
    lang = "en" if language.startswith("en") else "zh"
    words = [w.casefold() for w in str(q or "").split()][:10]
    found = []
    for item in _faq():
        haystack = " ".join([item["q"]["zh"], item["a"]["zh"], item["q"]["en"], item["a"]["en"]]).casefold()
        if all(w in haystack for w in words):
            found.append(Answer(item["id"], item["q"][lang], item["a"][lang]))
    return found
