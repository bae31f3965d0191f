"""The command plumbing shared by every `mianshen` command."""

from __future__ import annotations

import argparse
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
