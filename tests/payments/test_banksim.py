"""The bank simulator: deterministic for a seed, rejects, duplicates, returns, silence, crash-safe state."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from mianshen.payments.formats import parse_camt054, parse_pain002, render_pain001
from mianshen.payments.formats.camt054 import Notification
from mianshen.payments.formats.pain002 import StatusReport
from mianshen_banksim import BankProfile, BankSimulator, HashFate, resolve_fate
from mianshen_banksim import simulator as simulator_module

from .builders import bank_file, transfer

MON = date(2026, 11, 30)  # a Monday
PROFILES = {
    "102": BankProfile("102", technical_ack=True, blocked_per_mille=0, return_per_mille=0),
    "313": BankProfile("313", reports_only_rejects=True, blocked_per_mille=0, return_per_mille=0),
}


def bad_account(account_no: str) -> str | None:
    return {"6222102000000000001": "AC01", "6222102000000000002": "AC04", "6222313000000000001": "BE01"}.get(
        account_no
    )


def sim_at(root: Path, seed: int = 7, profiles: dict[str, BankProfile] | None = None) -> BankSimulator:
    return BankSimulator(root, seed=seed, business_date=MON, profiles=profiles or PROFILES, fate=bad_account)


def answers(sim: BankSimulator, bank: str) -> list[StatusReport | Notification]:
    out: list[StatusReport | Notification] = []
    for path in sim.answers(bank):
        out.append(parse_pain002(path) if "pain.002" in path.name else parse_camt054(path))
    return out


def statuses(report: StatusReport) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    return {t.original_end_to_end_id or "": (t.status, t.reason_codes) for _, t in report.transactions()}


def test_full_flow_for_a_reporting_bank(tmp_path: Path) -> None:
    sim = sim_at(tmp_path)
    sim.deliver("102", "f1.xml", render_pain001(bank_file(4, execution_date=MON)))
    [outcome] = sim.process_inbox()
    assert outcome.kind == "accepted" and outcome.file == "f1.xml"
    assert dict(outcome.rejected) == {"E2E-102-0000000001": "AC01", "E2E-102-0000000002": "AC04"}
    assert outcome.booked == ("E2E-102-0000000000", "E2E-102-0000000003")
    ack, receipt, settled, booking = answers(sim, "102")
    assert isinstance(ack, StatusReport) and ack.group_status == "ACTC" and ack.blocks == ()
    assert isinstance(receipt, StatusReport) and receipt.group_status == "PART"
    assert statuses(receipt) == {
        "E2E-102-0000000000": ("ACSP", ()),
        "E2E-102-0000000001": ("RJCT", ("AC01",)),
        "E2E-102-0000000002": ("RJCT", ("AC04",)),
        "E2E-102-0000000003": ("ACSP", ()),
    }
    assert isinstance(settled, StatusReport) and set(statuses(settled).values()) == {("ACSC", ())}
    assert isinstance(booking, Notification)
    entries = [e for n in booking.notifications for e in n.entries]
    assert [(e.credit_debit, e.status, e.booking_date) for e in entries] == [("DBIT", "BOOK", MON)] * 2
    assert [e.transactions[0].end_to_end_id for e in entries] == ["E2E-102-0000000000", "E2E-102-0000000003"]
    assert sum(e.amount_fen for e in entries) == 10_000 + 10_003
    assert receipt.version == "pain.002.001.12" and booking.version == "camt.054.001.08"
    assert next(iter((tmp_path / "102" / "processed").iterdir())).name.endswith("-f1.xml")
    assert not list((tmp_path / "102" / "inbox").iterdir()) and not list(
        (tmp_path / "102" / ".staging").iterdir()
    )


def test_future_execution_date_books_on_that_day(tmp_path: Path) -> None:
    sim = sim_at(tmp_path)
    sim.deliver("102", "f.xml", render_pain001(bank_file(1, execution_date=date(2026, 12, 5))))  # a Saturday
    sim.process_inbox()
    _ack, receipt = answers(sim, "102")
    assert isinstance(receipt, StatusReport) and receipt.group_status == "ACCP"
    assert sim.advance_to(date(2026, 12, 6)) == []  # weekend: nothing booked
    [booked] = sim.advance_to(date(2026, 12, 7))  # the next business day
    assert booked.kind == "booked" and booked.booked == ("E2E-102-0000000000",)
    notification = answers(sim, "102")[-1]
    assert isinstance(notification, Notification)
    assert notification.notifications[0].entries[0].booking_date == date(2026, 12, 7)
    with pytest.raises(ValueError, match="only moves forward"):
        sim.advance_to(date(2026, 12, 1))


def test_reject_only_bank_lists_only_rejects(tmp_path: Path) -> None:
    sim = sim_at(tmp_path)
    sim.deliver("313", "a.xml", render_pain001(bank_file(3, bank="313", execution_date=MON)))
    sim.deliver("313", "b.xml", render_pain001(bank_file(2, bank="313", start=10, execution_date=MON)))
    sim.process_inbox()
    part, booking_a, accp, booking_b = answers(sim, "313")
    assert isinstance(part, StatusReport) and part.group_status == "PART"
    assert statuses(part) == {"E2E-313-0000000001": ("RJCT", ("BE01",))}
    assert isinstance(accp, StatusReport) and accp.group_status == "ACCP" and accp.blocks == ()
    assert isinstance(booking_a, Notification) and isinstance(booking_b, Notification)


def test_all_rejected_file_is_group_rjct(tmp_path: Path) -> None:
    sim = sim_at(tmp_path)
    f = bank_file(2, start=1)  # accounts ...001 (AC01) and ...002 (AC04)
    sim.deliver("102", "f.xml", render_pain001(f))
    sim.process_inbox()
    receipt = answers(sim, "102")[1]
    assert isinstance(receipt, StatusReport) and receipt.group_status == "RJCT"
    assert receipt.blocks[0].status == "RJCT"


def test_repeated_msg_id_is_du01_and_changes_nothing(tmp_path: Path) -> None:
    sim = sim_at(tmp_path)
    data = render_pain001(bank_file(3, execution_date=date(2026, 12, 2)))
    sim.deliver("102", "f.xml", data)
    sim.process_inbox()
    before = (
        sim.state.bank("102").msg_ids.copy(),
        set(sim.state.bank("102").end_to_end_ids),
        list(sim.state.scheduled),
    )
    sim.deliver("102", "f-retry.xml", data)  # a retried upload: the very same bytes
    [retry] = sim.process_inbox()
    assert (retry.kind, retry.reason_code, retry.same_bytes) == ("duplicate", "DU01", True)
    changed = render_pain001(
        replace(bank_file(3, execution_date=date(2026, 12, 2)), initiating_party="别的机构")
    )
    sim.deliver("102", "f-other.xml", changed)  # same MsgId, different bytes: the alert case on our side
    [other] = sim.process_inbox()
    assert (other.kind, other.reason_code, other.same_bytes) == ("duplicate", "DU01", False)
    after = (sim.state.bank("102").msg_ids, sim.state.bank("102").end_to_end_ids, sim.state.scheduled)
    assert after == before
    du01 = answers(sim, "102")[-1]
    assert isinstance(du01, StatusReport)
    assert (du01.group_status, du01.group_reason_codes, du01.blocks) == ("RJCT", ("DU01",), ())
    assert du01.original_msg_id == "MS-20261130-102-000000"


def test_repeated_end_to_end_id_in_a_new_file_is_am05(tmp_path: Path) -> None:
    sim = sim_at(tmp_path)
    sim.deliver("102", "1.xml", render_pain001(bank_file(1, execution_date=MON)))
    sim.process_inbox()
    second = replace(
        bank_file(1, start=3, msg_id="MS-SECOND"),
        blocks=(replace(bank_file(1).blocks[0], transfers=(transfer(0), transfer(3))),),
    )
    sim.deliver("102", "2.xml", render_pain001(second))
    [outcome] = sim.process_inbox()
    assert dict(outcome.rejected) == {"E2E-102-0000000000": "AM05"}
    assert outcome.accepted == ("E2E-102-0000000003",)


def test_schema_invalid_and_garbage_files_are_ff01(tmp_path: Path) -> None:
    sim = sim_at(tmp_path)
    invalid = render_pain001(bank_file(1)).replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>CHK-X</PmtMtd>")
    sim.deliver("102", "a.xml", invalid)
    sim.deliver("102", "b.xml", b"\x00\x01 not xml at all")
    sim.deliver(
        "102",
        "c.xml",
        render_pain001(bank_file(2, msg_id="MS-C")).replace(
            b"<NbOfTxs>2</NbOfTxs>", b"<NbOfTxs>3</NbOfTxs>", 1
        ),
    )
    a, b, c = sim.process_inbox()
    assert (a.kind, a.reason_code, a.msg_id) == ("rejected", "FF01", "MS-20261130-102-000000")
    assert (b.kind, b.reason_code, b.msg_id) == ("rejected", "FF01", None)
    assert (c.kind, c.reason_code) == ("rejected", "AM18")
    ra, rb, rc = answers(sim, "102")
    assert isinstance(ra, StatusReport) and ra.group_status == "RJCT" and ra.group_reason_codes == ("FF01",)
    assert isinstance(rb, StatusReport) and rb.original_msg_id == "NOTPROVIDED"
    assert isinstance(rc, StatusReport) and rc.group_reason_codes == ("AM18",)


def test_returns_come_after_advance_to(tmp_path: Path) -> None:
    profiles = {
        "105": BankProfile("105", blocked_per_mille=0, return_per_mille=1000, return_after_days=(2, 2))
    }
    sim = sim_at(tmp_path, profiles=profiles)
    sim.deliver("105", "f.xml", render_pain001(bank_file(3, bank="105", execution_date=MON)))
    [accepted] = sim.process_inbox()
    assert len(accepted.booked) == 3
    assert sim.advance_to(date(2026, 12, 1)) == []
    [returned] = sim.advance_to(date(2026, 12, 2))
    assert returned.kind == "returned" and {e for e, _ in returned.returned} == set(accepted.booked)
    notification = answers(sim, "105")[-1]
    assert isinstance(notification, Notification)
    entries = notification.notifications[0].entries
    assert all(
        e.credit_debit == "CRDT" and e.is_return and e.booking_date == date(2026, 12, 2) for e in entries
    )
    reasons = {e.transactions[0].end_to_end_id: e.transactions[0].return_reason for e in entries}
    assert reasons == dict(returned.returned)
    assert all(r in ("AC04", "AC06", "MS03") for r in reasons.values())
    assert sum(e.amount_fen for e in entries) == 10_000 + 10_001 + 10_002
    assert sim.advance_to(date(2026, 12, 31)) == []  # returned once only


def test_silence_loses_the_file_and_a_retry_may_get_through(tmp_path: Path) -> None:
    profiles = {"402": BankProfile("402", silence_per_mille=500, blocked_per_mille=0, return_per_mille=0)}
    sim = sim_at(tmp_path, profiles=profiles)
    data = render_pain001(bank_file(2, bank="402", execution_date=MON))
    kinds = []
    for attempt in range(30):
        sim.deliver("402", f"try-{attempt:02d}.xml", data)
        [outcome] = sim.process_inbox()
        kinds.append(outcome.kind)
        if outcome.kind != "silence":
            break
    assert kinds[-1] == "accepted"  # once through, the bank knows the MsgId ...
    assert all(k == "silence" for k in kinds[:-1])
    silent_answers = len(sim.answers("402"))
    sim.deliver("402", "again.xml", data)
    [again] = sim.process_inbox()  # ... and a later retry is a DU01 with the same bytes
    assert (again.kind, again.same_bytes) == ("duplicate", True)
    assert len(sim.answers("402")) == silent_answers + 1


def test_always_silent_bank_never_answers(tmp_path: Path) -> None:
    sim = sim_at(tmp_path, profiles={"402": BankProfile("402", silence_per_mille=1000)})
    sim.deliver("402", "f.xml", render_pain001(bank_file(2, bank="402")))
    [outcome] = sim.process_inbox()
    assert outcome.kind == "silence" and outcome.answers == ()
    assert sim.answers("402") == [] and sim.state.scheduled == []
    assert sim.state.bank("402").lost == {"MS-20261130-402-000000": 1}


def _scenario(root: Path, seed: int) -> dict[str, bytes]:
    sim = BankSimulator(root, seed=seed, business_date=MON)  # default profiles and fate
    for k, bank in enumerate(["102", "305", "313", "402"]):
        sim.deliver(
            bank, "f.xml", render_pain001(bank_file(300, bank=bank, start=k * 1000, execution_date=MON))
        )
    sim.process_inbox()
    sim.advance_to(date(2026, 12, 31))
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("outbox/*"))}


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    one, two = _scenario(tmp_path / "a", 11), _scenario(tmp_path / "b", 11)
    assert one == two and len(one) > 8
    assert _scenario(tmp_path / "c", 12) != one


def test_default_fate_follows_the_data_generator() -> None:
    fate = resolve_fate(1)
    try:
        from mianshen.datadrop.generate import account_fate
    except ImportError:
        assert isinstance(fate, HashFate)
    else:
        assert fate is account_fate
    assert resolve_fate(1, bad_account) is bad_account
    hashed = HashFate(5)
    codes = [hashed(str(10**15 + i)) for i in range(20_000)]
    assert 0.01 < sum(c is not None for c in codes) / len(codes) < 0.03
    assert codes == [HashFate(5)(str(10**15 + i)) for i in range(20_000)]


def test_seed_and_date_guard(tmp_path: Path) -> None:
    sim_at(tmp_path, seed=1)
    with pytest.raises(ValueError, match="seed 1"):
        sim_at(tmp_path, seed=2)
    with pytest.raises(ValueError, match="first business_date"):
        BankSimulator(tmp_path / "new", seed=1)


def test_crash_before_commit_recomputes_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = render_pain001(bank_file(5, execution_date=MON))
    reference = sim_at(tmp_path / "ref")
    reference.deliver("102", "f.xml", data)
    reference.process_inbox()
    expected = {p.name: p.read_bytes() for p in reference.answers("102")}

    sim = sim_at(tmp_path / "crash")
    sim.deliver("102", "f.xml", data)

    def boom(root: Path, state: object) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(simulator_module, "save_state", boom)
    with pytest.raises(KeyboardInterrupt):
        sim.process_inbox()
    monkeypatch.undo()
    assert sim.answers("102") == [] and list((tmp_path / "crash" / "102" / "work").iterdir())
    restarted = sim_at(tmp_path / "crash")
    [outcome] = restarted.process_inbox()
    assert outcome.kind == "accepted"
    assert {p.name: p.read_bytes() for p in restarted.answers("102")} == expected


def test_crash_after_commit_publishes_without_reprocessing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = render_pain001(bank_file(5, execution_date=MON))
    reference = sim_at(tmp_path / "ref")
    reference.deliver("102", "f.xml", data)
    reference.process_inbox()
    expected = {p.name: p.read_bytes() for p in reference.answers("102")}

    sim = sim_at(tmp_path / "crash")
    sim.deliver("102", "f.xml", data)

    def killed(self: BankSimulator) -> None:
        raise KeyboardInterrupt("killed between commit and publish")

    monkeypatch.setattr(BankSimulator, "_publish", killed)
    with pytest.raises(KeyboardInterrupt):
        sim.process_inbox()
    monkeypatch.undo()
    restarted = sim_at(tmp_path / "crash")  # recovery publishes the committed answers
    assert {p.name: p.read_bytes() for p in restarted.answers("102")} == expected
    assert restarted.process_inbox() == []  # the work file was already committed: not a duplicate
    assert {p.name: p.read_bytes() for p in restarted.answers("102")} == expected
    state = json.loads((tmp_path / "crash" / "banksim-state.json").read_text(encoding="utf-8"))
    assert state["banks"]["102"]["msg_ids"] == reference.state.to_json()["banks"]["102"]["msg_ids"]


def test_command_line_once(tmp_path: Path) -> None:
    inbox = tmp_path / "102" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "f.xml").write_bytes(render_pain001(bank_file(3, execution_date=MON)))
    cmd = [sys.executable, "-m", "mianshen_banksim", "--root", str(tmp_path), "--seed", "3"]
    missing = subprocess.run([*cmd, "--once"], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "first business_date" in missing.stderr
    run = subprocess.run(
        [*cmd, "--date", "2026-11-30", "--once", "--advance-to", "2026-12-31"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert lines[0]["kind"] == "accepted" and lines[0]["bank"] == "102"
    assert sorted((tmp_path / "102" / "outbox").iterdir())


def test_command_line_loop_follows_the_clock_file(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mianshen_banksim", "--root", str(tmp_path), "--seed", "3"]
    proc = subprocess.Popen(
        [*cmd, "--date", "2026-11-30", "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        inbox = tmp_path / "102" / "inbox"
        deadline = time.monotonic() + 60
        while not inbox.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        tmp = inbox / ".f.xml.tmp"
        tmp.write_bytes(render_pain001(bank_file(3, execution_date=date(2026, 12, 2))))
        tmp.rename(inbox / "f.xml")
        clock = tmp_path / ".CLOCK.tmp"
        clock.write_text("2026-12-02", encoding="utf-8")
        clock.rename(tmp_path / "CLOCK")
        booked = None
        while booked is None and time.monotonic() < deadline:
            booked = next((p for p in (tmp_path / "102" / "outbox").glob("*camt.054*")), None)
            time.sleep(0.05)
        assert booked is not None
        assert parse_camt054(booked).notifications[0].entries[0].booking_date == date(2026, 12, 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert kinds[0] == "accepted" and "booked" in kinds
