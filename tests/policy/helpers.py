"""Typed in-memory drops for policy tests: rows as plain dicts -> frames typed exactly as ``schema`` says."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from mianshen.datadrop.schema import TABLES


def _value(kind: str, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    if kind == "date" and isinstance(raw, str):
        return date.fromisoformat(raw)
    if kind == "flag01":
        return bool(int(raw))
    if kind == "int":
        return int(raw)
    return raw


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Accepted rows of one table, typed per schema (with a ``line`` column, as validation returns them)."""
    spec = TABLES[table]
    unknown = {k for row in rows for k in row} - set(spec.column_names)
    if unknown:
        raise KeyError(f"{table}: unknown columns {sorted(unknown)}")
    data = [(i + 2, *(_value(c.kind, row.get(c.name)) for c in spec.columns)) for i, row in enumerate(rows)]
    return pl.DataFrame(data, schema=spec.schema(), orient="row")


def frames(
    rows: dict[str, list[dict[str, Any]]], *, with_confirmations: bool = True
) -> dict[str, pl.DataFrame]:
    """Every table a screening reads (dispatch_confirmations only when asked or given)."""
    names = ["units", "headcount", "separations", "contributions", "credit_flags"]
    if with_confirmations or "dispatch_confirmations" in rows:
        names.append("dispatch_confirmations")
    return {name: frame(name, rows.get(name, [])) for name in names}
