"""Policy parameters as dated data (参数), loaded from ``params/<family>.yaml``.

Each family file declares its policies (a payment year each, with the data year before it), its parameters and
the citations of its conditions and routes. Every parameter value and every citation has a start date
(``from``), an optional inclusive end (``until``), and a ``source`` (document, article, URL) or an ``assumption``
note (A1-A6 of domain.md). Values are strings (lists and tables of strings), parsed to exact numbers: ratios to
basis points, counts to ``int``; never a binary fraction.

The loader refuses, with one line naming the file and the key: unknown keys at any level, a missing parameter,
a value of the wrong shape, a version without source or assumption, versions out of date order, overlaps, gaps,
a policy whose payment year is not covered by every parameter and citation, and a ratio table that leaves a size
class or a category without a ratio.

``resolve(policy_id, as_of)`` picks, for each parameter, the version in force on the as-of date (which must lie in
the policy's payment year) and returns a ``ResolvedParams``; its ``param_hash`` (SHA-256 of the canonical JSON of
the resolved values) identifies the set. ``with_overrides`` makes the what-if sets of ``mianshen simulate``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache, cached_property, lru_cache
from importlib import resources
from typing import Any

import yaml

from mianshen.datadrop.schema import SEPARATION_REASONS, SIZE_CLASSES, UNIT_TYPES

from .codes import (
    CONDITION_CODES,
    HEADCOUNT_RULES,
    JOB_CONDITION_CODES,
    PERSON_CATEGORIES,
    RATIO_CATEGORIES,
    RETENTION_CONDITION_CODES,
    ROUTE_CODES,
    SIZE_CATEGORIES,
)
from .numbers import NumberError, format_bp, parse_bp, parse_count, parse_fen


class ParameterError(ValueError):
    """A parameter file, a policy id, an as-of date or an override that cannot be used (one line)."""


class UnknownPolicy(ParameterError):
    pass


class AsOfOutsideYear(ParameterError):
    pass


@dataclass(frozen=True)
class Spec:
    kind: str  # ratio | count | money | month | choice | set | prefixes | ratio_table | category_map
    description: str
    choices: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()  # for the table kinds: the keys a table may (ratio_table) or must (map) have


SPECS: dict[str, Spec] = {
    "conditions": Spec("set", "the conditions in force (codes)", CONDITION_CODES),
    "covered_unit_types": Spec("set", "unit types covered by the refund", UNIT_TYPES),
    "natural_attrition_reasons": Spec(
        "set", "separation reasons counted as natural attrition", SEPARATION_REASONS
    ),
    "layoff_rate_limit": Spec("ratio", "highest layoff rate allowed (at most)"),
    "small_unit_max_headcount": Spec("count", "a unit with at most this many insured is small"),
    "small_unit_layoff_rate_limit": Spec("ratio", "highest layoff rate allowed for a small unit"),
    "ratio": Spec("ratio_table", "refund ratio by ratio category", keys=RATIO_CATEGORIES),
    "ratio_category": Spec(
        "category_map", "ratio category of each size class", RATIO_CATEGORIES, SIZE_CLASSES
    ),
    "non_enterprise_ratio_category": Spec(
        "choice", "ratio category of non-enterprise types (A2)", RATIO_CATEGORIES
    ),
    "small_unit_headcount_basis": Spec(
        "choice", "headcount compared with the small-unit size (A1)", ("base", "end")
    ),
    "base_headcount_fallback": Spec(
        "choice", "base headcount when December of Y-1 is missing (A3)", ("first_month_in_year", "none")
    ),
    "base_paid_cutoff": Spec(
        "choice", "latest paid_on counted in the base (A4)", ("end_of_data_year", "as_of")
    ),
    "size_headcount_fallback": Spec(
        "choice", "headcount used by the size fallback (A5)", ("employees_then_base", "employees_only")
    ),
    "abnormal_operation_track": Spec(
        "choice", "effect of the abnormal-operation route (A6)", ("manual_review", "none")
    ),
}
CITED_CODES: tuple[str, ...] = CONDITION_CODES + ROUTE_CODES

# The retention-training family (一次性留工培训补助): a per-head amount on a dated headcount definition.
RETENTION_SPECS: dict[str, Spec] = {
    "conditions": Spec("set", "the conditions in force (codes)", RETENTION_CONDITION_CODES),
    "covered_unit_types": Spec("set", "unit types covered by the subsidy", UNIT_TYPES),
    "per_head": Spec("money", "amount per counted person, in yuan (parsed to fen)"),
    "covered_size_categories": Spec("set", "size categories covered (sme, large)", SIZE_CATEGORIES),
    "non_enterprise_size_category": Spec("choice", "size category of non-enterprise types", SIZE_CATEGORIES),
    "size_headcount_fallback": Spec(
        "choice", "headcount used by the size fallback", ("employees_then_base", "employees_only")
    ),
    "risk_levels": Spec("set", "risk-area levels that make the city affected", ("medium", "high")),
    "hardship_industries": Spec(
        "prefixes",
        "industry-code prefixes of the hardship industries covered outside risk areas (may be empty)",
    ),
    "hardship_reference_month": Spec(
        "month", "month counted for a hardship unit when the city had no risk area"
    ),
    "headcount_rule": Spec("choice", "who counts in the reference month", HEADCOUNT_RULES),
    "min_insured_months": Spec("count", "months insured at the unit for the insured_months rule"),
}
# The job-expansion family (一次性扩岗补助): a per-person amount for hires matched against an outside register.
JOB_SPECS: dict[str, Spec] = {
    "conditions": Spec("set", "the conditions in force (codes)", JOB_CONDITION_CODES),
    "covered_unit_types": Spec("set", "unit types covered by the subsidy", UNIT_TYPES),
    "per_person": Spec("money", "amount per eligible person, in yuan (parsed to fen)"),
    "person_categories": Spec("set", "register categories covered", PERSON_CATEGORIES),
    "graduation_years_back": Spec(
        "count", "graduates count whose graduation year is the data year or up to this many years before"
    ),
    "youth_min_age": Spec("count", "youngest age of a registered-unemployed youth (hire year - birth year)"),
    "youth_max_age": Spec("count", "oldest age of a registered-unemployed youth (hire year - birth year)"),
    "hire_from": Spec("month", "first month of the hire window"),
    "hire_until": Spec("month", "last month of the hire window"),
    "min_contribution_months": Spec("count", "unemployment-insurance contribution months needed for a hire"),
}
SPECS_BY_KIND: dict[str, dict[str, Spec]] = {
    "refund": SPECS,
    "retention_training": RETENTION_SPECS,
    "job_expansion": JOB_SPECS,
}
CITED_BY_KIND: dict[str, tuple[str, ...]] = {
    "refund": CITED_CODES,
    "retention_training": RETENTION_CONDITION_CODES,
    "job_expansion": JOB_CONDITION_CODES,
}

_FAMILY_KEYS = {"family", "title", "policies", "parameters", "citations"}
_FAMILY_OPTIONAL = {"kind"}
_POLICY_KEYS = {"payment_year", "data_year", "title", "source"}
_PARAM_KEYS = {"description", "values"}
_VERSION_KEYS = {"from", "until", "value", "source", "assumption"}


@dataclass(frozen=True)
class Version:
    """One dated value of a parameter (or one dated citation: ``value`` is then ``None``)."""

    start: date
    end: date | None  # inclusive; None: until the next version, or open
    value: Any  # parsed: int (ratio bp, count), str, frozenset[str], dict[str, int | str]
    text: Any  # canonical JSON-able form of the value
    source: str | None
    assumption: str | None
    override: bool = False

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    @property
    def basis(self) -> str:
        """Where the value comes from, in one line: the source, the assumption, or both."""
        parts = [p for p in (self.source, self.assumption and f"assumption {self.assumption}") if p]
        return "; ".join(parts)


@dataclass(frozen=True)
class Policy:
    id: str
    family: str
    payment_year: int
    data_year: int
    title: str
    source: str
    kind: str = "refund"  # the rule family (SPECS_BY_KIND); not part of the parameter hash

    @property
    def window(self) -> tuple[date, date]:
        """The as-of dates the policy accepts: its payment year."""
        return date(self.payment_year, 1, 1), date(self.payment_year, 12, 31)


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    policies: dict[str, Policy]
    parameters: dict[str, tuple[Version, ...]]
    citations: dict[str, tuple[Version, ...]]


@dataclass(frozen=True)
class ResolvedParams:
    """The parameter values in force for one policy on one as-of date (``resolved_on``)."""

    policy: Policy
    resolved_on: date
    values: Mapping[str, Version]
    citations: Mapping[str, Version] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name].value

    @property
    def policy_id(self) -> str:
        return self.policy.id

    @property
    def data_year(self) -> int:
        return self.policy.data_year

    @property
    def conditions(self) -> frozenset[str]:
        return frozenset(self["conditions"])

    @property
    def layoff_limit_bp(self) -> int:
        return int(self["layoff_rate_limit"])

    @property
    def small_limit_bp(self) -> int:
        return int(self["small_unit_layoff_rate_limit"])

    @property
    def small_max_headcount(self) -> int:
        return int(self["small_unit_max_headcount"])

    @property
    def ratio_bp(self) -> dict[str, int]:
        return dict(self["ratio"])

    @property
    def ratio_category(self) -> dict[str, str]:
        return dict(self["ratio_category"])

    @property
    def overrides(self) -> dict[str, Any]:
        return {name: v.text for name, v in self.values.items() if v.override}

    def citation(self, code: str) -> str:
        version = self.citations.get(code)
        return version.basis if version else ""

    @cached_property
    def param_hash(self) -> str:
        """SHA-256 of the canonical JSON of the resolved set (policy, years, each value with its version)."""
        doc = {
            "policy": self.policy.id,
            "family": self.policy.family,
            "payment_year": self.policy.payment_year,
            "data_year": self.policy.data_year,
            "parameters": {
                name: {
                    "value": v.text,
                    "from": v.start.isoformat(),
                    "until": v.end.isoformat() if v.end else None,
                    "override": v.override,
                }
                for name, v in sorted(self.values.items())
            },
        }
        canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- parsing ---------------------------------------------------------------------------------------------------


def _fail(where: str, message: str) -> ParameterError:
    return ParameterError(f"{where}: {message}")


def _check_keys(where: str, data: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(where, "expected a mapping")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r}")
    missing = sorted(required - set(data))
    if missing:
        raise _fail(where, f"missing key {missing[0]!r}")
    return data


def _date(where: str, raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise _fail(where, f"{raw!r} is not a date YYYY-MM-DD") from None


def _text(where: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise _fail(where, f"expected a quoted string, got {raw!r}")
    return raw.strip()


def parse_value(spec: Spec, raw: Any, where: str) -> tuple[Any, Any]:
    """A raw value (strings, lists or tables of strings) -> (parsed value, canonical text)."""
    try:
        if spec.kind == "ratio":
            bp = parse_bp(_text(where, raw))
            if bp > 10_000:
                raise _fail(where, f"{raw!r} is above 1")
            return bp, format_bp(bp)
        if spec.kind == "count":
            n = parse_count(_text(where, raw))
            return n, str(n)
        if spec.kind == "money":
            fen = parse_fen(_text(where, raw))
            return fen, _text(where, raw)
        if spec.kind == "month":
            text = _text(where, raw)
            if not _MONTH.fullmatch(text) or not 1 <= int(text[5:]) <= 12:
                raise _fail(where, f"{text!r} is not a month YYYY-MM")
            return text, text
        if spec.kind == "prefixes":
            if not isinstance(raw, list):
                raise _fail(where, "expected a list (may be empty)")
            items = [_text(where, item) for item in raw]
            bad = [i for i in items if not (i.isascii() and i.isdigit() and 2 <= len(i) <= 4)]
            if bad:
                raise _fail(where, f"{bad[0]!r} is not an industry-code prefix of 2 to 4 digits")
            if len(set(items)) != len(items):
                raise _fail(where, "a value is listed twice")
            return tuple(sorted(items)), sorted(items)
        if spec.kind == "choice":
            text = _text(where, raw)
            if text not in spec.choices:
                raise _fail(where, f"{text!r} is not one of {', '.join(spec.choices)}")
            return text, text
        if spec.kind == "set":
            if not isinstance(raw, list) or not raw:
                raise _fail(where, "expected a non-empty list")
            items = [_text(where, item) for item in raw]
            bad = [i for i in items if i not in spec.choices]
            if bad:
                raise _fail(where, f"{bad[0]!r} is not one of {', '.join(spec.choices)}")
            if len(set(items)) != len(items):
                raise _fail(where, "a value is listed twice")
            return frozenset(items), sorted(items)
        if spec.kind in ("ratio_table", "category_map"):
            if not isinstance(raw, dict) or not raw:
                raise _fail(where, "expected a table")
            unknown = sorted(str(k) for k in raw if k not in spec.keys)
            if unknown:
                raise _fail(where, f"unknown key {unknown[0]!r}")
            if spec.kind == "ratio_table":
                table = {
                    str(k): parse_value(SPECS["layoff_rate_limit"], v, f"{where}.{k}")[0]
                    for k, v in raw.items()
                }
                return table, {k: format_bp(v) for k, v in sorted(table.items())}
            missing = [k for k in spec.keys if k not in raw]
            if missing:
                raise _fail(where, f"does not cover every size class: {missing[0]!r} is missing")
            choice = Spec("choice", "", spec.choices)
            mapping = {str(k): parse_value(choice, v, f"{where}.{k}")[0] for k, v in raw.items()}
            return mapping, dict(sorted(mapping.items()))
    except NumberError as exc:
        raise _fail(where, str(exc)) from None
    raise _fail(where, f"unknown parameter kind {spec.kind}")  # pragma: no cover - SPECS is fixed


_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


def _versions(where: str, raw: Any, spec: Spec | None) -> tuple[Version, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(where, "expected a non-empty list of dated versions")
    out: list[Version] = []
    for i, entry in enumerate(raw):
        w = f"{where}[{i}]"
        required = {"from", "value"} if spec else {"from"}
        allowed = _VERSION_KEYS if spec else _VERSION_KEYS - {"value", "assumption"}
        entry = _check_keys(w, entry, allowed, required)
        start = _date(f"{w}.from", entry["from"])
        end = _date(f"{w}.until", entry["until"]) if entry.get("until") is not None else None
        if end is not None and end < start:
            raise _fail(w, f"until {end} is before from {start}")
        source = _text(f"{w}.source", entry["source"]) if "source" in entry else None
        assumption = _text(f"{w}.assumption", entry["assumption"]) if "assumption" in entry else None
        if source is None and assumption is None:
            raise _fail(w, "a value needs a source or an assumption")
        value, text = parse_value(spec, entry["value"], f"{w}.value") if spec else (None, None)
        out.append(Version(start, end, value, text, source, assumption))
    for prev, nxt in itertools.pairwise(out):
        if nxt.start <= prev.start:
            raise _fail(where, f"versions overlap or are out of date order ({prev.start} then {nxt.start})")
        if prev.end is not None and prev.end >= nxt.start:
            raise _fail(where, f"versions overlap: {prev.start}..{prev.end} and one from {nxt.start}")
        if prev.end is not None and prev.end + timedelta(days=1) < nxt.start:
            raise _fail(where, f"gap between {prev.end} and {nxt.start}")
    return tuple(out)


def _in_force(versions: tuple[Version, ...], day: date) -> Version | None:
    started = [v for v in versions if v.start <= day]
    return started[-1] if started and started[-1].covers(day) else None


def _check_ratio_cover(where: str, values: Mapping[str, Version]) -> None:
    ratio, categories = values["ratio"].value, values["ratio_category"].value
    needed = {*categories.values(), values["non_enterprise_ratio_category"].value}
    for category in sorted(needed):
        if category not in ratio:
            raise _fail(where, f"the ratio table has no ratio for category {category!r}")


def parse_family(data: Any, name: str) -> Family:
    """Parse and check one family file's content (already read from YAML)."""
    where = f"{name}.yaml"
    data = _check_keys(where, data, _FAMILY_KEYS | _FAMILY_OPTIONAL, _FAMILY_KEYS)
    if data["family"] != name:
        raise _fail(where, f"family is {data['family']!r}, expected {name!r}")
    kind = data.get("kind", "refund")
    if kind not in SPECS_BY_KIND:
        raise _fail(where, f"kind {kind!r} is not one of {', '.join(SPECS_BY_KIND)}")
    specs, cited = SPECS_BY_KIND[kind], CITED_BY_KIND[kind]
    policies: dict[str, Policy] = {}
    if not isinstance(data["policies"], dict) or not data["policies"]:
        raise _fail(where, "policies: expected a mapping of policy ids")
    for pid, raw in data["policies"].items():
        w = f"{where}: policies.{pid}"
        raw = _check_keys(w, raw, _POLICY_KEYS, _POLICY_KEYS)
        pay, dat = raw["payment_year"], raw["data_year"]
        # a refund pays back the year before; a one-off subsidy of a year reads that same year's data
        same_year = kind != "refund"
        if not isinstance(pay, int) or not isinstance(dat, int) or dat > pay or (dat == pay) != same_year:
            raise _fail(
                w,
                "payment_year and data_year must be years, "
                + ("the same year" if same_year else "the data year before the payment year"),
            )
        policies[str(pid)] = Policy(
            str(pid), name, pay, dat, _text(w, raw["title"]), _text(w, raw["source"]), kind
        )
    params_raw = _check_keys(f"{where}: parameters", data["parameters"], set(specs), set(specs))
    parameters = {}
    for pname, raw in params_raw.items():
        raw = _check_keys(f"{where}: parameters.{pname}", raw, _PARAM_KEYS, {"values"})
        parameters[pname] = _versions(f"{where}: parameters.{pname}", raw["values"], specs[pname])
    cit_raw = _check_keys(f"{where}: citations", data["citations"], set(cited), set(cited))
    citations = {code: _versions(f"{where}: citations.{code}", raw, None) for code, raw in cit_raw.items()}
    for policy in policies.values():
        first, last = policy.window
        for series_name, series in [
            *parameters.items(),
            *(("citations." + c, v) for c, v in citations.items()),
        ]:
            for day in (first, last):
                if _in_force(series, day) is None:
                    raise _fail(
                        where, f"{series_name} has no value on {day}, inside {policy.id}'s payment year"
                    )
        if kind != "refund":
            continue
        # the ratio table must cover every category in use, on every day of the window a version starts
        starts = {first} | {
            v.start for series in parameters.values() for v in series if first <= v.start <= last
        }
        for day in sorted(starts):
            values = {p: _in_force(parameters[p], day) for p in SPECS}
            _check_ratio_cover(f"{where}: {policy.id} on {day}", values)  # type: ignore[arg-type]
    return Family(name, _text(where, data["title"]), policies, parameters, citations)


# --- loading and resolving -------------------------------------------------------------------------------------


def _params_dir() -> Any:
    return resources.files("mianshen.policy") / "params"


def family_names() -> tuple[str, ...]:
    return tuple(sorted(p.name[: -len(".yaml")] for p in _params_dir().iterdir() if p.name.endswith(".yaml")))


@cache
def load_family(name: str) -> Family:
    text = (_params_dir() / f"{name}.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParameterError(f"{name}.yaml: not valid YAML ({exc.__class__.__name__})") from None
    return parse_family(data, name)


def policies() -> dict[str, Policy]:
    """Every policy id of every family file (an id in two files is refused)."""
    return dict(_policies())


@cache
def _policies() -> dict[str, Policy]:
    """``policies()``, read once a process (the files are part of the installed code; listing the folder on
    every call cost half a millisecond a request on the portal). ``load_family.cache_clear()`` and
    ``_policies.cache_clear()`` read them again."""
    found: dict[str, Policy] = {}
    for name in family_names():
        for pid, policy in load_family(name).policies.items():
            if pid in found:
                raise ParameterError(f"policy {pid} is declared in {found[pid].family}.yaml and {name}.yaml")
            found[pid] = policy
    return found


def get_policy(policy_id: str) -> Policy:
    found = _policies().get(policy_id)
    if found is None:
        raise UnknownPolicy(f"unknown policy {policy_id!r}; known: {', '.join(sorted(policies()))}")
    return found


@lru_cache(maxsize=1024)
def resolve(policy_id: str, as_of: date) -> ResolvedParams:
    """The parameter set of a policy in force on the as-of date (which must lie in its payment year). Kept per
    (policy, date): the result is frozen and the files do not change while the process runs (every portal
    lookup explains a decision with it)."""
    policy = get_policy(policy_id)
    first, last = policy.window
    if not first <= as_of <= last:
        raise AsOfOutsideYear(
            f"as-of date {as_of} is outside the payment year of {policy_id} ({first} … {last})"
        )
    family = load_family(policy.family)
    values = {name: _in_force(series, as_of) for name, series in family.parameters.items()}
    citations = {code: _in_force(series, as_of) for code, series in family.citations.items()}
    return ResolvedParams(policy, as_of, values, citations)  # type: ignore[arg-type]  # coverage checked at load


# --- overrides (simulate --set) --------------------------------------------------------------------------------


def parse_assignment(text: str) -> tuple[str, str]:
    """``"ratio.sme=0.90"`` -> ``("ratio.sme", "0.90")``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ParameterError(f"--set {text!r}: expected NAME=VALUE, e.g. layoff_rate_limit=0.055")
    return name.strip(), value.strip()


def _override_raw(spec: Spec, value: str) -> Any:
    if spec.kind in ("set", "prefixes"):
        return [v.strip() for v in value.split(",") if v.strip()]
    if spec.kind in ("ratio_table", "category_map"):
        pairs = [p.partition("=") for p in value.split(",")]
        return {k.strip(): v.strip() for k, _, v in pairs}
    return value


def with_overrides(params: ResolvedParams, assignments: Mapping[str, str]) -> ResolvedParams:
    """A copy of ``params`` with some values replaced (what-if). Names are parameter names, or
    ``table.key`` for one entry of a table (``ratio.sme=0.90``); sets take comma-separated values."""
    values = dict(params.values)
    specs = SPECS_BY_KIND[params.policy.kind]
    for name, text in assignments.items():
        base, dot, key = name.partition(".")
        spec = specs.get(base)
        if spec is None or (dot and spec.kind not in ("ratio_table", "category_map")):
            raise ParameterError(f"--set {name}: unknown parameter; known: {', '.join(sorted(specs))}")
        if dot:
            if key not in spec.keys:
                raise ParameterError(f"--set {name}: unknown key {key!r}; known: {', '.join(spec.keys)}")
            raw: Any = {**values[base].text, key: text}
        else:
            raw = _override_raw(spec, text)
        value, canonical = parse_value(spec, raw, f"--set {base}")
        old = values[base]
        values[base] = replace(
            old, value=value, text=canonical, source="--set", assumption=None, override=True
        )
    if params.policy.kind == "refund":
        _check_ratio_cover("--set", values)
    return ResolvedParams(params.policy, params.resolved_on, values, params.citations)
