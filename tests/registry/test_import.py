"""Import of a data drop as a snapshot: every good row kept, every rejected row kept with its reason,
re-import a no-op, nothing half-applied, typed round trip; on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from django.db import connection

from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.registry import models
from mianshen.registry.selectors import snapshot_frames
from mianshen.registry.services import snapshot_import

pytestmark = pytest.mark.django_db(transaction=False)

EXTRACTED = date(2021, 7, 1)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city") / "drop"
    generate(units=300, seed=7, out=out, fmt="csv")
    return out


@pytest.fixture
def planted(city: Path, tmp_path: Path) -> Path:
    """The generated city with one bad row appended to units, headcount and contributions."""
    drop = tmp_path / "planted"
    shutil.copytree(city, drop)
    with (drop / "units.csv").open("a", encoding="utf-8") as f:
        f.write("U-BAD,NOTAUSCC,坏单位,enterprise,13,110105,0,,,,,,\n")
    with (drop / "headcount.csv").open("a", encoding="utf-8") as f:
        f.write("U-NOBODY,2020-12,5\n")
    with (drop / "contributions.csv").open("a", encoding="utf-8") as f:
        first_unit = (drop / "units.csv").read_text(encoding="utf-8").splitlines()[1].split(",")[0]
        f.write(f"{first_unit},2031-13,100,-5,\n")
    return drop


def _row_counts(snapshot: models.Snapshot) -> dict[str, int]:
    from mianshen.registry.services import TABLE_MODELS

    return {t: m.objects.filter(snapshot=snapshot).count() for t, m in TABLE_MODELS.items()}


def test_import_keeps_every_accepted_row_typed(city: Path) -> None:
    drop = validate_drop(city)
    result = snapshot_import(drop=drop, extracted_on=EXTRACTED)
    assert result.created
    snap = result.snapshot
    assert snap.content_hash == drop.content_hash
    assert (
        models.DispatchHost.objects.filter(snapshot=snap).count() == drop.tables["dispatch_hosts"].height > 0
    )
    assert _row_counts(snap) == {t: df.height for t, df in drop.tables.items()} | {
        t: 0
        for t in (
            "dispatch_confirmations",
            "dispatch_hosts",
            "risk_areas",
            "person_months",
            "hires",
            "graduate_register",
            "hiring_subsidy_recipients",
        )
        if t not in drop.tables
    }
    frames = snapshot_frames(snapshot=snap)
    for table, df in drop.tables.items():
        assert frames[table].equals(df.select(frames[table].columns)), table


def test_reimport_same_content_is_a_noop(city: Path) -> None:
    first = snapshot_import(drop=validate_drop(city), extracted_on=EXTRACTED)
    before = models.Headcount.objects.count()
    again = snapshot_import(drop=validate_drop(city), extracted_on=date(2021, 8, 1))
    assert not again.created
    assert again.snapshot.pk == first.snapshot.pk
    assert models.Headcount.objects.count() == before
    assert models.Snapshot.objects.count() == 1


def test_rejected_rows_are_kept_with_their_reasons(planted: Path) -> None:
    drop = validate_drop(planted)
    snap = snapshot_import(drop=drop, extracted_on=EXTRACTED).snapshot
    rejected = {(r.file, r.codes) for r in models.RejectedRow.objects.filter(snapshot=snap)}
    assert ("units.csv", "BAD_USCC") in rejected
    assert ("headcount.csv", "UNKNOWN_UNIT") in rejected
    assert any(f == "contributions.csv" and "BAD_MONTH" in c and "NEGATIVE" in c for f, c in rejected)
    bad_unit = models.RejectedRow.objects.get(snapshot=snap, file="units.csv")
    assert bad_unit.values["unit_id"] == "U-BAD"
    assert bad_unit.values["name"] == "坏单位"
    assert snap.rows_rejected == {"units": 1, "headcount": 1, "contributions": 1}
    assert models.Problem.objects.filter(snapshot=snap, severity="error").count() == drop.error_count
    # the good rows all arrived
    assert models.Unit.objects.filter(snapshot=snap).count() == drop.tables["units"].height


def test_failure_midway_leaves_nothing(city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mianshen.registry import services

    calls = {"n": 0}
    real = services.frame_insert

    def exploding(**kwargs: object) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "frame_insert", exploding)
    with pytest.raises(RuntimeError):
        snapshot_import(drop=validate_drop(city), extracted_on=EXTRACTED)
    assert models.Snapshot.objects.count() == 0
    assert models.Unit.objects.count() == 0
    assert models.Headcount.objects.count() == 0


@pytest.mark.skipif(sys.platform == "win32", reason="posix paths")
def test_import_command_exit_codes(city: Path, planted: Path, tmp_path: Path) -> None:
    """The console command end to end, in a subprocess against its own SQLite file."""
    env = {"MIANSHEN_VAR_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin"}
    exe = str(Path(sys.executable).with_name("mianshen"))
    not_ready = subprocess.run([exe, "import", str(city)], env=env, capture_output=True, text=True)
    assert not_ready.returncode == 2
    assert "mianshen migrate" in not_ready.stderr
    subprocess.run([exe, "migrate", "-v0"], env=env, check=True)
    ok = subprocess.run([exe, "import", str(city), "--quiet"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    again = subprocess.run([exe, "import", str(city), "--quiet"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "already imported" in again.stderr
    bad = subprocess.run([exe, "import", str(planted), "--quiet"], env=env, capture_output=True, text=True)
    assert bad.returncode == 3, bad.stderr
    missing = subprocess.run([exe, "import", str(tmp_path / "nope")], env=env, capture_output=True, text=True)
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "units.csv").write_text("unit_id\n1\n", encoding="utf-8")
    unusable = subprocess.run(
        [exe, "import", str(tmp_path / "broken")], env=env, capture_output=True, text=True
    )
    assert unusable.returncode == 2
    assert len(unusable.stderr.strip().splitlines()) == 1, unusable.stderr


def test_copy_is_used_on_postgresql(city: Path, django_assert_max_num_queries: object) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    drop = validate_drop(city)
    # COPY streams each table in one statement: a handful of queries, not one per row.
    with django_assert_max_num_queries(40):  # type: ignore[operator]
        snapshot_import(drop=drop, extracted_on=EXTRACTED)
    assert models.Headcount.objects.count() == drop.tables["headcount"].height


def test_frames_round_trip_nulls_and_unicode(tmp_path: Path) -> None:
    drop_dir = tmp_path / "d"
    generate(units=40, seed=3, out=drop_dir, fmt="parquet")
    drop = validate_drop(drop_dir)
    snap = snapshot_import(drop=drop, extracted_on=EXTRACTED).snapshot
    units = snapshot_frames(snapshot=snap, tables=("units",))["units"]
    assert units["name"].str.contains(r"[\u4e00-\u9fff]").all()
    assert units.schema == pl.Schema(drop.tables["units"].schema)


def test_a_drop_of_part_folders_keeps_each_row_at_its_part_and_line(tmp_path: Path) -> None:
    out = tmp_path / "parts"
    generate(units=120, seed=7, out=out, fmt="parquet", parts=3)
    last = sorted((out / "headcount").iterdir())[-1]
    rows = pl.read_parquet(last)
    pl.concat(
        [rows, pl.DataFrame({"unit_id": ["U-NOBODY"], "month": ["2020-12"], "insured": [5]})]
    ).write_parquet(last)
    drop = validate_drop(out)
    snap = snapshot_import(drop=drop, extracted_on=EXTRACTED).snapshot
    kept = models.RejectedRow.objects.get(snapshot=snap)
    assert (kept.file, kept.line, kept.codes) == (
        "headcount/part-00002.parquet",
        rows.height + 2,
        "UNKNOWN_UNIT",
    )
    problem = models.Problem.objects.get(snapshot=snap, code="UNKNOWN_UNIT")
    assert (problem.file, problem.line) == (kept.file, kept.line)
    files = {f["filename"]: f for f in snap.files}
    assert [p["filename"] for p in files["headcount/"]["parts"]] == [
        f"headcount/part-0000{k}.parquet" for k in range(3)
    ]
    assert models.Unit.objects.filter(snapshot=snap).count() == 120
