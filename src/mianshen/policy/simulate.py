"""What-if (模拟): coverage and cost of a policy under changed parameters, beside the baseline.

``simulate(tables, baseline, variant, as_of)`` evaluates both parameter sets over the same frames (the facts are
derived once when the change does not touch them) and returns the coverage by decision and size class, the cost
in fen, and the units whose decision changes. ``report`` renders it as text; money is shown in fen and in yuan
(two decimals, from integers).

A policy of another family (``policy.families``: retention training, job expansion) is simulated through its
``RuleFamily``: both parameter sets through the family's engine, its own decisions and payable decisions; the size
class is the family's own column when its decisions file has one (retention), else the units' size by the 2017
table from their own indicators (``sizeclass.classify``, employees only). ``families`` imports this module's
callers, not the reverse: the family is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from mianshen.core.money import format_yuan

from . import codes as C
from .engine import check_as_of, decisions, judge
from .facts import Frame, derive_facts
from .parameters import ResolvedParams
from .sizeclass import classify

if TYPE_CHECKING:
    from .families import RuleFamily

# parameters the per-unit facts depend on; when none of them changes, the facts are derived once
FACT_PARAMETERS = ("base_headcount_fallback", "natural_attrition_reasons", "base_paid_cutoff")
NO_SIZE = "(none)"


@dataclass(frozen=True)
class Simulation:
    baseline: ResolvedParams
    variant: ResolvedParams
    as_of: date
    coverage: (
        pl.DataFrame
    )  # decision, size_class, units_baseline, units_variant, amount_fen_baseline, _variant
    changes: (
        pl.DataFrame
    )  # unit_id, credit_code, decision_/failed_/unknown_/routes_/amount_fen_ baseline, variant
    amount_only_changes: int  # units whose decision stays but whose amount changes
    # coverage and cost by size class and by district (``breakdown``): one row per class or district
    by_size_class: pl.DataFrame = field(default_factory=pl.DataFrame)
    by_district: pl.DataFrame = field(default_factory=pl.DataFrame)
    decisions: tuple[str, ...] = C.DECISIONS  # the family's decisions, in report order
    payable: tuple[str, ...] = C.PAYABLE_DECISIONS  # the family's decisions that are paid (covered)

    @property
    def units(self) -> int:
        return int(self.coverage.get_column("units_baseline").sum())

    def total(self, column: str) -> int:
        return int(self.coverage.get_column(column).sum())


def _coverage(rows: pl.DataFrame, suffix: str) -> pl.DataFrame:
    return rows.group_by(pl.col("decision"), pl.col("size_class").fill_null(NO_SIZE)).agg(
        pl.len().cast(pl.Int64).alias(f"units_{suffix}"),
        pl.col("amount_fen").sum().alias(f"amount_fen_{suffix}"),
    )


def share_text(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """``part ÷ whole`` as a decimal with 4 places, rounded half up in integers ("0.6875"); "" when whole is 0."""
    q = (part * 20_000 + whole) // (2 * whole)
    text = pl.format("{}.{}", q // 10_000, (q % 10_000).cast(pl.String).str.zfill(4))
    return pl.when(whole > 0).then(text).otherwise(pl.lit(""))


def breakdown(
    before: pl.DataFrame,
    after: pl.DataFrame,
    groups: pl.DataFrame,
    by: str,
    payable_decisions: tuple[str, ...] = C.PAYABLE_DECISIONS,
) -> pl.DataFrame:
    """Coverage and cost per value of ``by`` (a column of ``groups``: unit_id → size class or district): the
    insured units (every unit of the drop), the units covered (a payable decision: eligible, manual review or
    pending confirmation) and their share of the insured, and the money, baseline beside variant."""
    payable = pl.col("decision").is_in(payable_decisions)

    def side(rows: pl.DataFrame, suffix: str) -> pl.DataFrame:
        return rows.select(
            "unit_id", payable.alias(f"covered_{suffix}"), pl.col("amount_fen").alias(f"amount_fen_{suffix}")
        )

    joined = groups.join(side(before, "baseline"), on="unit_id", how="left").join(
        side(after, "variant"), on="unit_id", how="left"
    )
    out = (
        joined.group_by(pl.col(by).fill_null(NO_SIZE).alias("key"))
        .agg(
            pl.len().cast(pl.Int64).alias("units_insured"),
            pl.col("covered_baseline").fill_null(False).sum().cast(pl.Int64),
            pl.col("covered_variant").fill_null(False).sum().cast(pl.Int64),
            pl.col("amount_fen_baseline").fill_null(0).sum().cast(pl.Int64),
            pl.col("amount_fen_variant").fill_null(0).sum().cast(pl.Int64),
        )
        .sort("key")
    )
    return out.select(
        pl.lit(by).alias("breakdown"),
        "key",
        "units_insured",
        "covered_baseline",
        "covered_variant",
        share_text(pl.col("covered_baseline"), pl.col("units_insured")).alias("share_baseline"),
        share_text(pl.col("covered_variant"), pl.col("units_insured")).alias("share_variant"),
        "amount_fen_baseline",
        "amount_fen_variant",
        (pl.col("amount_fen_variant") - pl.col("amount_fen_baseline")).alias("amount_fen_change"),
    )


def _family_decisions(
    family: RuleFamily, tables: Mapping[str, Frame], params: ResolvedParams, as_of: date
) -> pl.DataFrame:
    """A family's decisions with the columns the simulation compares (``size_class``, ``routes``: empty when the
    family has none)."""
    decided = family.decisions(family.evaluate(tables, params, as_of))
    if "routes" not in decided.columns:
        decided = decided.with_columns(pl.lit(None, dtype=pl.String).alias("routes"))
    if "size_class" not in decided.columns:
        units = tables["units"].lazy()
        sized = classify(
            units.select(
                "unit_id", "industry", "employees", "revenue_yuan", "assets_yuan", "size_class_declared"
            ).with_columns(pl.lit(None, dtype=pl.Int64).alias("base_headcount")),
            headcount_fallback="employees_only",
        ).select("unit_id", "size_class")
        decided = decided.join(sized.collect(), on="unit_id", how="left", maintain_order="left")
    return decided


def simulate(
    tables: Mapping[str, Frame],
    baseline: ResolvedParams,
    variant: ResolvedParams,
    as_of: date,
    family: RuleFamily | None = None,
) -> Simulation:
    check_as_of(baseline, as_of)
    check_as_of(variant, as_of)
    order_of, payable = C.DECISIONS, C.PAYABLE_DECISIONS
    if family is None or family.kind == "refund":
        facts = derive_facts(tables, baseline, as_of).collect()
        same_facts = all(baseline.values[p].text == variant.values[p].text for p in FACT_PARAMETERS)
        variant_facts = facts if same_facts else derive_facts(tables, variant, as_of).collect()
        before = decisions(judge(facts.lazy(), baseline, as_of).collect())
        after = decisions(judge(variant_facts.lazy(), variant, as_of).collect())
    else:
        order_of, payable = family.decisions_values, family.payable
        before = _family_decisions(family, tables, baseline, as_of)
        after = _family_decisions(family, tables, variant, as_of)
    order = {d: i for i, d in enumerate(order_of)}
    coverage = (
        _coverage(before, "baseline")
        .join(_coverage(after, "variant"), on=["decision", "size_class"], how="full", coalesce=True)
        .with_columns(pl.col("^units_.*$", "^amount_fen_.*$").fill_null(0))
        .with_columns(pl.col("decision").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort("_order", "size_class")
        .drop("_order")
    )
    keep = ["unit_id", "decision", "failed", "unknown", "routes", "amount_fen"]
    joined = before.select("credit_code", *keep).join(
        after.select(keep), on="unit_id", how="inner", suffix="_variant", maintain_order="left"
    )
    renamed = joined.rename({c: f"{c}_baseline" for c in keep[1:]})
    changed = pl.col("decision_baseline") != pl.col("decision_variant")
    columns = ["unit_id", "credit_code"] + [f"{c}_{s}" for c in keep[1:] for s in ("baseline", "variant")]
    changes = renamed.filter(changed).select(columns).sort("unit_id")
    amount_only = renamed.filter(
        ~changed & (pl.col("amount_fen_baseline") != pl.col("amount_fen_variant"))
    ).height
    units = tables["units"]
    units_df = units.collect() if isinstance(units, pl.LazyFrame) else units
    groups = (
        units_df.select(pl.col("unit_id").cast(pl.String), pl.col("district").cast(pl.String))
        .unique("unit_id", keep="first")
        .join(before.select("unit_id", "size_class"), on="unit_id", how="left")
    )
    return Simulation(baseline, variant, as_of, coverage, changes, amount_only,
                      breakdown(before, after, groups, "size_class", payable),
                      breakdown(before, after, groups, "district", payable), order_of, payable)  # fmt: skip


def _text(value: object) -> str:
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _money(fen: int) -> str:
    return f"{fen} fen ({format_yuan(fen)} yuan)"


def report(sim: Simulation, *, sample: int = 10) -> str:
    """The simulation as text: parameters changed, coverage and cost side by side, changed units."""
    overrides = (
        "; ".join(f"{k}={_text(v)}" for k, v in sorted(sim.variant.overrides.items())) or "(no change)"
    )
    lines = [
        f"simulate {sim.baseline.policy_id} as of {sim.as_of}",
        f"baseline parameter set {sim.baseline.param_hash[:12]}; variant {sim.variant.param_hash[:12]}: {overrides}",
        "",
        f"{'decision':<21} {'size':<7} {'units':>9} {'→':^3} {'units':<9} {'amount (yuan)':>18} {'→':^3} amount (yuan)",
    ]
    for row in sim.coverage.iter_rows(named=True):
        lines.append(
            f"{row['decision']:<21} {row['size_class']:<7} {row['units_baseline']:>9} {'→':^3} "
            f"{row['units_variant']:<9} {format_yuan(row['amount_fen_baseline']):>18} {'→':^3} "
            f"{format_yuan(row['amount_fen_variant'])}"
        )
    lines.append("")
    for decision in sim.decisions:
        part = sim.coverage.filter(pl.col("decision") == decision)
        b, v = int(part.get_column("units_baseline").sum()), int(part.get_column("units_variant").sum())
        lines.append(f"{decision:<21} units {b} → {v} ({v - b:+d})")
    cost_b, cost_v = sim.total("amount_fen_baseline"), sim.total("amount_fen_variant")
    lines += [
        f"cost baseline {_money(cost_b)}",
        f"cost variant  {_money(cost_v)}",
        f"difference    {cost_v - cost_b:+d} fen ({'+' if cost_v >= cost_b else '-'}{format_yuan(abs(cost_v - cost_b))} yuan)",
        "",
        f"units changing decision: {sim.changes.height}; amount only: {sim.amount_only_changes}",
    ]
    for row in sim.changes.head(sample).iter_rows(named=True):
        why = row["failed_variant"] or row["unknown_variant"] or row["routes_variant"] or ""
        lines.append(
            f"  {row['unit_id']}  {row['decision_baseline']} → {row['decision_variant']}"
            + (f"  ({why})" if why else "")
        )
    if sim.changes.height > sample:
        lines.append(f"  … {sim.changes.height - sample} more (--out FILE.csv for the full list)")
    lines += [
        "",
        "covered = a payable decision (eligible, manual review, pending confirmation); share of the insured"
        if sim.payable == C.PAYABLE_DECISIONS
        else f"covered = a payable decision ({', '.join(sim.payable)}); share of the insured",
    ]
    for frame, title in ((sim.by_size_class, "size class"), (sim.by_district, "district")):
        lines += ["", f"{title:<12} {'insured':>9} {'covered':>9} {'→':^3} {'covered':<9} {'share':>7} {'→':^3} "
                      f"{'share':<7} {'amount (yuan)':>18} {'→':^3} amount (yuan)"]  # fmt: skip
        for row in frame.iter_rows(named=True):
            lines.append(
                f"{row['key']:<12} {row['units_insured']:>9} {row['covered_baseline']:>9} {'→':^3} "
                f"{row['covered_variant']:<9} {row['share_baseline']:>7} {'→':^3} {row['share_variant']:<7} "
                f"{format_yuan(row['amount_fen_baseline']):>18} {'→':^3} {format_yuan(row['amount_fen_variant'])}"
            )
    return "\n".join(lines) + "\n"


def breakdown_rows(sim: Simulation) -> pl.DataFrame:
    """Both breakdowns in one frame (the csv and json output): by size class, then by district."""
    return pl.concat([sim.by_size_class, sim.by_district], how="vertical")
