"""The backup and restore drill (`tools/backup_drill.sh`) on PostgreSQL: a checkpoint and a dump of a database
with settled payments and a queued upload job; restored into a scratch database, the copy verifies, reconciles
to the fen and its worker runs the queued job; after events and a newer checkpoint on the original, the same
dump no longer verifies and the drill names the events the restore lost."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from mianshen.audit.selectors import audit_head
from mianshen.audit.services import audit_checkpoint
from mianshen.core.models import Job, JobStatus
from mianshen.notify.senders import FileSender, InboxSender
from mianshen.notify.services import deliver_due
from mianshen.payments.services.bankfiles import bank_file_upload, bank_files_build
from mianshen.payments.services.ingest import inbound_files_collect
from mianshen.payments.services.instructions import payments_release
from mianshen.payments.services.reconcile import reconcile_run
from tests.payments_db.factories import MON, approved_cases, channel, simulator

from .util import record_many

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump / pg_restore: PostgreSQL only"),
    pytest.mark.usefixtures("transactional_db"),  # the drill reads committed data from another process
]
DRILL = Path(__file__).resolve().parents[2] / "tools" / "backup_drill.sh"
MIANSHEN = Path(sys.executable).with_name("mianshen")
ACTOR = "system:test"


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def _drill(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DRILL), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def _scratch_databases() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [f"{connection.settings_dict['NAME']}_drill_%"],
        )
        return [row[0] for row in cursor.fetchall()]


def _settled_and_queued(bank: Path) -> None:
    """Four payments paid and settled through the simulated bank; two more frozen into a file whose upload job
    is still queued."""
    approved_cases(4, banks=("102",))
    payments_release(actor=ACTOR)
    bank_files_build(actor=ACTOR, today=MON)
    for job in Job.objects.filter(status=JobStatus.QUEUED):  # hand the first file over now
        bank_file_upload(msg_id=job.params["msg_id"], actor=ACTOR, channel=channel(bank), today=MON)
        Job.objects.filter(pk=job.pk).update(status=JobStatus.DONE)
    sim = simulator(bank)
    sim.process_inbox()
    inbound_files_collect(channel=channel(bank), actor=ACTOR)
    sim.advance_to(MON + timedelta(days=1))
    inbound_files_collect(channel=channel(bank), actor=ACTOR)
    approved_cases(2, banks=("102",))
    payments_release(actor=ACTOR)
    bank_files_build(actor=ACTOR, today=MON, later_batch=True)
    report = reconcile_run()
    assert report.ok and report.buckets_fen["settled"] > 0, report
    # notify's delivery jobs (the units told of each step) ran as the worker would: only the upload job waits
    files = FileSender(bank.parent / "outbox")
    deliver_due(senders={"sms": files, "email": files, "inbox": InboxSender()}, limit=1000)
    Job.objects.filter(status=JobStatus.QUEUED, kind="notify.deliver").update(status=JobStatus.DONE)


def test_backup_restore_drill(tmp_path: Path, checkpoint_path: Path) -> None:
    bank = tmp_path / "bank"
    _settled_and_queued(bank)
    queued = list(Job.objects.filter(status=JobStatus.QUEUED).values_list("pk", flat=True))
    assert len(queued) == 1
    env = os.environ | {
        "MIANSHEN_DATABASE_URL": _database_url(),
        "MIANSHEN": str(MIANSHEN),
        "MIANSHEN_BANK_DIR": str(bank),
    }

    exchanged = sorted(bank.rglob("*"))
    drill = _drill("--dir", str(tmp_path / "backups"), "drill", env=env)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    out = drill.stdout
    head = audit_head().seq  # the checkpoint's own event is the last one in the dump
    assert f"drill: audit trail intact: {head} events, head seq {head} " in out, out
    assert "drill: reconciliation holds to the fen" in out
    assert f"drill: worker: job {queued[0]} payments.upload: done" in out
    assert f"drill: worker resumed the queued job(s) {queued[0]}: all done" in out
    assert "drill: passed" in out
    dump = re.search(r"backup written to (\S+)", out)
    assert dump is not None and not _scratch_databases()
    assert Job.objects.get(pk=queued[0]).status == JobStatus.QUEUED  # the original was never touched
    assert sorted(bank.rglob("*")) == exchanged  # the copy's upload went to its own folder, not the bank's

    record_many(3, prefix="after-backup")  # seq head+1 .. head+3, then a checkpoint of head+3
    audit_checkpoint()
    lost = _drill("restore-check", dump.group(1), env=env)
    assert lost.returncode == 1, lost.stdout + lost.stderr
    assert f"truncated after seq {head} - " in lost.stdout
    assert f"3 event(s) missing at the end, seq {head + 1}..{head + 3}" in lost.stdout
    assert "the restored copy does not verify" in lost.stderr and "Traceback" not in lost.stderr
    assert not _scratch_databases()


def test_the_drill_refuses_a_database_that_is_not_postgresql(tmp_path: Path) -> None:
    env = os.environ | {
        "MIANSHEN_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "MIANSHEN": str(MIANSHEN),
    }
    done = _drill("drill", env=env)
    assert done.returncode == 2 and done.stderr.startswith("backup_drill: MIANSHEN_DATABASE_URL must name")
