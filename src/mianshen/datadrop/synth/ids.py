"""Identifiers of the synthetic drop: social-insurance unit numbers and valid USCCs (GB 32100), vectorised.

- ``unit_id``: 11 digits ``11…``: ``11000000000`` + a per-seed offset + a running sum of random gaps of 1..40,
  so ids are unique, increasing with the unit index, and look like sequential registration numbers.
- ``credit_code``: registration authority + organisation category (by unit type) + the unit's 6-digit district
  + a 9-character organisation code + the GB 32100 check character. The organisation code's 8-character body is
  an affine bijection of the unit index modulo 10**8 (so codes are unique for fewer than 10**8 units, and the
  codes of credit flags for units that do not exist, drawn from indexes past the last unit, never collide with
  a unit's), written either as 8 digits or, for "new" codes, as ``MA`` + 6 base-31 characters; its 9th
  character is the GB 11714 check character. Everything is integer arithmetic on alphabet values.
"""

from __future__ import annotations

import polars as pl

from ..schema import USCC_ALPHABET, USCC_WEIGHTS
from . import rng

BODY_MODULUS = 10**8
_BODY_MULTIPLIER = 48_271_403  # odd, not a multiple of 5: a bijection modulo 10**8
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# GB 11714 values of the USCC alphabet's characters: digits 0-9, letters A=10 … Z=35.
_GB11714_VALUE = [int(c) if c.isdigit() else 10 + ord(c) - ord("A") for c in USCC_ALPHABET]
_ALPHA_INDEX = {c: i for i, c in enumerate(USCC_ALPHABET)}


def unit_number_start(seed: int) -> int:
    """The first unit number before the gaps: 11000000000 plus a per-seed offset below 10**8."""
    return 11_000_000_000 + rng.stream_base(seed, "unit.id.start") % 10**8


def unit_gap(seed: int, idx: pl.Expr) -> pl.Expr:
    """The gap (1..40) between a unit's number and the previous one's."""
    return rng.int_between(rng.uniform(seed, "unit.id.gap", idx), 1, 40)


def organisation_body(seed: int, idx: pl.Expr) -> pl.Expr:
    """A number below 10**8, distinct for distinct indexes below 10**8 (Int64)."""
    offset = rng.stream_base(seed, "uscc.body") % BODY_MODULUS
    return (idx.cast(pl.Int64) * _BODY_MULTIPLIER + offset) % BODY_MODULUS


def _alpha(values: pl.Expr) -> pl.Expr:
    return rng.pick(values.cast(pl.UInt32), list(USCC_ALPHABET))


def uscc(
    authority: pl.Expr, category: pl.Expr, district: pl.Expr, body: pl.Expr, new_style: pl.Expr
) -> pl.Expr:
    """The 18-character USCC from its parts (authority/category: one alphabet character each; district: 6
    digits; body: ``organisation_body``; new_style: whether the organisation code reads ``MA…``)."""
    numeric = [(body // 10 ** (7 - i)) % 10 for i in range(8)]
    m, a = _ALPHA_INDEX["M"], _ALPHA_INDEX["A"]
    base31 = [pl.lit(m, pl.Int64), pl.lit(a, pl.Int64)] + [(body // 31 ** (5 - i)) % 31 for i in range(6)]
    org = [pl.when(new_style).then(b).otherwise(n) for n, b in zip(numeric, base31, strict=True)]
    gb_values = pl.lit(pl.Series(_GB11714_VALUE, dtype=pl.Int64))
    org_sum = pl.sum_horizontal(
        [gb_values.gather(v.cast(pl.UInt32)) * w for v, w in zip(org, _GB11714_WEIGHTS, strict=True)]
    )
    c9 = 11 - org_sum % 11
    org.append(pl.when(c9 == 11).then(0).when(c9 == 10).then(_ALPHA_INDEX["X"]).otherwise(c9))
    head = [
        authority.replace_strict(_ALPHA_INDEX, return_dtype=pl.Int64),
        category.replace_strict(_ALPHA_INDEX, return_dtype=pl.Int64),
        *[district.str.slice(i, 1).cast(pl.Int64) for i in range(6)],
    ]
    values = head + org
    total = pl.sum_horizontal([v * w for v, w in zip(values, USCC_WEIGHTS, strict=True)])
    check = (31 - total % 31) % 31
    return pl.concat_str([_alpha(v) for v in [*values, check]])
