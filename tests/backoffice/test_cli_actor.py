"""`--actor` on the command line (issue 9, item 11): the name is normalised as Django normalises user names
(NFKC, blanks around it removed) and must be an active staff member whose role may do the decision; so
``' city'`` is city, and four eyes compare people, not spellings. A decision needs an --actor; a machine step
without one acts as ``cli:<OS user>``. Every refusal is one line, exit 2, and writes nothing."""

from __future__ import annotations

import getpass
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from mianshen.audit.models import AuditEvent
from mianshen.payments.models import Approval, ReconcileRun
from mianshen.screening.models import ScreeningRound

from .payworld import PayWorld
from .world import AS_OF, POLICY

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def refused(*args: str) -> str:
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError) as info:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.returncode == 2 and "\n" not in str(info.value)
    assert AuditEvent.objects.count() == events, "a refused command wrote an audit event"
    return str(info.value)


def test_four_eyes_compare_people_not_spellings(pay: PayWorld) -> None:
    run("pay", "--actor", "city", "cancel", str(pay.failed.pk), "--reason", "单位已注销")
    asked = str(Approval.objects.get(case_id=pay.failed.pk, decided_by="").pk)
    for spelling in (
        " city",
        "city ",
        "ｃｉｔｙ",
        "city\t",
    ):  # the ' alice' approved alice's own request
        assert "four eyes" in refused("pay", "--actor", spelling, "approve", asked), spelling
    assert "approved" in run("pay", "--actor", "rev", "approve", asked)
    assert Approval.objects.get(pk=asked).decided_by == "rev"


def test_an_actor_must_be_active_staff_whose_role_may_decide(pay: PayWorld) -> None:
    asked = str(pay.approval.pk)  # a cancellation asked by the officer "maker"
    assert "no active staff user" in refused("pay", "--actor", "ghost", "approve", asked)
    assert "no active staff user" in refused("pay", "--actor", "nobody", "approve", asked)  # not staff
    assert "may not decide_approval" in refused("pay", "--actor", "aud", "approve", asked)
    assert "may not decide_approval" in refused("pay", "--actor", "own", "approve", asked)
    assert "--actor is required" in refused("pay", "approve", asked)
    get_user_model().objects.filter(username="rev").update(is_active=False)
    assert "no active staff user" in refused("pay", "--actor", "rev", "approve", asked)
    assert not Approval.objects.get(pk=asked).decided_by


def test_machine_steps_act_as_the_os_user_or_a_named_staff_member(pay: PayWorld) -> None:
    run("reconcile")
    assert ReconcileRun.objects.order_by("-pk").first().by == f"cli:{getpass.getuser()}"  # type: ignore[union-attr]
    run("reconcile", "--actor", " aud")
    assert ReconcileRun.objects.order_by("-pk").first().by == "aud"  # type: ignore[union-attr]
    assert "no active staff user" in refused("reconcile", "--actor", "someone")


def test_round_start_names_a_staff_member_who_may_start_rounds(pay: PayWorld) -> None:
    snapshot = str(pay.snapshot.pk)
    base = ("round", "start", "--policy", POLICY, "--snapshot", snapshot, "--as-of", AS_OF.isoformat())
    assert "may not start_round" in refused(*base, "--actor", "own")
    assert "no active staff user" in refused(*base, "--actor", "cli")
    run(*base, "--actor", " city ")
    assert ScreeningRound.objects.order_by("-pk").first().started_by == "city"  # type: ignore[union-attr]
