"""The real `mianshen audit` command line, in a subprocess against the test database: exit 0 and one line
when intact, 1 naming the first bad entry, 2 when the database is not set up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from mianshen.audit.triggers import TABLE, drop_protection

from .util import id_of, record_many, sql

pytestmark = pytest.mark.usefixtures("transactional_db")
MIANSHEN = Path(sys.executable).with_name("mianshen")


def _test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def _mianshen(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"MIANSHEN_DATABASE_URL": url or _test_database_url()}
    return subprocess.run(
        [str(MIANSHEN), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_verify_exit_status_and_lines(checkpoint_path: Path) -> None:
    record_many(12)
    done = _mianshen("audit", "checkpoint")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("checkpoint of seq 12 ") and str(checkpoint_path) in done.stdout

    intact = _mianshen("audit", "verify", "--quiet")
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("audit trail intact: 13 events, head seq 13 ")
    assert len(intact.stdout.splitlines()) == 1 and intact.stderr == ""

    drop_protection(connection)
    sql(f"UPDATE {TABLE} SET object_id = %s WHERE seq = 7", ["C-9999"])
    broken = _mianshen("audit", "verify")
    assert broken.returncode == 1
    assert (
        broken.stdout
        == f"audit trail BROKEN at seq 7 (id {id_of(7)}): changed - its fields no longer give its stored hash\n"
    )
    assert "protection is OFF" in broken.stderr and "verifying audit trail" in broken.stderr  # warning, bar


def test_an_unmigrated_database_is_exit_2(tmp_path: Path) -> None:
    empty = _mianshen("audit", "verify", url=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert empty.returncode == 2
    assert "pending migrations" in empty.stderr and "Traceback" not in empty.stderr
