"""`simulate` by size class and by district: coverage (units and share of the insured) and cost, baseline beside
variant, checked against an independent computation on a generated drop (the units read with the csv module,
decisions screened on their own for each parameter set, sums and half-up shares in plain Python)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.policy.codes import PAYABLE_DECISIONS
from mianshen.policy.engine import INPUT_TABLES, screen
from mianshen.policy.parameters import resolve, with_overrides

AS_OF = date(2021, 7, 1)
CHANGE = {"layoff_rate_limit": "0.03", "ratio.sme": "0.90"}


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "drop"
    generate(units=1500, seed=11, out=out, fmt="csv")
    return out


def share(part: int, whole: int) -> str:
    if whole == 0:
        return ""
    q = (part * 20_000 + whole) // (2 * whole)  # half up, in integers
    return f"{q // 10_000}.{q % 10_000:04d}"


def expected(drop: Path) -> list[dict[str, object]]:
    with (drop / "units.csv").open(encoding="utf-8", newline="") as f:
        district = {r["unit_id"]: r["district"] for r in csv.DictReader(f)}
    base = resolve("beijing-2021", AS_OF)
    tables = validate_drop(drop, tables=INPUT_TABLES, progress=False).tables
    sides = {}
    for name, params in (("baseline", base), ("variant", with_overrides(base, CHANGE))):
        sides[name] = {r["unit_id"]: r for r in screen(tables, params, AS_OF).iter_rows(named=True)}
    size = {u: (r["size_class"] or "(none)") for u, r in sides["baseline"].items()}
    rows: list[dict[str, object]] = []
    for by, key_of in (("size_class", size), ("district", district)):
        insured = Counter(key_of[u] for u in district)
        for key in sorted(insured):
            row: dict[str, object] = {"breakdown": by, "key": key, "units_insured": insured[key]}
            for name, decided in sides.items():
                units = [r for u, r in decided.items() if key_of[u] == key]
                covered = sum(1 for r in units if r["decision"] in PAYABLE_DECISIONS)
                row[f"covered_{name}"] = covered
                row[f"share_{name}"] = share(covered, insured[key])
                row[f"amount_fen_{name}"] = sum(r["amount_fen"] or 0 for r in units)
            row["amount_fen_change"] = int(row["amount_fen_variant"]) - int(row["amount_fen_baseline"])  # type: ignore[call-overload]
            rows.append(row)
    return rows


def run(drop: Path, fmt: str) -> str:
    out = io.StringIO()
    sets = [a for k, v in CHANGE.items() for a in ("--set", f"{k}={v}")]
    call_command("simulate", "--policy", "beijing-2021", "--data", str(drop), "--as-of", "2021-07-01", *sets,
                 "--format", fmt, "--quiet", stdout=out, stderr=io.StringIO())  # fmt: skip
    return out.getvalue()


def test_json_by_size_class_and_district_matches_an_independent_computation(drop: Path) -> None:
    got = json.loads(run(drop, "json"))
    want = expected(drop)
    assert got["breakdowns"] == want
    districts = [r for r in want if r["breakdown"] == "district"]
    assert len(districts) >= 10  # the generated city spans the districts
    assert sum(int(r["units_insured"]) for r in districts) == got["units"] == 1500  # type: ignore[call-overload]
    assert sum(int(r["amount_fen_variant"]) for r in districts) == got["cost_fen_variant"]  # type: ignore[call-overload]
    assert any(r["covered_baseline"] != r["covered_variant"] for r in districts)  # someone gains or loses


def test_csv_holds_the_same_rows(drop: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run(drop, "csv"))))
    assert rows == [{k: "" if v is None else str(v) for k, v in r.items()} for r in expected(drop)]


def test_table_shows_both_breakdowns_beside_the_baseline(drop: Path) -> None:
    text = run(drop, "table")
    by_district = [r for r in expected(drop) if r["breakdown"] == "district"]
    assert "size class" in text and "district" in text
    for r in by_district:
        line = next(line for line in text.splitlines() if line.startswith(str(r["key"]) + " "))
        assert f"{r['share_baseline']}  →  {r['share_variant']}" in line


def test_an_unknown_format_is_one_line(drop: Path) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        run(drop, "xml")
