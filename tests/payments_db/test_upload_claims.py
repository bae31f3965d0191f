"""Two uploads at once never hand the same file to the bank twice (issue 9, item 2).

The first `mianshen pay upload` is a real process stopped half-way through writing the file to the bank
(``MIANSHEN_CRASH_MODE=pause:…`` at ``during_upload``, its claim committed); a second real process runs
meanwhile and must skip the file. On PostgreSQL, a run that finds the row locked by a claim in progress skips it
at once (``SKIP LOCKED``) instead of waiting. A lease whose owner is gone, or that expired, is taken over.
"""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.payments.models import BankFile, HoldItem
from mianshen.payments.services.bankfiles import bank_files_build, bank_files_upload_pending
from mianshen.payments.services.channel import FolderChannel
from mianshen.payments.services.instructions import payments_release

from ..blocking import pause_here, race
from .factories import MIANSHEN, MON, approved_cases, command_env
from .factories import ingest as feed
from .messages import status_report

ACTOR = "system:test"
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def _frozen_file(n: int = 2) -> BankFile:
    approved_cases(n, banks=("102",))
    payments_release(actor=ACTOR)
    [bf] = bank_files_build(actor=ACTOR, today=MON)
    return bf


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the first upload ended early: {process.communicate()}")
        assert time.monotonic() < deadline, "the first upload never reached its hand-over"
        time.sleep(0.05)


def _upload_events(bf: BankFile, action: Action) -> list[dict[str, object]]:
    return [
        e.after
        for e in AuditEvent.objects.filter(
            object_type="bank_file", object_id=bf.msg_id, action=action
        ).order_by("pk")
    ]


@pytest.mark.usefixtures("transactional_db")
def test_a_second_upload_skips_the_file_another_process_is_handing_over(tmp_path: Path) -> None:
    bf = _frozen_file()
    release = tmp_path / "release"
    upload = [str(MIANSHEN), "pay", "--date", "2026-11-30", "upload"]
    first = subprocess.Popen(
        upload,
        env=command_env(
            tmp_path, MIANSHEN_CRASH_AT="during_upload:1", MIANSHEN_CRASH_MODE=f"pause:{release}"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(Path(f"{release}.paused"), first)  # claim committed, half the bytes written
        second = subprocess.run(
            upload, env=command_env(tmp_path), capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 0, second.stderr
        assert (
            f"{bf.msg_id} -> bank 102: skipped: being handed over by {socket.gethostname()}:" in second.stdout
        )
        bf.refresh_from_db()
        assert (bf.status, bf.upload_attempts) == ("uploading", 1)
    finally:
        release.touch()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert f"{bf.msg_id} -> bank 102: uploaded (hand-over 1)" in out
    bf.refresh_from_db()
    assert (bf.status, bf.upload_attempts, bf.upload_owner, bf.upload_lease_until) == (
        "uploaded",
        1,
        None,
        None,
    )
    assert [e["attempt"] for e in _upload_events(bf, Action.BANK_FILE_UPLOAD_STARTED)] == [1]
    assert (tmp_path / "102" / "inbox" / bf.file_name).read_bytes() == bytes(bf.content)
    # handed over once: a DU01 for it is not the echo of a retry, it is an alert
    feed(status_report(bf, group="RJCT", group_codes=("DU01",), echo=False))
    assert HoldItem.objects.filter(kind="du01", bank_file=bf).count() == 1


@postgres_only
@pytest.mark.usefixtures("transactional_db")
def test_a_file_being_claimed_is_skipped_without_waiting_on_postgresql(tmp_path: Path) -> None:
    """The opposite of a blocking proof (``tests/blocking.py``): another session holds the file's row lock, and
    the upload does not wait for it (a wait would hit the lock timeout and fail the test, not hang it)."""
    bf = _frozen_file()

    def claim_in_progress() -> None:
        with transaction.atomic():
            BankFile.objects.select_for_update().get(pk=bf.pk)
            pause_here()

    with race() as r:
        r.hold("claim", claim_in_progress)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        try:
            [handover] = bank_files_upload_pending(actor=ACTOR, channel=FolderChannel(tmp_path), today=MON)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    assert not handover.sent and handover.skipped == "another process is claiming it right now"
    bf.refresh_from_db()
    assert (bf.status, bf.upload_attempts) == ("frozen", 0)
    assert not (tmp_path / "102" / "inbox" / bf.file_name).exists()


def _claimed_by(bf: BankFile, owner: str, *, until: timedelta) -> None:
    BankFile.objects.filter(pk=bf.pk).update(
        status="uploading", upload_attempts=1, upload_owner=owner, upload_lease_until=timezone.now() + until
    )


@pytest.mark.django_db
def test_a_lease_of_another_host_holds_until_it_expires(tmp_path: Path) -> None:
    bf = _frozen_file()
    channel = FolderChannel(tmp_path)
    _claimed_by(bf, "uploader-2:4242:1", until=timedelta(minutes=10))
    [skipped] = bank_files_upload_pending(actor=ACTOR, channel=channel, today=MON)
    assert not skipped.sent and skipped.skipped.startswith("being handed over by uploader-2:4242:1 until ")
    _claimed_by(bf, "uploader-2:4242:1", until=timedelta(seconds=-1))  # it expired: the uploader is gone
    [taken] = bank_files_upload_pending(actor=ACTOR, channel=channel, today=MON)
    assert taken.sent and (taken.bank_file.upload_attempts, taken.bank_file.status) == (2, "uploaded")
    [started] = _upload_events(bf, Action.BANK_FILE_UPLOAD_STARTED)
    assert started["attempt"] == 2 and started["taken_over_from"] == "uploader-2:4242:1"


@pytest.mark.django_db
def test_a_lease_of_a_process_that_is_gone_is_taken_over_at_once(tmp_path: Path) -> None:
    bf = _frozen_file()
    ended = subprocess.Popen(["true"])  # a process of this host that has ended (and was reaped)
    ended.wait()
    _claimed_by(bf, f"{socket.gethostname()}:{ended.pid}:1", until=timedelta(minutes=10))
    [taken] = bank_files_upload_pending(actor=ACTOR, channel=FolderChannel(tmp_path), today=MON)
    assert taken.sent and taken.bank_file.upload_attempts == 2


@pytest.mark.django_db
def test_retrying_a_file_we_do_not_have_is_one_line() -> None:
    from .test_commands import refused

    assert (
        refused("pay", "upload", "--retry", "MS-M20991231-102-0001") == "no bank file MS-M20991231-102-0001"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("pid", ["99999999999999999999", "²"])
def test_a_forged_owner_of_this_host_is_no_traceback(tmp_path: Path, pid: str) -> None:
    """Red team: an owner whose process number cannot exist ("99999999999999999999", or a digit that is not a
    decimal) is judged like any other: gone, or not ours to judge (the lease runs out); never a traceback."""
    bf = _frozen_file()
    _claimed_by(bf, f"{socket.gethostname()}:{pid}:1", until=timedelta(minutes=10))
    [result] = bank_files_upload_pending(actor=ACTOR, channel=FolderChannel(tmp_path), today=MON)
    assert result.sent or result.skipped.startswith(f"being handed over by {socket.gethostname()}:{pid}:1")
