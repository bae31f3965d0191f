"""Benchmark: ``case_transition_many`` moving N cases identified → rechecked (non-strict) in one call, against
the ORM implementation it replaced (``baseline_transition_many`` below, a copy of the old code), same run.

    .venv/bin/python bench/cases_transitions.py                       # 450,000 cases, PostgreSQL, new and old
    .venv/bin/python bench/cases_transitions.py --n 50000 --impls new --profile
    .venv/bin/python bench/cases_transitions.py --database sqlite --n 100000
    .venv/bin/python bench/cases_transitions.py --changes          # moves that also set amount/decision/reason
    .venv/bin/python bench/cases_transitions.py --record              # also append the table to RESULTS.md

PostgreSQL: a template database ``<db>_template`` is created and migrated once; every measured run gets a fresh
``<db>_<impl>`` copied from it (``createdb -T``), dropped afterwards (``--keep`` keeps them). SQLite: a migrated
template file copied per run under ``bench/out/``. Each run is its own subprocess (``benchlib.run_measured``:
its own peak RSS) which, untimed, inserts N cases with ``insert_rows`` (COPY) and analyses the table, then
times the call inside ``transaction.atomic()`` and the commit after it (deferred foreign-key checks run there).
Untimed again, it checks the result (every case rechecked at version 1, N history rows, N audit events,
``audit_verify`` intact), digests the rows written (cases, history, audit before/after/reason) so the parent can
check that both implementations wrote the same thing, and times the per-event Python of the audit trail
(``_fields``: checks + normalisation; ``event_hash``: canonical JSON + SHA-256) over N events of the same
shape. ``--profile`` runs the call under cProfile and prints the top of the profile instead of the breakdown.
``--db`` sets the scratch databases' name prefix.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "src"))

from benchlib import (  # noqa: E402
    OUT_DIR,
    PYTHON,
    append_results,
    command_line,
    machine,
    machine_line,
    rss_cap,
    run_measured,
    save_raw,
)

DEFAULT_DB = "mianshen_bench_transitions"
PG = ["-h", "127.0.0.1", "-U", "postgres"]
IMPLS = ("new", "old")
REASON = "round 2 (before_publicity): eligible"
CASE_COLUMNS = ("policy_id", "unit_id", "credit_code", "unit_name", "district", "state", "amount_fen", "decision",
                "reason", "key_supervision", "last_round_id", "opened_at", "updated_at", "version")  # fmt: skip


# --- the old implementation (cases/transitions.py and audit/services.py before the bulk path) ---------------


def baseline_audit_record_many(
    *, actor: str, events: Iterable[Mapping[str, Any]], actor_id: int | None = None, batch_size: int = 2_000
) -> int:
    """``audit.services.audit_record_many`` as it was: ``AuditEvent`` instances and ``bulk_create``."""
    from django.db import DEFAULT_DB_ALIAS, connections, transaction
    from django.utils import timezone

    from mianshen.audit.canonical import event_hash
    from mianshen.audit.models import AuditEvent
    from mianshen.audit.selectors import audit_head
    from mianshen.audit.services import _chain_lock, _fields, _schedule_checkpoint

    prepared = []
    for event in events:
        prepared.append(
            _fields(
                actor,
                actor_id,
                event["action"],
                event["obj_type"],
                event["obj_id"],
                event.get("before"),
                event.get("after"),
                event.get("reason", ""),
            )
        )
    if not prepared:
        return 0
    with transaction.atomic(savepoint=False):
        _chain_lock(connections[DEFAULT_DB_ALIAS])
        head = audit_head()
        at, prev_hash, rows = timezone.now(), head.hash, []
        for seq, fields in enumerate(prepared, start=head.seq + 1):
            fields.update(seq=seq, at=at, prev_hash=prev_hash)
            prev_hash = event_hash(**fields)
            rows.append(AuditEvent(**fields, hash=prev_hash))
        AuditEvent.objects.bulk_create(rows, batch_size=batch_size)
        _schedule_checkpoint(head.seq, head.seq + len(rows))
    return len(rows)


def baseline_transition_many(
    *,
    moves: Sequence[Any],
    actor: str,
    round: Any = None,
    on_commit: Callable[[], None] | None = None,
    strict: bool = True,
    laps: dict[str, float] | None = None,
) -> list[Any]:
    """``cases.transitions.case_transition_many`` as it was (``laps``: seconds per step, for the breakdown)."""
    from django.db import transaction

    from mianshen.audit.catalogue import Action
    from mianshen.cases.models import Case, CaseHistory
    from mianshen.cases.states import State
    from mianshen.cases.transitions import TransitionRefused

    laps = {} if laps is None else laps
    lap = time.perf_counter()

    def step(name: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        laps[name] = laps.get(name, 0.0) + now - lap
        lap = now

    if not moves:
        return []
    by_id = {m.case_id: m for m in moves}
    with transaction.atomic():
        cases = list(Case.objects.select_for_update().filter(pk__in=by_id).order_by("pk"))
        step("lock + read (select_for_update, Case objects)")
        if len(cases) != len(by_id):
            missing = sorted(set(by_id) - {c.pk for c in cases})
            raise TransitionRefused(f"no such case: {missing[:5]}")
        moved: list[Any] = []
        history: list[Any] = []
        events: list[dict[str, Any]] = []
        for case in cases:
            move = by_id[case.pk]
            current = State(case.state)
            problem = _baseline_refusal(case, current, move)
            if problem:
                if strict:
                    raise TransitionRefused(problem)
                continue
            before = _baseline_snapshot(case)
            case.state = move.to.value
            for name, value in move.changes.items():
                setattr(case, name, value)
            if round is not None:
                case.last_round = round
            case.version += 1
            moved.append(case)
            history.append(
                CaseHistory(
                    case=case,
                    from_state=current.value,
                    to_state=move.to.value,
                    actor=actor,
                    reason=move.reason[:500],
                    round=round,
                )
            )
            events.append(
                {
                    "action": Action.CASE_TRANSITION,
                    "obj_type": "case",
                    "obj_id": str(case.pk),
                    "before": before,
                    "after": _baseline_snapshot(case),
                    "reason": move.reason,
                }
            )
        step("check + build (Python loop)")
        if moved:
            fields = ["state", "version", "last_round", *sorted({k for m in moves for k in m.changes})]
            Case.objects.bulk_update(moved, fields, batch_size=2000)
            step("case rows (bulk_update, CASE WHEN)")
            CaseHistory.objects.bulk_create(history, batch_size=2000)
            step("history rows (bulk_create)")
            baseline_audit_record_many(actor=actor, events=events)
            step("audit events (audit_record_many with bulk_create)")
        if on_commit is not None:
            transaction.on_commit(on_commit)
    return moved


def _baseline_refusal(case: Any, current: Any, move: Any) -> str:
    from mianshen.cases.states import can_move

    if move.expect is not None and current not in move.expect:
        return f"case {case.pk} is {current.value}, expected one of {sorted(s.value for s in move.expect)}"
    if not can_move(current, move.to):
        return f"case {case.pk}: {current.value} → {move.to.value} is not an allowed move"
    return ""


def _baseline_snapshot(case: Any) -> dict[str, Any]:
    return {
        "state": case.state,
        "amount_fen": case.amount_fen,
        "decision": case.decision,
        "reason": case.reason,
        "version": case.version,
    }


# --- the child: seed, time one call, check ------------------------------------------------------------------


def _seed(n: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from mianshen.cases.models import Case
    from mianshen.core.bulkdb import insert_rows

    now = timezone.now()
    rows = [
        ("beijing-2021", f"U{i:09d}", "91110105MA01234567", f"北京第{i}号科技有限公司", "110105", "identified",
         10_000 + i % 1_990_000, "eligible", "", False, None, now, now, 0)
        for i in range(n)
    ]  # fmt: skip
    with transaction.atomic():
        insert_rows(Case, CASE_COLUMNS, rows)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE cases_case" if connection.vendor == "postgresql" else "ANALYZE")


WAIT = "case rows: wait for the pipelined UPDATE (what is left of it after the lines above)"


def _instrument_new(laps: dict[str, float]) -> None:
    """Time the bulk path's steps by wrapping the functions it calls (a few calls each: no overhead)."""
    import contextlib

    import mianshen.audit.services as services
    import mianshen.cases.transitions as transitions

    def timed(module: Any, name: str, label: str) -> None:
        inner = getattr(module, name)
        laps.setdefault(label, 0.0)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                laps[label] = laps.get(label, 0.0) + time.perf_counter() - start

        setattr(module, name, wrapper)

    # in the order they run; all disjoint
    timed(
        transitions, "_locked_rows", "lock + read the rows (PostgreSQL: SELECT … = ANY(array) … FOR UPDATE)"
    )
    timed(transitions, "_instances", "build the Case instances")
    timed(transitions, "_apply", "apply the moves (Python loop: snapshots, history rows, events)")
    timed(services, "_prepare", "audit events: checks + normalisation (_fields)")
    timed(services, "_chained_rows", "audit events: hash chain + JSON texts")
    laps.setdefault(WAIT, 0.0)
    timed(
        transitions,
        "update_rows",
        "case rows: update_rows (PostgreSQL: COPY + UPDATE … FROM; SQLite: executemany)",
    )
    timed(transitions, "insert_rows", "history rows: insert_rows (COPY / executemany)")
    timed(services, "insert_rows", "audit rows: insert_rows (COPY / executemany)")
    pipelined = transitions._pipelined

    @contextlib.contextmanager
    def timed_pipelined(*args: Any, **kwargs: Any) -> Any:
        with pipelined(*args, **kwargs):
            yield
            started = time.perf_counter()
        laps[WAIT] += time.perf_counter() - started

    transitions._pipelined = timed_pipelined


def _digest(impl_rows: Iterable[Sequence[Any]]) -> str:
    sha = hashlib.sha256()
    for row in impl_rows:
        sha.update(json.dumps(list(row), sort_keys=True, default=str, ensure_ascii=False).encode())
        sha.update(b"\n")
    return sha.hexdigest()


def _per_event_python(n: int) -> dict[str, float]:
    """Seconds of the audit trail's per-event Python for ``n`` events shaped like a transition's."""
    from datetime import UTC, datetime

    from mianshen.audit.canonical import GENESIS_HASH, event_hash
    from mianshen.audit.catalogue import Action
    from mianshen.audit.services import _fields

    before = {"state": "identified", "amount_fen": 123456, "decision": "eligible", "reason": "", "version": 0}
    after = {**before, "state": "rechecked", "version": 1}
    t0 = time.perf_counter()
    prepared = [
        _fields("system:bench", None, Action.CASE_TRANSITION, "case", str(i), before, after, REASON)
        for i in range(1, n + 1)
    ]
    t1 = time.perf_counter()
    at, prev = datetime.now(UTC), GENESIS_HASH
    for seq, fields in enumerate(prepared, start=1):
        fields.update(seq=seq, at=at, prev_hash=prev)
        prev = event_hash(**fields)
    t2 = time.perf_counter()
    return {"_fields (checks + normalise)": t1 - t0, "event_hash (canonical JSON + SHA-256)": t2 - t1}


def child(args: argparse.Namespace) -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "mianshen.settings"
    os.environ["MIANSHEN_AUDIT_CHECKPOINT_EVERY"] = "0"
    import django

    django.setup()
    from django.db import connection, transaction
    from django.db.models import Count, F

    from mianshen.audit.models import AuditEvent
    from mianshen.audit.verify import audit_verify
    from mianshen.cases.models import Case, CaseHistory
    from mianshen.cases.states import State
    from mianshen.cases.transitions import Move, case_transition_many

    n, impl = args.n, args.child
    t = time.perf_counter()
    _seed(n)
    seed_s = time.perf_counter() - t
    ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
    if args.changes:  # as a round moves them: its amount, decision and reason on every case
        moves = [
            Move(
                pk,
                State.RECHECKED,
                REASON,
                changes={"amount_fen": 20_000 + pk, "decision": "eligible", "reason": ""},
            )
            for pk in ids
        ]
    else:
        moves = [Move(pk, State.RECHECKED, REASON) for pk in ids]
    laps: dict[str, float] = {}
    if impl == "new":
        _instrument_new(laps)

        def call() -> list[Any]:
            return case_transition_many(moves=moves, actor="system:bench", strict=False)
    else:

        def call() -> list[Any]:
            return baseline_transition_many(moves=moves, actor="system:bench", strict=False, laps=laps)

    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
    t0 = time.perf_counter()
    with transaction.atomic():
        if profile is not None:
            profile.enable()
        moved = call()
        if profile is not None:
            profile.disable()
        t1 = time.perf_counter()
    t2 = time.perf_counter()
    result: dict[str, Any] = {
        "impl": impl,
        "n": n,
        "moved": len(moved),
        "seed_s": seed_s,
        "call_s": t1 - t0,
        "commit_s": t2 - t1,
        "total_s": t2 - t0,
        "laps": laps,
    }
    if profile is not None:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue())
    else:
        result["per_event_python"] = _per_event_python(n)
    # checks, untimed
    states = dict(Case.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    result["checks"] = {
        "rechecked": states.get("rechecked", 0),
        "version_1": Case.objects.filter(version=1).count(),
        "history": CaseHistory.objects.count(),
        "audit_events": AuditEvent.objects.count(),
        "moved_are_cases": all(isinstance(c, Case) and c.state == "rechecked" for c in moved),
    }
    if not args.no_verify:
        verified = audit_verify()
        result["checks"]["audit_verify"] = verified.ok
        if not verified.ok:
            result["checks"]["audit_problem"] = str(verified.problem)
    result["digest"] = {
        "cases": _digest(
            Case.objects.order_by("pk").values_list(
                "pk",
                "state",
                "version",
                "last_round_id",
                "amount_fen",
                "decision",
                "reason",
                "key_supervision",
            )
        ),
        "history": _digest(
            CaseHistory.objects.order_by("pk").values_list(
                "case_id", "from_state", "to_state", "actor", "reason", "round_id"
            )
        ),
        "audit": _digest(
            AuditEvent.objects.order_by("seq").values_list(
                "seq", "actor", "action", "object_type", "object_id", "before", "after", "reason"
            )
        ),
    }
    result["updated_at_set"] = Case.objects.filter(updated_at__gt=F("opened_at")).count()
    result["database"] = connection.vendor
    print(json.dumps(result))
    return 0


# --- the parent: databases, children, the table -------------------------------------------------------------


def _pg(*argv: str, check: bool = True) -> None:
    subprocess.run([*argv[:1], *PG, *argv[1:]], check=check, capture_output=True)


def _prepare_template(args: argparse.Namespace) -> str:
    """A migrated template; returns the database URL (or file) it lives at."""
    env = {"DJANGO_SETTINGS_MODULE": "mianshen.settings"}
    if args.database == "postgresql":
        template = f"{args.db}_template"
        _pg("dropdb", "--if-exists", template)
        _pg("createdb", template)
        url = f"postgresql://postgres@127.0.0.1:5432/{template}"
    else:
        template_file = OUT_DIR / f"{args.db}_template.sqlite3"
        template_file.parent.mkdir(parents=True, exist_ok=True)
        template_file.unlink(missing_ok=True)
        url = f"sqlite:///{template_file}"
    migrated = subprocess.run(
        [str(BENCH.parent / ".venv" / "bin" / "mianshen"), "migrate", "--verbosity", "0"],
        env={**os.environ, **env, "MIANSHEN_DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    if migrated.returncode != 0:
        raise RuntimeError(f"migrate failed: {migrated.stderr[-2000:]}")
    return url


def _fresh(args: argparse.Namespace, impl: str) -> str:
    if args.database == "postgresql":
        name = f"{args.db}_{impl}"
        _pg("dropdb", "--if-exists", name)
        _pg("createdb", "-T", f"{args.db}_template", name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"
    path = OUT_DIR / f"{args.db}_{impl}.sqlite3"
    shutil.copyfile(OUT_DIR / f"{args.db}_template.sqlite3", path)
    return f"sqlite:///{path}"


def _drop(args: argparse.Namespace, name: str) -> None:
    if args.keep:
        return
    if args.database == "postgresql":
        _pg("dropdb", "--if-exists", name)
    else:
        (OUT_DIR / f"{name}.sqlite3").unlink(missing_ok=True)


def _table(runs: dict[str, dict[str, Any]], n: int) -> list[str]:
    lines = [
        "| implementation | cases moved | call | commit | total | peak RSS | load at start (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for impl, r in runs.items():
        name = (
            "new (`case_transition_many`, bulk path)"
            if impl == "new"
            else "old (`baseline_transition_many`, ORM)"
        )
        lines.append(
            f"| {name} | {r['moved']:,} | {r['call_s']:.1f} s | {r['commit_s']:.1f} s | **{r['total_s']:.1f} s** | "
            f"{r['rss_gib']:.2f} GiB | {r['load']:.2f} |"
        )
    if {"new", "old"} <= runs.keys():
        lines.append("")
        lines.append(f"Speed-up: {runs['old']['total_s'] / runs['new']['total_s']:.1f}× on {n:,} cases.")
    for impl, r in runs.items():
        if not r.get("laps"):
            continue
        lines += ["", f"Where the time goes, {impl}:", "", "| step | seconds |", "|---|---:|"]
        accounted = 0.0
        for step, seconds in r["laps"].items():
            if seconds:
                lines.append(f"| {step} | {seconds:.1f} |")
                accounted += seconds
        if impl == "new":
            lines.append(f"| rest of the call (chain lock and head, …) | {r['call_s'] - accounted:.1f} |")
        lines.append(f"| commit (PostgreSQL: the deferred FK checks) | {r['commit_s']:.1f} |")
        per = r.get("per_event_python", {})
        for step, seconds in per.items():
            lines.append(f"| … audit per-event Python, measured alone: {step} | {seconds:.1f} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=450_000, help="cases to move (default 450,000)")
    parser.add_argument("--impls", default="new,old", help="which implementations, in order (new,old)")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--db", default=DEFAULT_DB, help=f"scratch database name prefix (default {DEFAULT_DB})"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the call, print the top 40")
    parser.add_argument("--no-verify", action="store_true", help="skip audit_verify after the run")
    parser.add_argument(
        "--changes", action="store_true", help="moves with changes (amount, decision, reason)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--record", action="store_true", help="append the result to bench/RESULTS.md")
    parser.add_argument("--child", choices=IMPLS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    info = machine()
    runs: dict[str, dict[str, Any]] = {}
    raw: dict[str, Any] = {"machine": info, "args": vars(args), "runs": {}}
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("migrating the template database", total=None)
        _prepare_template(args)
        try:
            for impl in impls:
                bar.update(task, description=f"{impl}: seeding {args.n:,} cases, then moving them")
                url = _fresh(args, impl)
                checkpoints = OUT_DIR / f"{args.db}_{impl}-checkpoints.jsonl"  # none: automatic ones are off
                checkpoints.unlink(missing_ok=True)
                argv = [PYTHON, __file__, "--child", impl, "--n", str(args.n)]
                argv += (
                    ["--profile"] * args.profile
                    + ["--no-verify"] * args.no_verify
                    + ["--changes"] * args.changes
                )
                try:
                    measured = run_measured(
                        argv,
                        env={
                            "MIANSHEN_DATABASE_URL": url,
                            "MIANSHEN_AUDIT_CHECKPOINT_FILE": str(checkpoints),
                        },
                        rss_cap_bytes=rss_cap(),
                        timeout_s=3600,
                    )
                finally:
                    _drop(args, f"{args.db}_{impl}")
                raw["runs"][impl] = measured.as_json()
                if not measured.ok or not measured.result:
                    console.print(f"[red]{impl} failed[/red]\n{measured.stderr[-3000:]}")
                    return 1
                if args.profile:
                    console.print(measured.stdout)
                runs[impl] = {
                    **measured.result,
                    "rss_gib": measured.max_rss_gib,
                    "load": measured.load_before[0],
                }
                r = runs[impl]
                console.print(
                    f"{impl}: {r['moved']:,} moved in {r['total_s']:.1f} s "
                    f"(call {r['call_s']:.1f} s, commit {r['commit_s']:.1f} s); checks {r['checks']}"
                )
        finally:
            _drop(args, f"{args.db}_template")
    save_raw("cases_transitions", raw)
    same = len({json.dumps(r["digest"], sort_keys=True) for r in runs.values()}) == 1
    lines = [
        f"### case_transition_many, bulk path vs the ORM implementation ({args.database})",
        "",
        f"{machine_line(info)}",
        "",
        f"command: `{command_line()}`; {args.n:,} cases identified → rechecked in one non-strict call"
        f"{' with changes' if args.changes else ''}, each in a "
        "fresh database (insert + analyse untimed); the time includes the commit.",
        "",
        *_table(runs, args.n),
        "",
        f"Cases, history rows and audit events (before/after/reason) written by the implementations: "
        f"{'identical (SHA-256 digests match)' if same else 'DIFFERENT'}"
        + (
            "; every run: all cases rechecked at version 1, one history row and one audit event per case, "
            "`audit_verify` intact."
            if all(
                r["checks"]["rechecked"] == args.n
                and r["checks"]["history"] == args.n
                and r["checks"]["audit_events"] == args.n
                and r["checks"].get("audit_verify", True)
                for r in runs.values()
            )
            else "; CHECKS FAILED: " + json.dumps({k: r["checks"] for k, r in runs.items()})
        ),
    ]
    print("\n".join(lines))
    if args.record:
        append_results("\n".join(lines))
    return 0 if same or len(runs) < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
