"""One i18n path: every string a person reads is a gettext message with Chinese source text, and resolves in
both languages through the one catalogue (src/mianshen/locale/en/LC_MESSAGES/django.po).

- every message of the catalogue has its English, with no Chinese left in it;
- the compiled django.mo is django.po compiled (Babel, as ``python -m tools.i18n compile`` writes it);
- every message the Python sources pass to gettext (``_``, ``gettext_lazy``, ``gettext_noop``, ``pgettext_lazy``
  …) and every refusal raised (``Refusal`` and its subclasses, found by reading the sources with ``ast``) is a
  catalogue message with English, and each raise site passes every parameter its message names in Chinese and
  in English, so that it renders in either language;
- every choice label of every model (and the label mappings beside them) resolves in English to something
  other than its Chinese source; the policy's condition and route titles are the policy's own English.
"""

from __future__ import annotations

import ast
import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.apps import apps
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from tools import i18n

import mianshen
from mianshen.cases.models import RAISED_BY, RECOMMENDATIONS, STATE_LABELS
from mianshen.cases.states import State
from mianshen.cases.transitions import TransitionRefused
from mianshen.core.errors import Listing, Refusal
from mianshen.payments.lifecycle import InstructionStatus
from mianshen.payments.models import (
    ACTION_LABELS,
    BANK_FILE_STATUS_LABELS,
    BUCKET_LABELS,
    DECIDED_LABELS,
    INSTRUCTION_STATUS_LABELS,
)
from mianshen.payments.reasons import Action
from mianshen.payments.states import BankFileStatus
from mianshen.policy.conditions import CONDITIONS, ROUTES
from mianshen.policy.job_expansion import CONDITIONS as JOB_CONDITIONS
from mianshen.policy.retention import CONDITIONS as RETENTION_CONDITIONS
from mianshen.screening.models import DECISION_LABELS
from mianshen.staff.roles import DISTRICTS

SRC = Path(mianshen.__file__).parent
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdrfa]")
GETTEXT = {"_", "gettext", "gettext_lazy", "gettext_noop", "pgettext", "pgettext_lazy"}


def catalogue() -> dict[tuple[str | None, str], str]:
    """(context, msgid) → msgstr, read from the .po."""
    with i18n.PO.open("rb") as f:
        return {(m.context, m.id): m.string for m in read_po(f) if m.id and isinstance(m.id, str)}


CATALOGUE = catalogue()


def english(msgid: str, context: str | None = None) -> str:
    with translation.override("en"):
        if context is None:
            return translation.gettext(msgid)
        return translation.pgettext(context, msgid)


# ---- the catalogue ----------------------------------------------------------------------------------------


def test_every_message_has_english() -> None:
    assert len(CATALOGUE) > 500
    missing = [msgid for (_ctx, msgid), text in CATALOGUE.items() if not text]
    assert not missing, f"no English for {missing[:5]}"
    chinese = [text for text in CATALOGUE.values() if CJK.search(text)]
    assert not chinese, f"Chinese left in the English: {chinese[:5]}"


def test_every_message_has_chinese_source_text() -> None:
    english_ids = [msgid for (_ctx, msgid) in CATALOGUE if not CJK.search(msgid) and msgid not in {"、"}]
    assert not english_ids, f"msgids must be the Chinese source text: {english_ids[:5]}"


def test_the_compiled_catalogue_is_the_po_compiled() -> None:
    assert i18n.MO.read_bytes() == i18n.compiled(), "run: python -m tools.i18n compile"


def test_the_compile_check_catches_a_stale_mo(tmp_path: Path) -> None:
    po = tmp_path / "django.po"
    text = i18n.PO.read_text(encoding="utf-8")
    po.write_text(text.replace('msgstr "Policy"', 'msgstr "Policy!"', 1), encoding="utf-8")
    assert i18n.compiled(po) != i18n.MO.read_bytes()


# ---- the sources --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    where: str
    msgid: str | None  # None: not a literal message
    context: str | None
    params: frozenset[str] | None  # the keyword arguments (None: a **mapping, not checked)


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def refusal_classes() -> set[str]:
    """``Refusal`` and every class that derives from it (by name, across the package)."""
    bases: dict[str, set[str]] = {}
    for _path, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
    found = {"Refusal"}
    while True:
        more = {name for name, of in bases.items() if of & found} - found
        if not more:
            return found
        found |= more


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _message(node: ast.expr) -> tuple[str | None, str | None]:
    """(msgid, context) of ``_("…")`` / ``pgettext_lazy("ctx", "…")``; (None, None) for anything else."""
    if isinstance(node, ast.Call) and _name(node.func) in GETTEXT and node.args:
        literal = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if _name(node.func).startswith("pgettext") and len(literal) == 2:
            return literal[1], literal[0]
        if len(literal) == len(node.args) == 1:
            return literal[0], None
    return None, None


def gettext_sites() -> list[Site]:
    sites = []
    for path, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in GETTEXT and node.args:
                if re.fullmatch(r"\w+\.title\[['\"]zh['\"]\]", ast.unparse(node.args[0])):
                    continue  # a policy title, marked with gettext_noop in policy.conditions (tested below)
                msgid, context = _message(node)
                where = f"{path.relative_to(SRC)}:{node.lineno}"
                sites.append(Site(where, msgid, context, None))
    return sites


def refusal_sites() -> list[Site]:
    classes = refusal_classes()
    sites = []
    for path, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in classes:
                where = f"{path.relative_to(SRC)}:{node.lineno}"
                msgid, context = _message(node.args[0]) if node.args else (None, None)
                names = {k.arg for k in node.keywords}
                sites.append(
                    Site(where, msgid, context, None if None in names else frozenset(names - {None}))
                )
    return sites


GETTEXT_SITES = gettext_sites()
REFUSAL_SITES = refusal_sites()


def test_the_scan_finds_the_sites() -> None:
    assert len(REFUSAL_SITES) > 60 and len(GETTEXT_SITES) > 250
    assert {"TransitionRefused", "CaseError", "PaymentError", "AccountNotOnFile"} <= refusal_classes()
    assert any(s.msgid == "没有编号为 %(ids)s 的案件" for s in REFUSAL_SITES)


@pytest.mark.parametrize("site", GETTEXT_SITES, ids=lambda s: s.where)
def test_every_gettext_message_is_translated(site: Site) -> None:
    assert site.msgid is not None, f"{site.where}: gettext takes a literal message (makemessages reads it)"
    assert CATALOGUE.get((site.context, site.msgid)), f"{site.where}: {site.msgid!r} is not in the catalogue"
    text = english(site.msgid, site.context)
    assert site.msgid == "、" or text != site.msgid


@pytest.mark.parametrize("site", REFUSAL_SITES, ids=lambda s: s.where)
def test_every_refusal_is_a_translated_message_with_its_parameters(site: Site) -> None:
    assert site.msgid is not None, f"{site.where}: a refusal takes one _('…') message, Chinese source text"
    text = CATALOGUE.get((site.context, site.msgid))
    assert text, f"{site.where}: {site.msgid!r} is not in the catalogue"
    if site.params is not None:
        needed = set(PLACEHOLDER.findall(site.msgid)) | set(PLACEHOLDER.findall(text))
        assert needed <= site.params, f"{site.where}: {sorted(needed - site.params)} not passed"


# ---- refusals -------------------------------------------------------------------------------------------


def test_a_refusal_is_english_for_the_command_line_and_follows_the_page() -> None:
    refusal = TransitionRefused(
        _("案件 %(case)s：不允许从“%(frm_label)s”变为“%(to_label)s”"),
        case=7,
        frm="paid",
        to="identified",
        frm_label=_("已拨付"),
        to_label=_("已识别"),
    )
    assert str(refusal) == "case 7: paid → identified is not an allowed move"  # codes for the command line
    assert refusal.text("zh-hans") == "案件 7：不允许从“已拨付”变为“已识别”"  # labels for the page
    with translation.override("zh-hans"):
        assert refusal.text() == refusal.zh and str(refusal) == refusal.en  # str() stays English
    assert isinstance(refusal, Refusal)


def test_lazy_parameters_render_in_the_language_of_the_message() -> None:
    refusal = Refusal(_("处理结果须为以下之一：%(outcomes)s"), outcomes=Listing([_("成立"), _("撤回")]))
    assert refusal.en == "outcome must be one of Upheld, Withdrawn"
    assert refusal.zh == "处理结果须为以下之一：成立、撤回"


def test_a_refusal_survives_pickling() -> None:
    refusal = TransitionRefused(_("没有编号为 %(ids)s 的案件"), ids=[3])
    again = pickle.loads(pickle.dumps(refusal))
    assert type(again) is TransitionRefused and again.en == "no such case: [3]" and again.zh == refusal.zh


# ---- labels ------------------------------------------------------------------------------------------------


def _labels() -> Iterator[tuple[str, object]]:
    for model in apps.get_models():
        if not model.__module__.startswith("mianshen."):
            continue
        for field in model._meta.get_fields():
            for code, label in getattr(field, "choices", None) or ():
                yield f"{model.__name__}.{field.name}={code}", label
    mappings = {
        "STATE_LABELS": STATE_LABELS,
        "RAISED_BY": dict(RAISED_BY),
        "RECOMMENDATIONS": dict(RECOMMENDATIONS),
        "INSTRUCTION_STATUS_LABELS": INSTRUCTION_STATUS_LABELS,
        "BANK_FILE_STATUS_LABELS": BANK_FILE_STATUS_LABELS,
        "ACTION_LABELS": ACTION_LABELS,
        "BUCKET_LABELS": BUCKET_LABELS,
        "DECIDED_LABELS": DECIDED_LABELS,
        "DECISION_LABELS": DECISION_LABELS,
        "DISTRICTS": DISTRICTS,
    }
    for name, mapping in mappings.items():
        for code, label in mapping.items():
            yield f"{name}[{code!r}]", label


LABELS = list(_labels())


def test_the_labels_cover_their_codes() -> None:
    assert set(STATE_LABELS) == set(State)
    assert set(INSTRUCTION_STATUS_LABELS) == set(InstructionStatus)
    assert set(BANK_FILE_STATUS_LABELS) == set(BankFileStatus)
    assert set(ACTION_LABELS) == set(Action)
    assert len(LABELS) > 150


@pytest.mark.parametrize(("where", "label"), LABELS, ids=[w for w, _l in LABELS])
def test_every_choice_label_resolves_in_both_languages(where: str, label: object) -> None:
    with translation.override("zh-hans"):
        chinese = str(label)
    with translation.override("en"):
        in_english = str(label)
    if not CJK.search(chinese):  # a code shown as it is (the audit catalogue's event names)
        assert where.startswith("AuditEvent.action="), f"{where}: {chinese!r} is not a Chinese label"
        return
    assert in_english != chinese, f"{where}: {chinese!r} has no English"
    assert not CJK.search(in_english), f"{where}: the English {in_english!r} still has Chinese"


@pytest.mark.parametrize(
    "item", [*CONDITIONS, *ROUTES, *RETENTION_CONDITIONS, *JOB_CONDITIONS], ids=lambda c: c.code
)
def test_the_policy_titles_are_in_the_catalogue(item: object) -> None:
    """The policy keeps its own zh/en titles (the explain command's contract); the back office reads the Chinese
    through the catalogue, whose English must be the policy's."""
    title = item.title  # type: ignore[attr-defined]
    assert english(title["zh"]) == title["en"]
