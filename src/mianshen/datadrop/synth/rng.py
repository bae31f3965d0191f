"""Counter-based random numbers as Polars expressions: SplitMix64, no NumPy, no hidden state.

Every random value is a pure function of ``(seed, stream, key)``: ``bits = mix64(key * GAMMA + base)`` with
``base = mix64(mix64(seed) ^ blake2b64(stream))`` and ``mix64`` the SplitMix64 finaliser (Steele, Lea and
Flood, 2014). ``key`` is a unique unsigned integer per row inside a stream (a unit's index, or
``unit_index * 64 + month``), so a value never depends on evaluation order, chunking or threads: the same
seed gives the same draws on every run, and the first ``n`` units of a larger drop get the same unit-level
draws as a drop of ``n`` units.

Polars ``UInt64`` arithmetic wraps modulo 2**64, exactly like the reference ``mix64_int`` below; right shifts
are written as floor division by a power of two. Uniforms use the top 53 bits (``u53``) or, when two coarse
uniforms are taken from one hash, two disjoint 26-bit fields (``u26``). Distributions are built from
uniforms by inverse transform (categorical, exponential) or Box-Muller (normal); floats only shape a
distribution, every integer that leaves this module is produced by an explicit ``floor``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import polars as pl

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def mix64_int(x: int) -> int:
    """SplitMix64 finaliser on a Python int (the scalar reference of ``mix64``)."""
    x &= MASK64
    x = ((x ^ (x >> 30)) * _M1) & MASK64
    x = ((x ^ (x >> 27)) * _M2) & MASK64
    return x ^ (x >> 31)


def _u64(value: int) -> pl.Expr:
    return pl.lit(value & MASK64, dtype=pl.UInt64)


def _shr(x: pl.Expr, n: int) -> pl.Expr:
    return x // _u64(1 << n)


def mix64(x: pl.Expr) -> pl.Expr:
    """SplitMix64 finaliser on a ``UInt64`` expression (wrapping arithmetic)."""
    x = (x ^ _shr(x, 30)) * _u64(_M1)
    x = (x ^ _shr(x, 27)) * _u64(_M2)
    return x ^ _shr(x, 31)


def stream_base(seed: int, stream: str) -> int:
    """The 64-bit offset of one named stream under one seed (stable: blake2b, not Python's ``hash``)."""
    tag = int.from_bytes(hashlib.blake2b(stream.encode(), digest_size=8).digest(), "little")
    return mix64_int(mix64_int(seed & MASK64) ^ tag)


def bits(seed: int, stream: str, key: pl.Expr) -> pl.Expr:
    """64 random bits for each row: a function of (seed, stream, key) only."""
    return mix64(key.cast(pl.UInt64) * _u64(GAMMA) + _u64(stream_base(seed, stream)))


def u53(h: pl.Expr) -> pl.Expr:
    """A uniform float in [0, 1) from the top 53 bits of ``h``."""
    return _shr(h, 11).cast(pl.Float64) * (2.0**-53)


def u26(h: pl.Expr, part: int) -> pl.Expr:
    """One of two independent coarse uniforms in [0, 1) from disjoint 26-bit fields of ``h`` (part 0 or 1)."""
    shift = 38 if part == 0 else 12
    return (_shr(h, shift) % _u64(1 << 26)).cast(pl.Float64) * (2.0**-26)


def uniform(seed: int, stream: str, key: pl.Expr) -> pl.Expr:
    """A uniform float in [0, 1) per row."""
    return u53(bits(seed, stream, key))


def digits(seed: int, stream: str, key: pl.Expr, n: int) -> pl.Expr:
    """``n`` (1..18) random decimal digits as a zero-padded string (bias below 1e-1 / 2**64 * 1e18)."""
    if not 1 <= n <= 18:
        raise ValueError("digits: 1 <= n <= 18")
    value = bits(seed, stream, key) % _u64(10**n)
    return value.cast(pl.String).str.zfill(n)


def int_between(u: pl.Expr, lo: int, hi: int) -> pl.Expr:
    """An integer in [lo, hi] from a uniform (floor of the scaled uniform)."""
    return (pl.lit(lo, dtype=pl.Int64) + (u * float(hi - lo + 1)).floor().cast(pl.Int64)).clip(lo, hi)


def normal(u1: pl.Expr, u2: pl.Expr) -> pl.Expr:
    """A standard normal draw from two independent uniforms (Box-Muller)."""
    return (-2.0 * (1.0 - u1).log()).sqrt() * (2.0 * math.pi * u2).cos()


def lognormal(u1: pl.Expr, u2: pl.Expr, median: float | pl.Expr, sigma: float | pl.Expr) -> pl.Expr:
    """A log-normal draw with the given median and log-scale sigma."""
    return (normal(u1, u2) * sigma).exp() * median


def cumulative(weights: Sequence[float]) -> pl.Series:
    """Cumulative, normalised weights for ``choice`` (the last bound is 2.0, past any uniform)."""
    total = float(sum(weights))
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative with a positive sum")
    acc, bounds = 0.0, []
    for w in weights:
        acc += w / total
        bounds.append(acc)
    bounds[-1] = 2.0
    return pl.Series(bounds, dtype=pl.Float64)


def choice(u: pl.Expr, weights: Sequence[float]) -> pl.Expr:
    """The index (UInt32) of a category drawn with the given weights, by inverse transform."""
    return pl.lit(cumulative(weights)).search_sorted(u, side="right")


def pick(index: pl.Expr, values: Sequence[str] | Sequence[int]) -> pl.Expr:
    """``values[index]`` per row."""
    return pl.lit(pl.Series(values)).gather(index)
