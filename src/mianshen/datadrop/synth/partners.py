"""Partner and payment data of the synthetic units: bank accounts, credit flags, dispatch confirmations.

Bank accounts
    98.5% of units have one. Bank codes follow ``catalog.BANKS`` (about 97.5% at the 16 cooperating banks,
    the rest at 314 / 402). ``branch_code`` is CNAPS-shaped: bank code + ``1000`` (Beijing) + 4 digits + a
    check digit of our own (``(sum of the 11 digits at odd positions * 3 + at even positions) mod 10``; not
    the real CNAPS rule). ``account_no`` is the bank's prefix followed by random digits, 12 to 19 digits in all.

Account fate (what a bank will answer when we pay into the account), ``account_fate(account_no)``:
    ``k = (int(account_no) * 32 + len(account_no)) mod 2**64``; ``m = mix64(k XOR FATE_SALT) mod 10000``
    (``mix64``: the SplitMix64 finaliser of ``rng``). ``m < 150`` → ``AC01`` (wrong account number),
    ``m < 250`` → ``AC04`` (closed), ``m < 300`` → ``BE01`` (name and account do not match), otherwise
    ``None`` (the payment succeeds). An account number that is not 1-19 ASCII digits has no fate (None).
    About 3% of random account numbers fail. The generator writes an ``account_name`` different from the
    unit's name exactly for the accounts whose fate is ``BE01``.

Credit flags
    3.5% of units are listed once (a tenth of them twice): abnormal operation 60%, serious dishonesty 20%,
    commitment breach 20%; listed between 2018-01-01 and 2021-09-30, removed (40%) 30–900 days later; plus
    flags for credit codes of no unit (0.2% of the unit count).

Dispatch hosts
    Every dispatch unit names 1-3 host employers with 1-80 workers placed at each: 85% are other units of the
    city (a unit 1-1000 places before it in the same batch of the generator, by its credit code; a firm near the
    start of a batch takes one outside the city instead), 15% employers outside the city (a Shanghai credit code
    of no unit).

Dispatch confirmations
    Half of the dispatch units (``dispatch`` = 1) have one: confirmed between 2021-03-01 and 2021-06-30 (80%)
    or between 2021-07-02 and 2021-09-30.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from ..schema import FLAGS
from . import catalog, ids, names, rng

FATE_SALT = 0x6D69616E7368656E  # "mianshen"
FATES = ((150, "AC01"), (250, "AC04"), (300, "BE01"))


def account_fate(account_no: str) -> str | None:
    """The failure a bank will report for a payment into this account, or None (see the module docstring)."""
    if not (1 <= len(account_no) <= 19 and account_no.isascii() and account_no.isdigit()):
        return None
    k = (int(account_no) * 32 + len(account_no)) & rng.MASK64
    m = rng.mix64_int(k ^ FATE_SALT) % 10_000
    for bound, code in FATES:
        if m < bound:
            return code
    return None


def account_fate_expr(account_no: pl.Expr) -> pl.Expr:
    """``account_fate`` vectorised (account numbers of 1-19 digits)."""
    k = account_no.cast(pl.UInt64) * pl.lit(32, pl.UInt64) + account_no.str.len_chars().cast(pl.UInt64)
    m = rng.mix64(k ^ pl.lit(FATE_SALT, pl.UInt64)) % pl.lit(10_000, pl.UInt64)
    out: pl.Expr = pl.lit(None, dtype=pl.String)
    for bound, code in reversed(FATES):
        out = pl.when(m < bound).then(pl.lit(code)).otherwise(out)
    return out


def _branch_code(seed: int, bank: pl.Expr) -> pl.Expr:
    body = pl.concat_str([bank, pl.lit("1000"), rng.digits(seed, "bank.branch", pl.col("idx"), 4)])
    digit_values = [body.str.slice(i, 1).cast(pl.Int64) for i in range(11)]
    check = pl.sum_horizontal([v * (3 if i % 2 == 0 else 1) for i, v in enumerate(digit_values)]) % 10
    return pl.concat_str([body, check.cast(pl.String)])


def bank_accounts(plan: pl.DataFrame, seed: int) -> pl.DataFrame:
    banks = catalog.BANKS
    bank_i = rng.choice(rng.uniform(seed, "bank.code", pl.col("idx")), [b[1] for b in banks])
    lf = (
        plan.lazy()
        .select("idx", "unit_id", "name")
        .filter(rng.uniform(seed, "bank.has", pl.col("idx")) < 0.985)
        .with_columns(
            bank_code=rng.pick(bank_i, [b[0] for b in banks]),
            _prefix=rng.pick(bank_i, [b[2] for b in banks]),
            _random_len=rng.pick(bank_i, [b[3] - len(b[2]) for b in banks]),
        )
    )
    # random digits: 18 drawn, cut to the bank's length
    digits = rng.digits(seed, "bank.account", pl.col("idx"), 18)
    lf = lf.with_columns(
        branch_code=_branch_code(seed, pl.col("bank_code")),
        account_no=pl.concat_str([pl.col("_prefix"), digits.str.slice(0, pl.col("_random_len"))]),
    )
    lf = lf.with_columns(_fate=account_fate_expr(pl.col("account_no")))
    holder = pl.when(pl.col("_fate") == "BE01").then(names.other_holder_name(seed)).otherwise(pl.col("name"))
    return lf.select(
        "unit_id", "bank_code", "branch_code", "account_no", holder.alias("account_name")
    ).collect()


def _days_after(start: date, u: pl.Expr, span: int) -> pl.Expr:
    return pl.lit(start) + pl.duration(days=rng.int_between(u, 0, span - 1))


def _flag_rows(lf: pl.LazyFrame, seed: int, stream: str) -> pl.LazyFrame:
    """Flag, dates and source for rows with ``idx`` and ``credit_code``; ``_flag_i`` may be preset."""
    h = rng.bits(seed, stream + ".dates", pl.col("idx"))
    listed = _days_after(date(2018, 1, 1), rng.u26(h, 0), (date(2021, 9, 30) - date(2018, 1, 1)).days + 1)
    removed = pl.when(rng.u26(h, 1) < 0.4).then(
        pl.col("listed_on")
        + pl.duration(days=rng.int_between(rng.uniform(seed, stream + ".rm", pl.col("idx")), 30, 900))
    )
    u_source = rng.uniform(seed, stream + ".source", pl.col("idx"))
    source: pl.Expr = pl.lit("市场监管局")
    for flag, choices in catalog.FLAG_SOURCES.items():
        picked = rng.pick(rng.choice(u_source, [w for _, w in choices]), [s for s, _ in choices])
        source = pl.when(pl.col("flag") == flag).then(picked).otherwise(source)
    return (
        lf.with_columns(flag=rng.pick(pl.col("_flag_i"), list(FLAGS)), listed_on=listed)
        .with_columns(removed_on=removed, source=source)
        .select("idx", "credit_code", "flag", "listed_on", "removed_on", "source")
    )


FLAG_WEIGHTS = (
    0.2,
    0.6,
    0.2,
)  # in schema.FLAGS order: serious_dishonesty, abnormal_operation, commitment_breach


def unit_flags(plan: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Flags on units of the plan, in unit order."""
    h = rng.bits(seed, "flag.unit", pl.col("idx"))
    listed = plan.lazy().select("idx", "credit_code").filter(rng.u26(h, 0) < 0.035)
    first = listed.with_columns(_flag_i=rng.choice(rng.u26(h, 1), FLAG_WEIGHTS))
    second = first.filter(rng.uniform(seed, "flag.second?", pl.col("idx")) < 0.1).with_columns(
        _flag_i=(pl.col("_flag_i") + 1) % 3
    )
    rows = pl.concat(
        [
            _flag_rows(first, seed, "flag.a").with_columns(_order=pl.lit(0)),
            _flag_rows(second, seed, "flag.b").with_columns(_order=pl.lit(1)),
        ]
    )
    return rows.sort("idx", "_order").drop("idx", "_order").collect()


def orphan_flags(seed: int, units: int) -> pl.DataFrame:
    """Flags for credit codes that no unit has (organisation bodies from indexes past the last unit)."""
    count = max(1, units // 500)
    district = rng.pick(
        rng.choice(rng.uniform(seed, "orphan.district", pl.col("idx")), [d[2] for d in catalog.DISTRICTS]),
        [d[0] for d in catalog.DISTRICTS],
    )
    lf = pl.LazyFrame({"idx": pl.int_range(units, units + count, dtype=pl.UInt64, eager=True)})
    lf = lf.with_columns(district=district).with_columns(
        credit_code=ids.uscc(
            pl.lit("9"),
            pl.lit("1"),
            pl.col("district"),
            ids.organisation_body(seed, pl.col("idx")),
            rng.uniform(seed, "orphan.style", pl.col("idx")) < 0.5,
        ),
        _flag_i=rng.choice(rng.uniform(seed, "orphan.flag", pl.col("idx")), FLAG_WEIGHTS),
    )
    return _flag_rows(lf, seed, "flag.orphan").drop("idx").collect()


def dispatch_confirmations(plan: pl.DataFrame, seed: int) -> pl.DataFrame:
    h = rng.bits(seed, "dispatch.confirm", pl.col("idx"))
    early = _days_after(date(2021, 3, 1), rng.uniform(seed, "dispatch.day", pl.col("idx")), 122)
    late = _days_after(date(2021, 7, 2), rng.uniform(seed, "dispatch.day", pl.col("idx")), 91)
    return (
        plan.lazy()
        .filter((pl.col("dispatch") == 1) & (rng.u26(h, 0) < 0.5))
        .select("unit_id", pl.when(rng.u26(h, 1) < 0.8).then(early).otherwise(late).alias("confirmed_on"))
        .collect()
    )


OUTSIDE_DISTRICT = "310115"  # 上海市浦东新区: a host employer outside the city (no unit of the drop)
_OUTSIDE_BODY = 90_000_000  # organisation bodies of outside hosts: indexes far past any unit's


HOST_WINDOW = 1000  # a host inside the city is one of the 1..HOST_WINDOW units before its dispatch firm


def host_window(window: pl.DataFrame | None, plan: pl.DataFrame) -> pl.DataFrame:
    """The last ``HOST_WINDOW`` units generated so far (``idx``, ``credit_code``), ``plan`` included: carried from
    batch to batch so that a firm's hosts do not depend on where a batch starts."""
    rows = plan.select("idx", "credit_code")
    return (rows if window is None else pl.concat([window, rows])).tail(HOST_WINDOW + plan.height)


def dispatch_hosts(plan: pl.DataFrame, seed: int, window: pl.DataFrame) -> pl.DataFrame:
    """The host employers of the plan's dispatch units (``unit_id``, ``host_credit_code``, ``workers``), in unit
    order; ``window``: ``host_window`` of the units up to the plan's last (a function of the seed and the unit
    indexes only, whatever the batches)."""
    start = int(window["idx"][0]) if window.height else 0
    firms = (
        plan.lazy()
        .filter(pl.col("dispatch") == 1)
        .select("idx", "unit_id")
        .with_columns(_n=rng.int_between(rng.uniform(seed, "dispatch.hosts", pl.col("idx")), 1, 3))
        .with_columns(_k=pl.int_ranges(0, pl.col("_n")))
        .explode("_k")
        .with_columns(_key=pl.col("idx").cast(pl.Int64) * 4 + pl.col("_k").cast(pl.Int64))
    )
    h = rng.bits(seed, "dispatch.host", pl.col("_key"))
    idx, back = pl.col("idx").cast(pl.Int64), rng.int_between(rng.u26(h, 0), 1, HOST_WINDOW)
    # a unit 1..HOST_WINDOW places before; among the first units, one of those before it (the very first: outside)
    host_idx = pl.when(idx >= back).then(idx - back).otherwise((back - 1) % idx.clip(1, None))
    outside = (rng.u26(h, 1) < 0.15) | (idx == 0)
    outside_code = ids.uscc(
        pl.lit("9"),
        pl.lit("1"),
        pl.lit(OUTSIDE_DISTRICT),
        ids.organisation_body(seed, pl.lit(_OUTSIDE_BODY, pl.Int64) + pl.col("_key") % 10_000_000),
        rng.uniform(seed, "dispatch.host.style", pl.col("_key")) < 0.5,
    )
    codes = window["credit_code"]
    inside_code = pl.lit(codes).gather((host_idx - start).clip(0, max(0, codes.len() - 1)))
    workers = rng.int_between(rng.uniform(seed, "dispatch.workers", pl.col("_key")), 1, 80)
    return (
        firms.select(
            "unit_id",
            pl.when(outside).then(outside_code).otherwise(inside_code).alias("host_credit_code"),
            workers.alias("workers"),
        )
        .unique(["unit_id", "host_credit_code"], keep="first", maintain_order=True)
        .collect()
    )
