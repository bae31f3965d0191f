"""The parts of the synthetic data-drop generator (``mianshen.datadrop.generate`` is the entry point).

- ``rng``: counter-based random numbers as Polars expressions (SplitMix64; a value is a function of seed,
  stream name and row key only).
- ``catalog``: districts, unit types, industries, banks, name parts, with their weights.
- ``sizing``: the 2017 size table, vectorised, to keep declared classes and indicators consistent.
- ``ids``: unit numbers and valid USCCs. ``names``: Chinese names and mobile numbers.
- ``units``: the unit plan (public columns plus the hidden drivers of every other table).
- ``activity``: headcount, separations and contributions. ``partners``: bank accounts (and ``account_fate``),
  credit flags, dispatch confirmations.
"""
