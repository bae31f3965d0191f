"""`mianshen pay …` and `mianshen reconcile` in process (exit statuses and lines), and one real kill of the worker
process at a crash point (`MIANSHEN_CRASH_MODE=exit`), restarted until every case is paid."""

from __future__ import annotations

import io
import subprocess
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mianshen.payments.crashpoints import EXIT_STATUS
from mianshen.payments.models import Approval, Correction, InboundFile, Instruction, ReconcileRun

from .factories import MIANSHEN, approved_cases, command_env, later_drop, simulator


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def staff(**roles: str) -> None:
    """The --actor names of a test, as active staff members with these roles (any other name is refused)."""
    from django.contrib.auth import get_user_model

    from mianshen.staff.roles import Staff

    for name, role in roles.items():
        Staff.objects.create(user=get_user_model().objects.create_user(name), role=role)


def refused(*args: str) -> str:
    """The one-line error of a refused command (exit status 2 when run as ``mianshen``)."""
    with pytest.raises(CommandError) as info:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.returncode == 2 and "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.django_db
def test_pay_commands_and_reconcile(tmp_path: Path) -> None:
    sim = simulator(tmp_path)
    staff(**{"ops-li": "city_admin", "ops-wang": "reviewer"})
    approved_cases(4, banks=("102", "313"), fates={1: "AC01"})
    bank_dir = ["--bank-dir", str(tmp_path), "--date", "2026-11-30", "--actor", "ops-li"]
    assert run("pay", *bank_dir, "instruct")[1].startswith("released 4 cases (¥")
    code, out, _ = run("pay", *bank_dir, "build")
    assert code == 0 and out.rstrip().endswith("2 file(s) frozen")
    assert "hand-over 1" in run("pay", *bank_dir, "upload")[1]
    sim.process_inbox()
    sim.advance_to(date(2026, 12, 1))
    code, out, _ = run("pay", *bank_dir, "ingest")
    assert code == 0 and out.count(": applied") >= 3
    assert run("reconcile")[0] == 0
    code, out, _ = run("pay", *bank_dir, "recover")
    failed = Instruction.objects.get(status="rejected")
    assert f"case {failed.case_id} " in out and "needs_correction" in out
    args = ("correct", str(failed.case_id), "--bank", "105", "--branch", "105100000001", "--account",
            "6210500000001234", "--name", failed.creditor_name)  # fmt: skip
    assert "no data drop imported since the payment failed" in refused("pay", *bank_dir, *args)
    from mianshen.payments.services.recovery import AccountInput

    later_drop({failed.case.unit_id: AccountInput(*args[3:10:2])})  # the unit's account, in the next drop
    assert "another officer must decide" in run("pay", *bank_dir, *args)[1]
    correction = str(Correction.objects.get(payment__case_id=failed.case_id).pk)  # ids: sequences, not 1
    with pytest.raises(Exception, match="four eyes"):
        call_command("pay", *bank_dir, "decide", correction, stdout=io.StringIO())
    decided = run("pay", "--actor", "ops-wang", "decide", correction)[1]
    assert "approved: re-issued as" in decided
    code, out, _ = run("reconcile")
    assert code == 0 and "reconciliation holds to the fen" in out and "difference ¥0.00" in out
    status = run("pay", "status")[1]
    assert "instructions:" in status and "created=1" in status


@pytest.mark.django_db
def test_reconcile_exits_1_with_the_difference(tmp_path: Path) -> None:
    approved_cases(2)
    staff(ops="city_admin", **{"auditor-zhou": "auditor"})
    run("pay", "--actor", "ops", "instruct")
    inst = Instruction.objects.order_by("pk").first()
    assert inst is not None
    Instruction.objects.filter(pk=inst.pk).update(amount_fen=inst.amount_fen - 1)  # one fen lost
    code, out, _ = run("reconcile", "--actor", "auditor-zhou")
    assert code == 1 and "difference ¥0.01" in out and "reconciliation FAILED" in out
    kept = (
        ReconcileRun.objects.first()
    )  # the check is recorded, failed or not (the overview shows the latest)
    assert kept is not None and (kept.ok, kept.difference_fen, kept.by, kept.cases) == (
        False,
        1,
        "auditor-zhou",
        2,
    )


@pytest.mark.usefixtures("transactional_db")
@pytest.mark.parametrize("point", ["after_freeze", "after_upload", "during_ingest"])
def test_a_real_kill_and_restart(tmp_path: Path, point: str) -> None:
    sim = simulator(tmp_path)
    approved_cases(3, banks=("102",))
    env = command_env(tmp_path)
    cycle = [str(MIANSHEN), "pay", "--date", "2026-11-30", "cycle"]
    killed = subprocess.run(cycle, env=env | {"MIANSHEN_CRASH_AT": f"{point}:1", "MIANSHEN_CRASH_MODE": "exit"},
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    if (
        point == "during_ingest"
    ):  # nothing to ingest yet on the first pass: it only crashes once answers exist
        assert killed.returncode == 0, killed.stderr
        sim.process_inbox()
        killed = subprocess.run(cycle, env=env | {"MIANSHEN_CRASH_AT": f"{point}:1", "MIANSHEN_CRASH_MODE": "exit"},
                                capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert killed.returncode == EXIT_STATUS, killed.stderr
    for day in ("2026-11-30", "2026-12-01"):
        sim.process_inbox()
        sim.advance_to(date.fromisoformat(day))
        again = subprocess.run([*cycle[:3], day, "cycle"], env=env, capture_output=True, text=True, timeout=120,
                               check=False)  # fmt: skip
        assert again.returncode == 0, again.stderr
    assert set(Instruction.objects.values_list("status", flat=True)) == {"settled"}
    done = subprocess.run([str(MIANSHEN), "reconcile"], env=env, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.usefixtures("transactional_db")
def test_a_correction_not_on_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from .factories import ingest, uploaded
    from .messages import status_report

    [bf] = uploaded(1, root=tmp_path)
    failed = bf.instructions.get()
    ingest(status_report(bf, {failed.end_to_end_id: ("RJCT", ("AC01",))}))
    staff(li="city_admin")
    env = command_env(tmp_path)
    correct = [str(MIANSHEN), "pay", "--actor", "li", "correct", str(failed.case_id), "--bank", "105", "--branch",
               "105100000001", "--account", "6210500000001234", "--name", failed.creditor_name]  # fmt: skip
    done = subprocess.run(correct, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.startswith(f"mianshen pay: case {failed.case_id}: no data drop imported since")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not Correction.objects.exists()


@pytest.mark.django_db
def test_cancel_and_reissue_requests_and_reprocess_on_the_command_line(tmp_path: Path) -> None:
    from .factories import ingest, uploaded
    from .messages import bookings, status_report

    [bf] = uploaded(2, root=tmp_path)
    one, two = bf.instructions.order_by("pk")
    staff(li="city_admin", wang="reviewer", ops="city_admin")
    assert "not cancellable" in refused(
        "pay", "--actor", "li", "cancel", str(one.case_id), "--reason", "注销"
    )
    ingest(status_report(bf, group="RJCT", group_codes=("AM10",), echo=False))
    code, out, _ = run("pay", "--actor", "li", "cancel", str(one.case_id), "--reason", "单位已注销")
    cancel = str(Approval.objects.get(kind="cancel_payment").pk)  # ids come from sequences: not always 1
    assert code == 0 and f"another officer approves it with `mianshen pay approve {cancel}`" in out
    code, out, _ = run("pay", "--actor", "li", "reissue-file", bf.msg_id, "--reason", "控制和已修正")
    reissue = str(Approval.objects.get(kind="reissue_file").pk)
    assert code == 0 and f"mianshen pay approve {reissue}" in out
    assert out.count("\n") == 1 and "asked by li" in run("pay", "approvals")[1]
    assert "four eyes" in refused("pay", "--actor", "li", "approve", cancel)
    code, out, _ = run("pay", "--actor", "wang", "approve", cancel)
    assert code == 0 and f"request {cancel} (cancel_payment) approved" in out
    code, out, _ = run("pay", "--actor", "wang", "approve", reissue, "--refuse", "--note", "先核实")
    assert code == 0 and "refused" in out
    assert run("pay", "approvals")[1] == "" and "[refused by wang]" in run("pay", "approvals", "--all")[1]
    missing = str(int(reissue) + 1000)
    assert refused("pay", "--actor", "wang", "approve", missing) == f"no approval request {missing}"
    # a booking answer for the fund's other account: quarantined, then processed once configured
    quarantined = ingest(bookings([two], account="110060000000000999"))
    assert quarantined.quarantined
    assert f"{quarantined.inbound.pk} answer.xml" in run("pay", "quarantine")[1]
    assert "still refused" in refused("pay", "--actor", "ops", "reprocess", str(quarantined.inbound.pk))
    gone = str(quarantined.inbound.pk + 1000)
    assert refused("pay", "--actor", "ops", "reprocess", gone) == f"no inbound file {gone}"


@pytest.mark.django_db
def test_ingest_of_a_quarantined_answer_exits_3_with_one_line_and_a_hold(tmp_path: Path) -> None:
    from .factories import uploaded
    from .messages import all_lines, bookings, status_report

    [bf] = uploaded(2, root=tmp_path)
    staff(ops="city_admin")
    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    good.write_bytes(status_report(bf, all_lines(bf, "ACSP")))
    one = bf.instructions.order_by("pk").first()
    assert one is not None
    bad.write_bytes(bookings([one], amount=one.amount_fen + 1))
    with pytest.raises(CommandError) as info:
        call_command(
            "pay", "--actor", "ops", "ingest", str(good), str(bad), stdout=io.StringIO(), stderr=io.StringIO()
        )
    message = str(info.value)
    inbound = InboundFile.objects.get(name="bad.xml")
    assert info.value.returncode == 3 and "\n" not in message
    assert (
        f"quarantined, nothing of them applied (inbound {inbound.pk})" in message
        and "pay reprocess" in message
    )
    assert InboundFile.objects.get(name="good.xml").status == "applied"  # the other file was applied whole
    holds = run("pay", "holds")[1]
    assert f"quarantined quarantined:{inbound.sha256}" in holds and "amount mismatch" in holds
