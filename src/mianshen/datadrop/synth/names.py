"""Chinese names of synthetic units, account holders and phone numbers, vectorised.

A name is built from a trade name (字号: two or three characters of ``catalog.TRADE_CHARS``), the industry word
and an ending that depends on the unit type: ``北京华信科技有限公司``, ``北京博雅律师事务所``,
``北京市朝阳区鑫盛餐馆``, ``北京市海淀区民政局``.
"""

from __future__ import annotations

import polars as pl

from . import catalog, rng

_TRADE = list(catalog.TRADE_CHARS)
_WORDS = {i.code: i.word for i in catalog.ENTERPRISE_INDUSTRIES}


def trade_name(seed: int, stream: str, key: pl.Expr) -> pl.Expr:
    """Two characters, a third one time in two."""
    h = rng.bits(seed, stream, key)
    n = len(_TRADE)
    c1 = rng.pick(rng.int_between(rng.u26(h, 0), 0, n - 1).cast(pl.UInt32), _TRADE)
    c2 = rng.pick(rng.int_between(rng.u26(h, 1), 0, n - 1).cast(pl.UInt32), _TRADE)
    third = rng.pick((h % n).cast(pl.UInt32), _TRADE)
    with_third = (h // 2**20) % 2 == 0
    return pl.concat_str([c1, c2, pl.when(with_third).then(third).otherwise(pl.lit(""))])


def _suffix(seed: int, type_name: str) -> pl.Expr:
    suffixes = next(t.suffixes for t in catalog.UNIT_TYPES if t.name == type_name)
    u = rng.uniform(seed, "name.suffix", pl.col("idx"))
    return rng.pick(rng.int_between(u, 0, len(suffixes) - 1).cast(pl.UInt32), list(suffixes))


def unit_name(seed: int) -> pl.Expr:
    """The unit's name; needs columns ``idx``, ``unit_type``, ``industry``, ``dispatch``, ``_district_name``."""
    trade = trade_name(seed, "name.trade", pl.col("idx"))
    word = (
        pl.when(pl.col("dispatch") == 1)
        .then(pl.lit(catalog.DISPATCH_WORD))
        .otherwise(pl.col("industry").replace_strict(_WORDS, default="科技"))
    )
    district = pl.col("_district_name")
    u = rng.uniform(seed, "name.form", pl.col("idx"))
    company = pl.when(u < 0.85).then(pl.lit("有限公司")).otherwise(pl.lit("有限责任公司"))
    dept = rng.pick(
        rng.int_between(u, 0, len(catalog.GOVERNMENT_DEPARTMENTS) - 1).cast(pl.UInt32),
        list(catalog.GOVERNMENT_DEPARTMENTS),
    )
    forms: dict[str, list[pl.Expr]] = {
        "social_organization": [pl.lit("北京"), trade, word, _suffix(seed, "social_organization")],
        "foundation": [pl.lit("北京"), trade, _suffix(seed, "foundation")],
        "social_service_institution": [
            pl.lit("北京市"),
            district,
            trade,
            _suffix(seed, "social_service_institution"),
        ],
        "law_firm": [pl.lit("北京"), trade, _suffix(seed, "law_firm")],
        "accounting_firm": [pl.lit("北京"), trade, _suffix(seed, "accounting_firm")],
        "individual_business": [pl.lit("北京市"), district, trade, _suffix(seed, "individual_business")],
        "government_agency": [pl.lit("北京市"), district, dept],
        "public_institution": [pl.lit("北京市"), district, trade, _suffix(seed, "public_institution")],
    }
    union = pl.concat_str([pl.lit("北京"), trade, word, pl.lit("有限公司工会委员会")])
    residents = pl.concat_str([pl.lit("北京市"), district, trade, pl.lit("社区居民委员会")])
    out = pl.concat_str([pl.lit("北京"), trade, word, company])
    for type_name, parts in forms.items():
        out = pl.when(pl.col("unit_type") == type_name).then(pl.concat_str(parts)).otherwise(out)
    other = pl.when(pl.col("industry") == "96").then(residents).otherwise(union)
    return pl.when(pl.col("unit_type") == "other").then(other).otherwise(out)


def other_holder_name(seed: int) -> pl.Expr:
    """A name that is not the unit's: a former name, or (for a company) the account of a branch office."""
    former = pl.concat_str(
        [pl.lit("北京"), trade_name(seed, "name.former", pl.col("idx")), pl.lit("商贸有限公司")]
    )
    branch = pl.concat_str([pl.col("name"), pl.lit("北京分公司")])
    use_branch = pl.col("name").str.ends_with("公司") & (
        rng.uniform(seed, "name.holder", pl.col("idx")) < 0.5
    )
    return pl.when(use_branch).then(branch).otherwise(former)


def mobile(seed: int, key: pl.Expr) -> pl.Expr:
    """An 11-digit mobile number ``1[3-9]xxxxxxxxx``."""
    second = rng.pick(
        rng.int_between(rng.uniform(seed, "phone.prefix", key), 0, 6).cast(pl.UInt32), list("3456789")
    )
    return pl.concat_str([pl.lit("1"), second, rng.digits(seed, "phone.digits", key, 9)])
