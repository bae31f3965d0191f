"""Explanations: golden texts (zh, en) for a failing, an unknown, a routed and an eligible unit; every template;
rendering from stored (JSON) evidence gives the same words.

Set MIANSHEN_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change, then read the diff.
"""

from __future__ import annotations

import json
import os
import string
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from mianshen.policy import engine, explain
from mianshen.policy.codes import OUTCOMES
from mianshen.policy.conditions import CONDITIONS, ROUTES
from mianshen.policy.parameters import resolve

from .helpers import frames
from .test_cases import CASES, build

GOLDEN = Path(__file__).parent / "golden"
AS_OF = date(2021, 7, 1)
UNITS = {"failing": "B23", "unknown": "B33", "routed": "B34", "eligible": "B01", "fallback": "B31"}


@pytest.fixture(scope="module")
def evaluated() -> pl.DataFrame:
    spec = yaml.safe_load((CASES / "beijing-2021.yaml").read_text(encoding="utf-8"))
    cases = [c for c in spec["cases"] if c["unit"]["unit_id"] in UNITS.values()]
    params = resolve("beijing-2021", AS_OF)
    return engine.evaluate(frames(build({**spec, "as_of": AS_OF}, cases)), params, AS_OF)


def row(evaluated: pl.DataFrame, unit_id: str) -> dict[str, Any]:
    found: dict[str, Any] = evaluated.filter(pl.col("unit_id") == unit_id).row(0, named=True)
    return found


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("kind", sorted(UNITS))
def test_golden(evaluated: pl.DataFrame, kind: str, lang: str) -> None:
    text = explain.render(row(evaluated, UNITS[kind]), resolve("beijing-2021", AS_OF), lang)
    path = GOLDEN / f"explain-{kind}.{lang}.txt"
    if os.environ.get("MIANSHEN_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_the_worked_example(evaluated: pl.DataFrame) -> None:
    params = resolve("beijing-2021", AS_OF)
    assert "裁员率 7.11%（上年末参保 232 人，自然减员 3 人，上上年末参保 253 人）高于 6%" in explain.render(
        row(evaluated, "B23"), params, "zh"
    )
    assert (
        "layoff rate 7.11% (232 insured at the end of 2020, 3 retired or died, 253 insured at the end of 2019) "
        "is above 6%" in explain.render(row(evaluated, "B23"), params, "en")
    )


def test_renders_the_same_from_stored_json_evidence(evaluated: pl.DataFrame) -> None:
    """As a persisted round stores it: every column JSON-encoded, dates as text, enums as strings."""
    params = resolve("beijing-2021", AS_OF)
    stored = evaluated.select(pl.struct(pl.all()).struct.json_encode().alias("evidence"))
    for encoded, unit_id in zip(stored.get_column("evidence"), evaluated.get_column("unit_id"), strict=True):
        evidence = json.loads(encoded)
        for lang in ("zh", "en"):
            assert explain.render(evidence, params, lang) == explain.render(
                row(evaluated, unit_id), params, lang
            )


def test_every_template_exists_and_its_fields_are_known(evaluated: pl.DataFrame) -> None:
    params = resolve("beijing-2021", AS_OF)
    for lang in ("zh", "en"):
        known = explain.fields(row(evaluated, "B23"), params, lang)
        for item in [*CONDITIONS, *ROUTES]:
            assert set(item.messages[lang]) == set(OUTCOMES), (item.code, lang)
            for template in item.messages[lang].values():
                names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
                assert names <= set(known), (item.code, lang, names - set(known))


def test_unknown_language(evaluated: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="unknown language"):
        explain.render(row(evaluated, "B01"), resolve("beijing-2021", AS_OF), "fr")
