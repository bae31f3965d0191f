"""Export escaping, the small-cell rule, the ratio and rank arithmetic, and bad input to `mianshen report`."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from mianshen.reports.exports import escape_cell, json_text, shown, write_csv, write_xlsx
from mianshen.reports.selectors import Cell, Outcomes, nearest_rank, ratio


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_cells_that_a_spreadsheet_would_run_are_escaped(text: str) -> None:
    assert escape_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["", "110105", "micro", "0.6900", "a=b", "中小微"])
def test_other_cells_are_unchanged(text: str) -> None:
    assert escape_cell(text) == text


def _hostile() -> Outcomes:
    """Outcomes whose keys begin like formulas (a district code is data from the drop)."""
    o = Outcomes("beijing-2021", 1, 1)
    o.cells += [
        Cell("units_paid", "district", "=cmd|' /C calc'!A0", 7, 7),
        Cell("units_paid", "district", "@x", 3, 3),
        Cell("sme_coverage", "total", "", Decimal("0.6900"), 100),
        Cell("self_service_share", "total", "", None, None),
    ]
    return o


def test_csv_and_xlsx_escape_formula_cells(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    buf = io.StringIO()
    write_csv(_hostile(), buf, public=False)
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[1] == ["units_paid", "district", "'=cmd|' /C calc'!A0", "7"]
    assert rows[2] == ["units_paid", "district", "'@x", "3"]
    path = tmp_path / "o.xlsx"
    write_xlsx(_hostile(), path, public=False)
    wb = load_workbook(path)  # not read-only: the cell types are visible
    ws = wb["outcomes"]
    assert ws["C2"].value == "'=cmd|' /C calc'!A0" and ws["C2"].data_type == "s"
    assert ws["D2"].value == 7 and ws["D2"].data_type == "n"
    assert ws["D4"].value == Decimal("0.69") or ws["D4"].value == 0.69
    assert ws["D4"].number_format == "0.0000"


def test_the_small_cell_rule() -> None:
    assert shown(Cell("units_paid", "total", "", 4, 4), public=True) is None
    assert shown(Cell("units_paid", "total", "", 0, 0), public=True) is None
    assert shown(Cell("units_paid", "total", "", 5, 5), public=True) == 5
    assert shown(Cell("units_paid", "total", "", 4, 4), public=False) == 4  # internal use: everything
    assert shown(Cell("self_service_share", "total", "", None, None), public=False) is None
    # a ratio is suppressed by its denominator, not by its numerator
    assert shown(Cell("sme_coverage", "total", "", Decimal("0.2500"), 4), public=True) is None
    assert shown(Cell("sme_coverage", "total", "", Decimal("0.2000"), 5), public=True) == Decimal("0.2000")
    text = json_text(_hostile(), public=True)
    assert '"value": null' in text and '"value": 7' in text and '"value": 0.6900' in text
    assert '"key": "@x", "value": null' in text  # 3 units


def test_ratio_is_exact_and_half_up() -> None:
    assert ratio(1, 3) == Decimal("0.3333")
    assert ratio(2, 3) == Decimal("0.6667")
    assert ratio(1, 8) == Decimal("0.1250")
    assert ratio(1, 20000) == Decimal("0.0001")  # 0.00005 rounds up
    assert ratio(1, 20001) == Decimal("0.0000")
    assert ratio(137, 1000) == Decimal("0.1370") and str(ratio(69, 100)) == "0.6900"
    assert ratio(0, 0) is None and ratio(5, 5) == Decimal("1.0000")
    # half-up at scale, against Decimal's own rounding
    from decimal import ROUND_HALF_UP

    for num, den in ((12345, 99991), (441300, 441301), (7, 16)):
        assert ratio(num, den) == (Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def test_nearest_rank() -> None:
    assert [nearest_rank(n, 50) for n in (1, 2, 3, 4, 5)] == [1, 1, 2, 2, 3]
    assert [nearest_rank(n, 90) for n in (1, 9, 10, 11, 20)] == [1, 9, 9, 10, 18]


def _mianshen(*args: str, env_db: str | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ)
    if env_db is not None:
        env["MIANSHEN_DATABASE_URL"] = env_db
    return subprocess.run(
        [sys.executable, "-m", "mianshen", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.django_db
def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    def refused(*args: str) -> str:
        with pytest.raises(CommandError) as e:
            call_command("report", "outcomes", *args)
        assert e.value.returncode != 0
        message = str(e.value)
        assert "\n" not in message
        return message

    assert "no cases yet" in refused()
    assert "unknown policy 'nowhere-1999'" in refused("--policy", "nowhere-1999")
    assert "no cases for policy national-2020" in refused("--policy", "national-2020")
    assert "no such directory" in refused("--format", "csv", "--out", str(tmp_path / "missing" / "o.csv"))
    assert "is a directory" in refused("--format", "csv", "--out", str(tmp_path))
    assert "needs --out" in refused("--format", "xlsx")
    assert "needs --out" in refused("--format", "pdf")


@pytest.mark.django_db
def test_an_unwritable_out_is_refused(tmp_path: Path) -> None:
    import os

    from django.core.management import call_command
    from django.core.management.base import CommandError

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere: this one check cannot be shown
            pytest.skip("running as root: a read-only directory is writable")
        with pytest.raises(CommandError, match="cannot create a file"):
            call_command("report", "outcomes", "--format", "csv", "--out", str(locked / "o.csv"))
    finally:
        locked.chmod(0o700)


def test_bad_input_from_the_command_line_has_no_traceback(tmp_path: Path) -> None:
    """Through the real entry point, on a fresh SQLite file: one line on stderr, exit 2."""
    db = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    r = _mianshen("report", "outcomes", "--format", "nope", env_db=db)
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr
    r = _mianshen("report", "outcomes", "--out", str(tmp_path / "no" / "x.txt"), env_db=db)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "no such directory" in r.stderr


def test_a_missing_font_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mianshen.reports.pdf import FontMissing, write_pdf

    monkeypatch.setenv("MIANSHEN_CJK_FONT", str(tmp_path / "none.ttf"))
    with pytest.raises(FontMissing, match="no such font file"):
        write_pdf(_hostile(), tmp_path / "o.pdf", public=False)
    assert not (tmp_path / "o.pdf").exists()
