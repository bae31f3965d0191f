"""The command plumbing shared by every `mianshen` command."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from mianshen.core.command import iso_date


def test_iso_date_parses_and_refuses() -> None:
    assert iso_date(" 2021-07-01 ") == date(2021, 7, 1)
    for bad in ("2021-02-30", "2021/07/01", "", "tomorrow"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a date YYYY-MM-DD"):
            iso_date(bad)


def test_a_bad_date_option_is_a_one_line_usage_error(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).with_name("mianshen"))
    env = {"MIANSHEN_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([exe, "import", str(tmp_path), "--extracted-on", "2021-13-01"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert "not a date YYYY-MM-DD: '2021-13-01'" in done.stderr
    assert "Traceback" not in done.stderr


_FAILING_DEMO = """
import sys
from django.db.utils import OperationalError
import django
django.setup()
from mianshen.core import jobs

def broken(job):
    raise OperationalError("too many SQL variables")

jobs.load_handlers()
jobs._HANDLERS["screening.round"] = broken
from mianshen.cli import main
main(["demo", "--units", "30"])
"""


def test_the_demo_command_says_in_one_line_which_job_failed_and_where_the_log_is(tmp_path: Path) -> None:
    """``mianshen demo`` when a job fails: one line on stderr (what failed, where the log is), exit status 1, no
    traceback on the console; the traceback is in the log."""
    env = {"MIANSHEN_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "mianshen.settings",
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", _FAILING_DEMO], env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 1, done.stderr
    log = tmp_path / "demo" / "demo.log"
    assert done.stderr.strip().splitlines() == [
        "mianshen demo: the demo stopped: round 1 (initial): job 1 (screening.round) failed on attempt 1 of 3 "
        f"(queued again for `mianshen worker`): OperationalError: too many SQL variables (log: {log})"
    ]
    assert "Traceback" not in done.stdout and "round 1 " not in done.stdout
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text and "OperationalError: too many SQL variables" in text
