"""The small generated city of the back-office tests (built by ``conftest.world`` once per module).

The world is built through the real path (generate → validate → import → round_start → worker → cases) inside
one transaction that the module's tests nest in (each test is a savepoint, rolled back); at the end of the
module everything is rolled back, so nothing leaks into other test modules.

In the world, every case that matters for authorisation lies in one district ``D``:
``publicised`` (on an open notice), ``objected`` (with an open objection), ``to_prepare`` (under review, no
review yet) and ``to_decide`` (under review, a review prepared by ``maker``, a district officer of D).
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils import timezone

from mianshen.cases.models import Case, Objection, Review
from mianshen.cases.services import notice_open, objection_record, review_prepare
from mianshen.cases.states import State
from mianshen.cases.transitions import case_transition
from mianshen.core.jobs import job_drain
from mianshen.datadrop.generate import generate
from mianshen.datadrop.validate import validate_drop
from mianshen.registry.models import Snapshot
from mianshen.registry.services import snapshot_import
from mianshen.screening.models import Checkpoint, RoundDecision, RoundStatus, ScreeningRound
from mianshen.screening.services import round_start
from mianshen.staff.services import staff_add

POLICY = "beijing-2021"
AS_OF = date(2021, 7, 1)
# users: name → (role, district); "D" stands for the world's district, "X" for another one
USERS = {
    "city": ("city_admin", None),
    "own": ("district_officer", "D"),
    "other": ("district_officer", "X"),
    "rev": ("reviewer", None),
    "aud": ("auditor", None),
    "maker": ("district_officer", "D"),
}


@dataclass(frozen=True)
class World:
    district: str
    other_district: str
    snapshot: Snapshot
    round1: ScreeningRound
    round2: ScreeningRound
    changed_units: tuple[str, ...]
    publicised: Case
    objected: Case
    objection: Objection
    to_prepare: Case
    to_decide: Case
    review: Review
    notice_id: int


def drain_jobs() -> int:
    return job_drain()


def _run_round(snapshot: Snapshot, checkpoint: str) -> ScreeningRound:
    rnd = round_start(policy_id=POLICY, snapshot=snapshot, actor="city", as_of=AS_OF, checkpoint=checkpoint)
    drain_jobs()
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.COMPLETED, rnd.error
    return rnd


def build(root: Path) -> World:
    drop_a = root / "a"
    generate(units=60, seed=23, out=drop_a, fmt="csv")
    snap_a = snapshot_import(drop=validate_drop(drop_a), extracted_on=AS_OF).snapshot
    round1 = _run_round(snap_a, Checkpoint.INITIAL)

    # drop B: three eligible units newly on the serious-dishonesty list (so round 2 differs from round 1)
    eligible = list(
        RoundDecision.objects.filter(round=round1, decision="eligible")
        .order_by("unit_id")
        .values_list("unit_id", "credit_code")
    )
    assert len(eligible) > 20, "the generated city must have eligible units"
    flagged = eligible[-3:]
    drop_b = root / "b"
    shutil.copytree(drop_a, drop_b)
    with (drop_b / "credit_flags.csv").open("a", encoding="utf-8") as f:
        for _unit, code in flagged:
            f.write(f"{code},serious_dishonesty,2021-06-01,,发展改革委\n")
    snap_b = snapshot_import(drop=validate_drop(drop_b), extracted_on=AS_OF).snapshot
    round2 = _run_round(snap_b, Checkpoint.BEFORE_PUBLICITY)

    rechecked = Counter(Case.objects.filter(state=State.RECHECKED).values_list("district", flat=True))
    district, n = rechecked.most_common(1)[0]
    assert n >= 4, rechecked
    other = next(d for d in ("110119", "110118", "110117", "110101") if d != district)
    in_d = list(Case.objects.filter(state=State.RECHECKED, district=district).order_by("unit_id"))
    to_prepare, to_decide = in_d[0], in_d[1]
    for case in (to_prepare, to_decide):
        case_transition(case_id=case.pk, to=State.UNDER_REVIEW, actor="city", reason="test: sent to review")

    for name, (role, where) in USERS.items():
        code = {"D": district, "X": other, None: None}[where]
        staff_add(username=name, role=role, district=code)  # no password: tests log in with force_login
    get_user_model().objects.create_user("nobody")  # a user with no staff profile

    notice = notice_open(policy_id=POLICY, actor="city", start=timezone.localdate() - timedelta(days=1))
    publicised, objected = in_d[2], in_d[3]
    objection = objection_record(
        case_id=objected.pk, raised_by="public", contact="13800000000", grounds="已停业", actor="own"
    )
    review = review_prepare(case_id=to_decide.pk, recommendation="approve", notes="材料齐全", actor="maker")
    for case in (publicised, objected, to_prepare, to_decide):
        case.refresh_from_db()
    assert publicised.state == State.PUBLICISED and objected.state == State.OBJECTED
    return World(
        district=district,
        other_district=other,
        snapshot=snap_b,
        round1=round1,
        round2=round2,
        changed_units=tuple(u for u, _c in flagged),
        publicised=publicised,
        objected=objected,
        objection=objection,
        to_prepare=to_prepare,
        to_decide=to_decide,
        review=review,
        notice_id=notice.pk,
    )
