"""The frames of the last imported snapshot, kept in the process (``registry.kept``): exactly what the database
gives back, used by the rounds only for that very snapshot, and the next import copies a table whose accepted rows
are the same inside the database — with the same rows, in the same order, as sending them. SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mianshen.datadrop.generate import generate
from mianshen.datadrop.schema import TABLES
from mianshen.datadrop.validate import validate_drop
from mianshen.registry import kept, models, selectors
from mianshen.registry.bulk import frame_select
from mianshen.registry.selectors import snapshot_frames
from mianshen.registry.services import TABLE_MODELS, snapshot_import

pytestmark = pytest.mark.django_db(transaction=False)

EXTRACTED = date(2021, 7, 1)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city") / "drop"
    generate(units=200, seed=11, out=out, fmt="csv", retention=True, job_expansion=True)  # every table
    return out


def _from_database(snapshot: models.Snapshot) -> dict[str, pl.DataFrame]:
    return {
        t: frame_select(
            table=TABLE_MODELS[t]._meta.db_table, schema=TABLES[t].schema(), snapshot_id=snapshot.pk
        )
        for t in snapshot.rows_accepted
    }


def _import(path: Path, commit: Callable[..., Any]) -> models.Snapshot:
    with commit(execute=True):  # the import's on_commit runs (the test's transaction never commits)
        return snapshot_import(drop=validate_drop(path), extracted_on=EXTRACTED).snapshot


def test_kept_frames_are_what_the_database_gives_back(
    city: Path, django_capture_on_commit_callbacks: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    snap = _import(city, django_capture_on_commit_callbacks)
    stored = _from_database(snap)
    assert len(stored) == len(TABLE_MODELS)  # every table of the schema is in this drop
    for table, frame in stored.items():
        held = kept.kept_frame(snap, table)
        assert held is not None, table
        assert held.equals(frame), table
        assert held.schema == frame.schema, table
    # a round of this snapshot reads no row of it from the database
    monkeypatch.setattr(selectors, "frame_select", None)  # called: a TypeError
    frames = snapshot_frames(snapshot=snap)
    assert all(frames[t].equals(stored[t]) for t in stored)


def test_nothing_kept_when_the_import_does_not_commit(city: Path) -> None:
    snap = snapshot_import(
        drop=validate_drop(city), extracted_on=EXTRACTED
    ).snapshot  # inside the test's transaction
    assert kept.kept_frame(snap, "units") is None
    assert snapshot_frames(snapshot=snap)["units"].equals(_from_database(snap)["units"])


def test_another_snapshot_or_database_row_is_read_from_the_database(
    city: Path, django_capture_on_commit_callbacks: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    snap = _import(city, django_capture_on_commit_callbacks)
    # the same id, content and import time is the kept one; a different import time (a rolled-back row whose id
    # came back) is not
    same = models.Snapshot.objects.get(pk=snap.pk)
    assert kept.kept_frame(same, "units") is not None
    same.imported_at = same.imported_at.replace(microsecond=(same.imported_at.microsecond + 1) % 1_000_000)
    assert kept.kept_frame(same, "units") is None
    kept.forget()
    read: list[str] = []

    def spy(**kwargs: Any) -> pl.DataFrame:
        read.append(kwargs["table"])
        return frame_select(**kwargs)

    monkeypatch.setattr(selectors, "frame_select", spy)
    assert snapshot_frames(snapshot=snap, tables=("units",))["units"].equals(_from_database(snap)["units"])
    assert read == ["registry_unit"]


def _changed(city: Path, dst: Path) -> None:
    """The city with one contribution paid in full and one account changed: the other tables are the same."""
    shutil.copytree(city, dst)
    contributions = pl.read_csv(dst / "contributions.csv", infer_schema=False)
    row = contributions.with_row_index().filter(pl.col("paid_fen") != pl.col("due_fen"))["index"][0]
    contributions.with_columns(
        pl.when(pl.int_range(pl.len()) == row)
        .then(pl.col("due_fen"))
        .otherwise(pl.col("paid_fen"))
        .alias("paid_fen")
    ).write_csv(dst / "contributions.csv")
    accounts = pl.read_csv(dst / "bank_accounts.csv", infer_schema=False)
    accounts.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("6222000011112222"))
        .otherwise(pl.col("account_no"))
        .alias("account_no")
    ).write_csv(dst / "bank_accounts.csv")


def test_unchanged_tables_copied_inside_the_database_with_the_same_rows(
    city: Path, tmp_path: Path, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    first = _import(city, django_capture_on_commit_callbacks)
    _changed(city, tmp_path / "b")
    changed = tmp_path / "b"
    with CaptureQueriesContext(connection) as ctx:
        second = _import(changed, django_capture_on_commit_callbacks)
    copies = {
        q["sql"].split('"')[1]
        for q in ctx.captured_queries
        if " SELECT " in q["sql"] and q["sql"].startswith("INSERT")
    }
    tables = {t: TABLE_MODELS[t]._meta.db_table for t in TABLE_MODELS}
    assert copies == {tables[t] for t in TABLE_MODELS if t not in {"contributions", "bank_accounts"}}
    # the second snapshot's rows as the database holds them: exactly the drop's, as if every row had been sent
    stored = _from_database(second)
    drop = validate_drop(changed)
    for table, frame in stored.items():
        assert frame.equals(drop.tables[table].select(frame.columns)), table
    assert not stored["contributions"].equals(_from_database(first)["contributions"])
    assert stored["units"].equals(_from_database(first)["units"])
    # line numbers copied too (a rejected-row report and an explanation name the line)
    lines = dict(models.Unit.objects.filter(snapshot=second).values_list("unit_id", "line"))
    assert lines == dict(models.Unit.objects.filter(snapshot=first).values_list("unit_id", "line"))
    assert {t: n for t, n in second.rows_accepted.items() if t != "contributions"} == {
        t: n for t, n in first.rows_accepted.items() if t != "contributions"
    }
