"""decisions.csv and decisions.parquet, byte for byte (contracts §2.2)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mianshen.policy.codes import DECISION_COLUMNS, DECISION_INT_COLUMNS
from mianshen.policy.output import contract_frame, write_csv, write_decisions


def rfc4180(value: object) -> str:
    """A field as RFC 4180 wants it, quoted only when needed; None is an empty field."""
    if value is None:
        return ""
    text = str(value)
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def decisions(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {c: (pl.Int64 if c in DECISION_INT_COLUMNS else pl.String) for c in DECISION_COLUMNS}
    full = [{c: row.get(c) for c in DECISION_COLUMNS} for row in rows]
    return pl.DataFrame(full, schema=schema, orient="row")


TRICKY = [
    {
        "unit_id": "A,1",
        "credit_code": "X",
        "decision": "eligible",
        "failed": "",
        "base_fen": 0,
        "amount_fen": 0,
    },
    {"unit_id": 'B"2', "credit_code": "X", "decision": "ineligible", "failed": "ARREARS|NO_PREMIUM"},
    {"unit_id": "C\n3", "credit_code": "X", "decision": "manual_review", "base_headcount": 12},
    {
        "unit_id": "D\r4",
        "credit_code": "北京",
        "decision": "eligible",
        "layoff_rate": "0.0711",
        "ratio": "0.055",
    },
    {"unit_id": " E5 ", "credit_code": "X", "decision": "eligible", "amount_fen": 1234567890123},
]


def test_csv_bytes(tmp_path: Path) -> None:
    frame = decisions(TRICKY)
    path = tmp_path / "decisions.csv"
    write_csv(contract_frame(frame), path)
    expected = ",".join(DECISION_COLUMNS) + "\n"
    for row in TRICKY:
        values = [None if row.get(c) in ("", None) else row.get(c) for c in DECISION_COLUMNS]
        expected += ",".join(rfc4180(v) for v in values) + "\n"
    data = path.read_bytes()
    assert data == expected.encode("utf-8")
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\n") and b"\r\n" not in data.replace(b'"D\r4"', b"")


def test_no_quotes_for_empty_fields(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    write_csv(
        contract_frame(decisions([{"unit_id": "U1", "credit_code": "C", "decision": "eligible"}])), path
    )
    assert path.read_text(encoding="utf-8").splitlines()[1] == "U1,C,eligible" + "," * (
        len(DECISION_COLUMNS) - 3
    )


def test_parquet_types_and_replacement(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"
    write_decisions(decisions(TRICKY), out)
    (out / "decisions.csv").write_text("old", encoding="utf-8")
    csv_path, parquet_path = write_decisions(decisions(TRICKY), out)
    assert csv_path.read_text(encoding="utf-8").startswith("unit_id,credit_code,")
    back = pl.read_parquet(parquet_path)
    assert back.columns == list(DECISION_COLUMNS)
    for column in DECISION_COLUMNS:
        assert back.schema[column] == (pl.Int64 if column in DECISION_INT_COLUMNS else pl.String), column
    assert back.get_column("failed").to_list() == [None, "ARREARS|NO_PREMIUM", None, None, None]
    assert back.get_column("base_headcount").to_list() == [None, None, 12, None, None]
    assert sorted(p.name for p in out.iterdir()) == [
        "decisions.csv",
        "decisions.parquet",
    ]  # no temporary left
