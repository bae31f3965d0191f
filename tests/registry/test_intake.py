"""Validation and the database agree, and every import is audited; on SQLite and PostgreSQL.

- Whatever ``validate`` accepts, ``import`` stores: a NUL in a name, a 45-character phone, a name of 501
  characters are rejected rows (CONTROL_CHARACTER, TOO_LONG), never a database error; values at the limits are
  stored and read back unchanged; any text value (hypothesis) either is rejected or round-trips.
- The registry's column sizes are the schema's.
- ``snapshot.imported`` / ``snapshot.import_repeated`` / ``snapshot.rejected``, with counts and hashes; a refused
  import's event survives the refused import's rollback.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from django.db import connection, models, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.datadrop.drop import DropUnusable
from mianshen.datadrop.generate import generate
from mianshen.datadrop.schema import TABLES
from mianshen.datadrop.validate import validate_drop
from mianshen.registry import models as registry
from mianshen.registry.selectors import snapshot_frames
from mianshen.registry.services import TABLE_MODELS, snapshot_import, snapshot_validate

EXTRACTED = date(2021, 7, 1)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city") / "drop"
    generate(units=30, seed=11, out=out, fmt="csv")
    return out


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, names: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def edited_city(
    city: Path, out: Path, units: dict[int, dict[str, str]], accounts: dict[int, dict[str, str]]
) -> Path:
    """A copy of the city with units changed (by row index) and the bank accounts of units (by the unit's row
    index)."""
    shutil.copytree(city, out)
    unit_names, unit_rows = read_rows(out / "units.csv")
    account_names, account_rows = read_rows(out / "bank_accounts.csv")
    by_unit = {row["unit_id"]: row for row in account_rows}
    for index, values in units.items():
        unit_rows[index].update(values)
    for index, values in accounts.items():
        by_unit[unit_rows[index]["unit_id"]].update(values)
    write_rows(out / "units.csv", unit_names, unit_rows)
    write_rows(out / "bank_accounts.csv", account_names, account_rows)
    return out


def with_accounts(city: Path, count: int) -> list[int]:
    """Row indexes (from 5 on) of units that have a bank account."""
    _names, units = read_rows(city / "units.csv")
    _names, accounts = read_rows(city / "bank_accounts.csv")
    held = {row["unit_id"] for row in accounts}
    return [i for i, row in enumerate(units) if i >= 5 and row["unit_id"] in held][:count]


def actions() -> list[int]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


# --- one source for the column sizes ----------------------------------------------------------------------

FIELD_TYPES = {
    "int": models.BigIntegerField,
    "date": models.DateField,
    "flag01": models.BooleanField,
}


def test_the_registry_columns_are_the_schemas() -> None:
    """Every column of every table is a field of its model, of the kind's type, as wide as the schema says,
    nullable exactly when optional; and the models hold nothing else."""
    for table, model in TABLE_MODELS.items():
        schema = TABLES[table]
        fields = {f.name: f for f in model._meta.get_fields() if f.name not in ("id", "snapshot", "line")}
        assert set(fields) == set(schema.column_names), table
        for column in schema.columns:
            field = fields[column.name]
            assert isinstance(field, FIELD_TYPES.get(column.kind, models.CharField)), (table, column.name)
            if isinstance(field, models.CharField):
                assert column.max_length is not None, (table, column.name)
                assert field.max_length == column.max_length, (table, column.name)
            else:
                assert column.max_length is None, (table, column.name)
            assert field.null == (not column.required), (table, column.name)
            for choice in column.choices:
                assert column.max_length is not None and len(choice) <= column.max_length, (table, choice)


# --- whatever validate accepts, import stores -------------------------------------------------------------


@pytest.mark.django_db
def test_what_validate_accepts_import_stores(city: Path, tmp_path: Path) -> None:
    fits, too_long = with_accounts(city, 2)
    drop_dir = edited_city(
        city,
        tmp_path / "drop",
        units={
            0: {"name": "北京\x00甲公司"},  # PostgreSQL: CharacterNotInRepertoire before
            1: {"phone": "1" * 45},  # varchar(32)
            2: {"name": "名" * 501},  # varchar(500)
            3: {"name": "名" * 500, "phone": "1" * 32},  # at the limits: fine
            4: {"name": "北京\t乙公司"},
        },
        accounts={
            fits: {"account_name": "丙" * 500, "account_no": "6" * 64},
            too_long: {"account_no": "6" * 65},
        },
    )
    drop = validate_drop(drop_dir)
    rejected = dict(zip(drop.rejected["units"]["line"], drop.rejected["units"]["codes"], strict=True))
    assert rejected == {2: "CONTROL_CHARACTER", 3: "TOO_LONG", 4: "TOO_LONG", 6: "CONTROL_CHARACTER"}
    accounts = drop.rejected["bank_accounts"]
    assert accounts.filter(pl.col("codes").str.contains("TOO_LONG"))["account_no"].to_list() == ["6" * 65]

    snap = snapshot_import(drop=drop, extracted_on=EXTRACTED).snapshot
    frames = snapshot_frames(snapshot=snap)
    for table, df in drop.tables.items():
        assert frames[table].equals(df.select(frames[table].columns)), table
    stored = registry.Unit.objects.get(snapshot=snap, line=5)
    assert (len(stored.name), stored.phone) == (500, "1" * 32)
    assert registry.BankAccount.objects.filter(snapshot=snap, account_no="6" * 64).exists()
    kept = registry.RejectedRow.objects.get(snapshot=snap, file="units.csv", line=2)
    assert kept.values["name"] == "北京\u2400甲公司"  # NUL kept visibly: jsonb cannot hold U+0000
    problem = registry.Problem.objects.get(snapshot=snap, line=2, file="units.csv", code="CONTROL_CHARACTER")
    assert problem.message == "name '北京\\x00甲公司' contains a control character"


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12) | st.text(
    st.sampled_from("名a1 \x00\t"), min_size=60, max_size=520
)


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    unit_id=TEXT,
    name=TEXT,
    phone=TEXT,
    account_no=TEXT,
    account_name=TEXT,
    source=TEXT,
    fmt=st.sampled_from(["csv", "parquet"]),
)
def test_any_text_value_validate_accepts_imports(
    unit_id: str, name: str, phone: str, account_no: str, account_name: str, source: str, fmt: str
) -> None:
    """Property: a drop whose free-text values are anything at all either has them rejected, or imports and
    reads back exactly what validation accepted (on PostgreSQL: no CharacterNotInRepertoire, no varchar
    overflow)."""
    unit = {
        "unit_id": unit_id,
        "credit_code": "91110105MA01ABCD3Y",
        "name": name,
        "unit_type": "enterprise",
        "industry": "6513",
        "district": "110105",
        "dispatch": "0",
        "phone": phone,
    }
    account = {
        "unit_id": unit_id,
        "bank_code": "102",
        "branch_code": "102100000011",
        "account_no": account_no,
        "account_name": account_name,
    }
    flag = {"credit_code": "91110105MA01ABCD3Y", "flag": "abnormal_operation", "listed_on": "2020-05-01"}
    flag["source"] = source
    rows = {"units": [unit], "bank_accounts": [account], "credit_flags": [flag]}
    with tempfile.TemporaryDirectory() as tmp:
        drop_dir = Path(tmp)
        for table in TABLES.values():
            if not table.required_file:
                continue
            table_rows = [{c: r.get(c, "") for c in table.column_names} for r in rows.get(table.name, [])]
            if fmt == "csv":  # RFC 4180 quoting of every value that needs it (line breaks, quotes, commas)
                write_rows(drop_dir / f"{table.name}.csv", table.column_names, table_rows)
            else:
                values = [{c: v or None for c, v in r.items()} for r in table_rows]
                schema = dict.fromkeys(table.column_names, pl.String)
                pl.DataFrame(values, schema=schema, orient="row").write_parquet(
                    drop_dir / f"{table.name}.parquet"
                )
        drop = validate_drop(drop_dir)
        with transaction.atomic():
            snap = snapshot_import(drop=drop, extracted_on=EXTRACTED).snapshot
            frames = snapshot_frames(snapshot=snap)
            for table, df in drop.tables.items():
                assert frames[table].equals(df.select(frames[table].columns)), table
            assert registry.RejectedRow.objects.filter(snapshot=snap).count() == drop.rejected_rows
            transaction.set_rollback(True)


# --- every import is audited ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_import_is_audited_with_its_counts_and_hashes(city: Path, tmp_path: Path) -> None:
    drop = validate_drop(city)
    snap = snapshot_import(drop=drop, extracted_on=EXTRACTED, imported_by="cli:tester").snapshot
    event = AuditEvent.objects.get(action=Action.SNAPSHOT_IMPORTED)
    assert (event.actor, event.object_type, event.object_id) == ("cli:tester", "snapshot", str(snap.pk))
    assert event.after["content_hash"] == drop.content_hash
    assert event.after["files"] == {f.filename: f.sha256 for f in drop.files.values()}
    assert event.after["rows_accepted"] == {t: df.height for t, df in drop.tables.items()}
    assert event.after["rows_rejected"] == {} and event.after["errors"] == 0

    again = snapshot_import(drop=validate_drop(city), extracted_on=EXTRACTED, imported_by="cli:tester")
    assert not again.created
    assert actions() == [Action.SNAPSHOT_IMPORTED, Action.SNAPSHOT_IMPORT_REPEATED]
    repeated = AuditEvent.objects.get(action=Action.SNAPSHOT_IMPORT_REPEATED)
    assert (repeated.object_id, repeated.after["content_hash"]) == (str(snap.pk), drop.content_hash)


@pytest.mark.django_db
def test_an_import_with_rejected_rows_is_audited_with_them(city: Path, tmp_path: Path) -> None:
    drop = validate_drop(edited_city(city, tmp_path / "drop", {0: {"name": "名" * 501}}, {}))
    snap = snapshot_import(drop=drop, extracted_on=EXTRACTED).snapshot
    event = AuditEvent.objects.get(action=Action.SNAPSHOT_IMPORTED)
    assert event.actor == "system:import"
    assert event.after["rows_rejected"] == snap.rows_rejected != {}
    assert event.after["errors"] == drop.error_count > 0
    assert "rejected and kept aside" in event.reason


@pytest.mark.django_db(transaction=True)
def test_a_refused_drop_is_audited(city: Path, tmp_path: Path) -> None:
    drop_dir = tmp_path / "drop"
    shutil.copytree(city, drop_dir)
    names, _rows = read_rows(drop_dir / "units.csv")
    write_rows(drop_dir / "units.csv", names, [])
    with pytest.raises(DropUnusable, match="no data rows"):
        snapshot_validate(path=drop_dir, actor="cli:tester")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.object_type) == (
        Action.SNAPSHOT_REJECTED,
        "cli:tester",
        "data_drop",
    )
    assert event.reason == "units.csv: no data rows (a drop needs at least one unit)"
    assert set(event.after["files"]) == {p.name for p in drop_dir.iterdir()}
    assert event.object_id == event.after["content_hash"]
    assert registry.Snapshot.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_value_the_database_refuses_rolls_the_import_back_and_the_refusal_stays(city: Path) -> None:
    """Were validation ever to let through a value the database refuses, nothing of the drop is kept, the
    refusal is one line (DropUnusable, exit 2), and its audit event is written after the rollback."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores any text: only PostgreSQL refuses a value")
    drop = validate_drop(city)
    units = drop.tables["units"]
    drop.tables["units"] = units.with_columns(
        pl.when(pl.col("line") == 5).then(pl.lit("名" * 501)).otherwise(pl.col("name")).alias("name")
    )
    with pytest.raises(
        DropUnusable, match=r"^the database refused a value of the drop \(.*\); nothing was imported$"
    ):
        snapshot_import(drop=drop, extracted_on=EXTRACTED)
    assert registry.Snapshot.objects.count() == 0
    assert all(m.objects.count() == 0 for m in TABLE_MODELS.values())
    assert actions() == [Action.SNAPSHOT_REJECTED]
    assert AuditEvent.objects.get().after["content_hash"] == drop.content_hash


@pytest.mark.skipif(sys.platform == "win32", reason="posix paths")
def test_the_import_command_audits_refusals_and_imports(city: Path, tmp_path: Path) -> None:
    """End to end on an SQLite file: a refused drop exits 2 with one line and leaves its event."""
    env = {"MIANSHEN_VAR_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin"}
    env |= {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}  # the sources under test
    exe = str(Path(sys.executable).with_name("mianshen"))
    subprocess.run([exe, "migrate", "-v0"], env=env, check=True)
    drop_dir = tmp_path / "drop"
    shutil.copytree(city, drop_dir)
    units = (drop_dir / "units.csv").read_text(encoding="utf-8")
    (drop_dir / "units.csv").write_text(units.splitlines()[0] + "\n", encoding="utf-8")
    refused = subprocess.run(
        [exe, "import", str(drop_dir), "--quiet"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "mianshen import: units.csv: no data rows (a drop needs at least one unit)"
    ]
    (drop_dir / "units.csv").write_text(units, encoding="utf-8")
    done = subprocess.run(
        [exe, "import", str(drop_dir), "--quiet", "--actor", "cli:ops"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "var" / "mianshen.sqlite3") as db:
        events = db.execute("SELECT action, actor FROM audit_auditevent ORDER BY seq").fetchall()
    assert events[0][0] == Action.SNAPSHOT_REJECTED and events[0][1].startswith("cli:")
    assert events[1:] == [(Action.SNAPSHOT_IMPORTED, "cli:ops")]
