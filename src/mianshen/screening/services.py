"""Screening-round services: start a round (refused while another runs), run it whole or not at all, compare.

``round_start`` writes the ``running`` row and queues the job in one transaction; ``round_run`` (the job) reads
the snapshot's frames, calls the pure policy engine, and writes every decision, the counts and the
``completed`` status in one transaction. Two rounds started together: the partial unique index on running
rounds lets exactly one in; the other gets ``RoundRefused``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.audit.catalogue import Action
from mianshen.audit.services import audit_record
from mianshen.core.errors import Refusal
from mianshen.core.jobs import job_enqueue
from mianshen.policy.families import RuleFamily, family_of
from mianshen.policy.parameters import resolve
from mianshen.registry.bulk import frame_insert
from mianshen.registry.models import Snapshot
from mianshen.registry.selectors import snapshot_frames

from .models import Checkpoint, RoundDecision, RoundStatus, ScreeningRound
from .signals import round_inputs

CONTRACT_KEYS = ("unit_id", "credit_code", "decision", "failed", "unknown", "routes", "amount_fen")


class RoundRefused(Refusal):
    """A round that cannot start (one already running, an unknown policy, an as-of outside its year)."""


@dataclass(frozen=True)
class RoundDiff:
    changed: (
        pl.DataFrame
    )  # unit_id, before, after, failed_before, failed_after, routes_before, routes_after, …
    counts: dict[str, int]  # "eligible→ineligible": n, …


@cache
def code_version() -> str:
    """The running code's version: the git commit when available, else the package version."""
    from importlib.metadata import version

    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"mianshen {version('mianshen')}" + (f" ({sha})" if sha else "")


def round_start(
    *,
    policy_id: str,
    snapshot: Snapshot,
    actor: str,
    as_of: date | None = None,
    checkpoint: str = Checkpoint.AD_HOC,
) -> ScreeningRound:
    """Create a running round and queue its job; refuses while another round of the policy runs."""
    as_of = as_of or snapshot.extracted_on
    try:
        params = resolve(policy_id, as_of)
    except ValueError as exc:
        raise RoundRefused(_("无法确定该政策在此日期的参数：%(problem)s"), problem=str(exc)) from exc
    if checkpoint not in Checkpoint.values:
        raise RoundRefused(_("未知的比对检查点 %(checkpoint)r"), checkpoint=checkpoint)
    _check_tables(family_of(params), snapshot, policy_id)
    try:
        with transaction.atomic():
            number = (
                ScreeningRound.objects.filter(policy_id=policy_id).aggregate(n=Max("number"))["n"] or 0
            ) + 1
            rnd = ScreeningRound.objects.create(
                policy_id=policy_id,
                number=number,
                snapshot=snapshot,
                snapshot_hash=snapshot.content_hash,
                as_of=as_of,
                checkpoint=checkpoint,
                param_hash=params.param_hash,
                code_version=code_version(),
                started_by=actor,
            )
            audit_record(
                actor=actor,
                action=Action.ROUND_STARTED,
                obj_type="round",
                obj_id=str(rnd.pk),
                after={
                    "policy": policy_id,
                    "number": number,
                    "snapshot": snapshot.content_hash,
                    "as_of": as_of.isoformat(),
                    "checkpoint": checkpoint,
                    "param_hash": params.param_hash,
                },
            )
            job_enqueue(
                kind="screening.round", key=f"round:{rnd.pk}", params={"round_id": rnd.pk}, actor=actor
            )
    except IntegrityError as exc:
        running = ScreeningRound.objects.filter(policy_id=policy_id, status=RoundStatus.RUNNING).first()
        if running is None:
            raise RoundRefused(
                _("%(policy_id)s 已有一轮比对正在运行，请等待其完成"), policy_id=policy_id
            ) from exc
        raise RoundRefused(
            _("%(policy_id)s 已有一轮比对正在运行（第 %(number)s 轮，由 %(by)s 发起），请等待其完成"),
            policy_id=policy_id,
            number=running.number,
            by=running.started_by,
        ) from exc
    return rnd


# The phases of a round, as reported to ``progress(phase, done, total)``.
PHASES = ("loading", "evaluating", "writing", "completed")


def round_run(*, round_id: int, progress: Callable[[str, int, int], None] | None = None) -> ScreeningRound:
    """Evaluate the round and store it whole. Idempotent: a completed round is returned as it is.

    ``progress(phase, done, total)`` is called between phases, never inside the write transaction: a
    progress write there would share the connection with the COPY stream (PostgreSQL) or be invisible
    until commit, and on SQLite a second connection could not write at all while the round holds the lock.
    """
    report = progress or (lambda phase, done, total: None)
    rnd = ScreeningRound.objects.select_related("snapshot").get(pk=round_id)
    if rnd.status == RoundStatus.COMPLETED:
        return rnd
    if rnd.status == RoundStatus.FAILED:
        raise RoundRefused(
            _("第 %(number)s 轮比对此前已失败（%(error)s），请发起新一轮比对"),
            number=rnd.number,
            error=rnd.error,
        )
    params = resolve(rnd.policy_id, rnd.as_of)
    units = int(rnd.snapshot.rows_accepted.get("units", 0))
    report("loading", 0, units)
    family = family_of(params)
    _check_tables(family, rnd.snapshot, rnd.policy_id)
    frames = dict(snapshot_frames(snapshot=rnd.snapshot, tables=family.input_tables))
    for _receiver, extra in round_inputs.send(sender=ScreeningRound, round=rnd, family=family.kind):
        if isinstance(extra, dict):
            frames.update(extra)
    report("evaluating", 0, units)
    evaluated = family.evaluate(frames, params, rnd.as_of)
    rows = _decision_rows(evaluated, family)
    total = rows.height
    counts = _counts(rows)
    report("writing", 0, total)
    with transaction.atomic():
        locked = ScreeningRound.objects.select_for_update().get(pk=round_id)
        if locked.status != RoundStatus.RUNNING:
            return locked
        frame_insert(table=RoundDecision._meta.db_table, df=rows, constants={"round_id": rnd.pk})
        locked.status = RoundStatus.COMPLETED
        locked.finished_at = timezone.now()
        locked.counts = counts
        locked.progress_done = locked.progress_total = total
        locked.save()
        audit_record(
            actor=locked.started_by,
            action=Action.ROUND_COMPLETED,
            obj_type="round",
            obj_id=str(rnd.pk),
            after={"units": total, "decisions": counts["decision"]},
        )
    report("completed", total, total)
    return locked


def _check_tables(family: RuleFamily, snapshot: Snapshot, policy_id: str) -> None:
    """A snapshot without a table the policy's family needs cannot be screened under it (a refund drop under the
    retention-training family, or the other way round)."""
    missing = [t for t in family.required_tables if t not in snapshot.rows_accepted]
    if missing:
        raise RoundRefused(
            _("快照 %(snapshot)s 缺少政策 %(policy)s 所需的表 %(table)s"),
            snapshot=snapshot.pk,
            policy=policy_id,
            table=missing[0],
        )


def round_fail(*, round_id: int, error: str) -> None:
    """Mark a round that cannot complete (its decisions were never written)."""
    with transaction.atomic():
        n = ScreeningRound.objects.filter(pk=round_id, status=RoundStatus.RUNNING).update(
            status=RoundStatus.FAILED, error=error[:2000], finished_at=timezone.now()
        )
        if n:
            audit_record(
                actor="system",
                action=Action.ROUND_FAILED,
                obj_type="round",
                obj_id=str(round_id),
                reason=error[:500],
            )


def _decision_rows(evaluated: pl.DataFrame, family: RuleFamily) -> pl.DataFrame:
    """The stored form of each unit's outcome: the contract columns plus every evidence value as JSON (a family
    without routes stores an empty ``routes``)."""
    contract = family.decisions(evaluated)
    if "routes" not in contract.columns:
        contract = contract.with_columns(pl.lit(None, dtype=pl.String).alias("routes"))
    evidence_cols = [c for c in evaluated.columns if c not in CONTRACT_KEYS]
    evidence = evaluated.select(
        "unit_id",
        pl.struct([pl.col(c) for c in evidence_cols]).struct.json_encode().alias("evidence"),
    )
    return contract.select(
        "unit_id",
        "credit_code",
        "decision",
        pl.col("failed").fill_null(""),
        pl.col("unknown").fill_null(""),
        pl.col("routes").fill_null(""),
        pl.col("amount_fen").fill_null(0),
    ).join(evidence, on="unit_id", how="left", maintain_order="left")


def _counts(rows: pl.DataFrame) -> dict[str, dict[str, int]]:
    by_decision = dict(rows.group_by("decision").len().iter_rows())
    amount = dict(
        rows.filter(pl.col("decision") == "eligible").select(pl.col("amount_fen").sum()).row(0, named=True)
    )
    codes: dict[str, int] = {}
    for col in ("failed", "unknown", "routes"):
        exploded = rows.select(pl.col(col).str.split("|").alias("c")).explode("c").filter(pl.col("c") != "")
        codes.update(dict(exploded.group_by("c").len().iter_rows()))
    return {
        "decision": {k: int(v) for k, v in sorted(by_decision.items())},
        "codes": {k: int(v) for k, v in sorted(codes.items())},
        "eligible_amount_fen": {"total": int(amount["amount_fen"] or 0)},
    }


def round_diff(*, before: ScreeningRound, after: ScreeningRound) -> RoundDiff:
    """Which units changed decision between two rounds, and why (their codes before and after)."""
    cols = ["unit_id", "decision", "failed", "unknown", "routes", "amount_fen"]

    def frame(rnd: ScreeningRound) -> pl.DataFrame:
        rows = list(RoundDecision.objects.filter(round=rnd).values_list(*cols))
        return pl.DataFrame(rows, schema=cols, orient="row")

    a, b = frame(before), frame(after)
    joined = a.join(b, on="unit_id", how="full", suffix="_after", coalesce=True)
    changed = joined.filter(
        pl.col("decision").ne_missing(pl.col("decision_after"))
        | pl.col("amount_fen").ne_missing(pl.col("amount_fen_after"))
    ).sort("unit_id")
    transitions = changed.select(
        (
            pl.col("decision").fill_null("(absent)") + "→" + pl.col("decision_after").fill_null("(absent)")
        ).alias("t")
    )
    counts = {k: int(v) for k, v in sorted(transitions.group_by("t").len().iter_rows())}
    return RoundDiff(changed=changed, counts=counts)
