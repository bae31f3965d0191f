"""Every reason code of payments.md maps to its action; unknown codes go to manual triage; statuses only move forward."""

from __future__ import annotations

import pytest

from mianshen.payments.reasons import (
    REASONS,
    STATUSES,
    Action,
    StatusMove,
    action_for,
    reason_info,
    status_info,
    status_move,
)

# payments.md, "Reason codes and what they make the system do", row by row (ranges expanded)
TABLE: dict[str, Action] = {
    **dict.fromkeys(["AC01", "AC03"], Action.NEEDS_CORRECTION),
    **dict.fromkeys(["AC04", "AC07"], Action.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT),
    "AC06": Action.HELD_FOR_REVIEW,
    **dict.fromkeys(["BE01", "BE06"], Action.NEEDS_CORRECTION),
    **dict.fromkeys(["AM05", "DU01", "DU02", "DU03", "DU04", "DU05", "DUPL"], Action.DUPLICATE_ALERT),
    **dict.fromkeys(
        ["AM10", "AM16", "AM17", "AM18", "AM19", "AM20", "FF01", "FF08"], Action.OUR_DEFECT_RESEND
    ),
    **dict.fromkeys(["AM04", "AG07"], Action.TREASURY_INCIDENT),
    **dict.fromkeys(["MS03", "NARR"], Action.MANUAL_TRIAGE),
}


@pytest.mark.parametrize(("code", "action"), sorted(TABLE.items()))
def test_every_code_of_the_table(code: str, action: Action) -> None:
    info = reason_info(code)
    assert info.known and info.code == code and info.action is action
    assert info.meaning_zh and info.meaning_en
    assert info.next_step_zh and info.next_step_en


def test_table_and_code_agree_exactly() -> None:
    assert set(REASONS) == set(TABLE)


@pytest.mark.parametrize("code", ["AC02", "XX99", "PRTRY:AC01", "", None, "ac01"])
def test_unknown_codes_go_to_manual_triage(code: str | None) -> None:
    info = reason_info(code)
    assert info.action is Action.MANUAL_TRIAGE and not info.known
    assert "未知" in info.meaning_zh and "Unknown" in info.meaning_en


@pytest.mark.parametrize("action", list(Action))
def test_every_action_explains_the_next_step(action: Action) -> None:
    code = next(c for c, a in TABLE.items() if a is action)
    assert len(reason_info(code).next_step_zh) > 10 and len(reason_info(code).next_step_en) > 20


@pytest.mark.parametrize(
    ("codes", "action"),
    [
        ([], Action.MANUAL_TRIAGE),
        (["AC01"], Action.NEEDS_CORRECTION),
        (["AC01", "AC04"], Action.NEEDS_CORRECTION_NO_RETRY_SAME_ACCOUNT),
        (["AC04", "AC06"], Action.HELD_FOR_REVIEW),
        (["AC01", "AM05"], Action.DUPLICATE_ALERT),
        (["FF01", "XX99"], Action.MANUAL_TRIAGE),
        (["AM04", "FF01"], Action.TREASURY_INCIDENT),
        (["PRTRY:X1", "DU01"], Action.DUPLICATE_ALERT),
    ],
)
def test_action_for_several_codes_is_the_most_cautious(codes: list[str], action: Action) -> None:
    assert action_for(codes) is action


def test_status_table() -> None:
    assert set(STATUSES) == {
        "RCVD",
        "ACTC",
        "ACCP",
        "ACSP",
        "ACSC",
        "ACCC",
        "PDNG",
        "PART",
        "RJCT",
        "ACWC",
        "ACWP",
    }
    assert status_info("PART").group_only
    assert {c for c, s in STATUSES.items() if s.final} == {"ACSC", "ACCC", "RJCT"}
    assert not status_info("ZZZZ").known
    order = ["RCVD", "PDNG", "ACTC", "ACCP", "ACSP", "ACSC", "ACCC"]
    assert [status_info(c).rank for c in order] == sorted(status_info(c).rank for c in order)


@pytest.mark.parametrize(
    ("current", "reported", "move"),
    [
        (None, "ACTC", StatusMove.ADVANCE),
        (None, "RJCT", StatusMove.ADVANCE),
        ("ACTC", "ACCP", StatusMove.ADVANCE),
        ("ACCP", "ACSP", StatusMove.ADVANCE),
        ("ACSP", "ACSC", StatusMove.ADVANCE),
        ("ACSC", "ACCC", StatusMove.ADVANCE),
        ("ACSP", "RJCT", StatusMove.ADVANCE),
        ("ACSC", "ACSC", StatusMove.SAME),
        ("RJCT", "RJCT", StatusMove.SAME),
        ("ACSP", "ACTC", StatusMove.STALE),
        ("ACSC", "ACSP", StatusMove.STALE),
        ("ACCC", "ACSC", StatusMove.STALE),
        ("ACTC", "PDNG", StatusMove.STALE),
        ("RJCT", "ACSC", StatusMove.CONTRADICTION),
        ("RJCT", "ACCP", StatusMove.CONTRADICTION),
        ("ACSC", "RJCT", StatusMove.CONTRADICTION),
        ("ACCC", "RJCT", StatusMove.CONTRADICTION),
        ("ACSP", "ZZZZ", StatusMove.UNKNOWN),
        (None, None, StatusMove.UNKNOWN),
    ],
)
def test_a_report_never_moves_a_payment_backwards(
    current: str | None, reported: str | None, move: StatusMove
) -> None:
    assert status_move(current, reported) is move
