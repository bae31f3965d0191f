"""Reading the banks' outboxes (issue 9, item 4): only regular files directly inside ``<bank>/outbox`` are read,
opened without following a symbolic link; anything else is skipped, said on stderr and put in the hold queue."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mianshen.payments.models import BankFile, HoldItem, InboundFile
from mianshen.payments.services.channel import FolderChannel, NotRegularFile, open_beneath
from mianshen.payments.services.ingest import inbound_files_collect

from .factories import uploaded
from .messages import all_lines, status_report

ACTOR = "system:test"


def _answer_outside_the_folder(tmp_path: Path, bf: BankFile) -> Path:
    """A genuine answer about our file, lying outside the exchange folder: reading it through a link would
    apply it."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "answer.xml"
    secret.write_bytes(status_report(bf, all_lines(bf, "ACSC")))
    return secret


@pytest.mark.django_db
def test_a_symbolic_link_in_an_outbox_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "bank"
    [bf] = uploaded(2, root=root)
    secret = _answer_outside_the_folder(tmp_path, bf)
    outbox = root / "102" / "outbox"
    outbox.mkdir(parents=True)
    (outbox / "answer.xml").symlink_to(secret)
    (outbox / "passwd.xml").symlink_to("/etc/passwd")
    os.mkfifo(outbox / "pipe.xml")  # would block a reader that opened it blindly
    (outbox / "folder.xml").mkdir()
    collected = inbound_files_collect(channel=FolderChannel(root), actor=ACTOR)
    assert collected.results == [] and not InboundFile.objects.exists()
    assert set(bf.instructions.values_list("status", flat=True)) == {"uploaded"}
    problems = {r.where: r.problem for r in collected.skipped}
    assert problems == {
        "102/outbox/answer.xml": f"is a symbolic link (to {secret})",
        "102/outbox/folder.xml": "is a folder",
        "102/outbox/passwd.xml": "is a symbolic link (to /etc/passwd)",
        "102/outbox/pipe.xml": "is not a regular file (a pipe, socket or device)",
    }
    holds = dict(HoldItem.objects.values_list("key", "kind"))
    assert holds == {f"irregular_file:{where}": "irregular_file" for where in problems}
    inbound_files_collect(channel=FolderChannel(root), actor=ACTOR)  # the next pass: no second alert
    assert HoldItem.objects.count() == 4


@pytest.mark.django_db
def test_a_linked_outbox_or_bank_folder_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "bank"
    [bf] = uploaded(2, root=root, banks=("102",))
    secret = _answer_outside_the_folder(tmp_path, bf)
    (root / "102" / "outbox").symlink_to(secret.parent, target_is_directory=True)
    (root / "105").symlink_to(root / "102", target_is_directory=True)
    collected = inbound_files_collect(channel=FolderChannel(root), actor=ACTOR)
    assert collected.results == [] and not InboundFile.objects.exists()
    assert {r.where for r in collected.skipped} == {"102/outbox", "105"}
    assert HoldItem.objects.filter(kind="irregular_file").count() == 2


@pytest.mark.django_db
def test_regular_files_are_still_read_and_pay_ingest_exits_3_on_a_link(tmp_path: Path) -> None:
    root = tmp_path / "bank"
    [bf] = uploaded(2, root=root)
    outbox = root / "102" / "outbox"
    outbox.mkdir(parents=True)
    (outbox / "receipt.xml").write_bytes(status_report(bf, all_lines(bf, "ACSP")))
    (outbox / "evil.xml").symlink_to("/etc/passwd")
    err = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("pay", "--bank-dir", str(root), "ingest", stdout=io.StringIO(), stderr=err)
    assert info.value.returncode == 3 and "\n" not in str(info.value) and "not read" in str(info.value)
    assert "not read: 102/outbox/evil.xml is a symbolic link (to /etc/passwd)" in err.getvalue()
    assert InboundFile.objects.get().name == "receipt.xml"
    assert set(bf.instructions.values_list("status", flat=True)) == {"accepted"}


def test_opening_beneath_the_folder_follows_no_link(tmp_path: Path) -> None:
    """The check and the read are one: a file replaced by a link after the folder was listed is not read."""
    (tmp_path / "102" / "outbox").mkdir(parents=True)
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.xml").write_bytes(b"<a/>")
    (tmp_path / "102" / "outbox" / "a.xml").write_bytes(b"<b/>")
    with open_beneath(tmp_path, "102", "outbox", "a.xml") as fh:
        assert fh.read() == b"<b/>"
    (tmp_path / "102" / "outbox" / "a.xml").unlink()
    (tmp_path / "102" / "outbox" / "a.xml").symlink_to(tmp_path / "real" / "a.xml")
    with pytest.raises(NotRegularFile):
        open_beneath(tmp_path, "102", "outbox", "a.xml")
    (tmp_path / "103").mkdir()
    (tmp_path / "103" / "outbox").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(NotRegularFile):
        open_beneath(tmp_path, "103", "outbox", "a.xml")


@pytest.mark.django_db
def test_a_hard_link_in_an_outbox_is_not_read(tmp_path: Path) -> None:
    """Red team: a hard link is a regular file, but its content is another file of this machine (a secret, our
    database), which ingest would store as a quarantined answer."""
    root = tmp_path / "bank"
    [bf] = uploaded(2, root=root)
    secret = _answer_outside_the_folder(tmp_path, bf)
    outbox = root / "102" / "outbox"
    outbox.mkdir(parents=True)
    os.link(secret, outbox / "answer.xml")
    collected = inbound_files_collect(channel=FolderChannel(root), actor=ACTOR)
    assert collected.results == [] and not InboundFile.objects.exists()
    assert {r.where: r.problem for r in collected.skipped} == {
        "102/outbox/answer.xml": "is a hard link (the file has 2 names)"
    }
    assert HoldItem.objects.get().key == "irregular_file:102/outbox/answer.xml"
    assert set(bf.instructions.values_list("status", flat=True)) == {"uploaded"}


def test_a_file_hard_linked_after_the_listing_is_not_opened(tmp_path: Path) -> None:
    (tmp_path / "102" / "outbox").mkdir(parents=True)
    answer = tmp_path / "102" / "outbox" / "a.xml"
    answer.write_bytes(b"<b/>")
    os.link(tmp_path / "102" / "outbox" / "a.xml", tmp_path / "elsewhere.xml")
    with pytest.raises(NotRegularFile, match="hard link"):
        open_beneath(tmp_path, "102", "outbox", "a.xml")
