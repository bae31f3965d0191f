"""Load test of the public portal (issue 11 Performance): a 441,300-unit city on PostgreSQL served by gunicorn on
loopback, driven open-loop at a fixed rate by wrk (Debian's ``wrk`` with a pacing Lua script, portal_load.lua).

Two steps, each its own command:

``setup`` builds the city through the commands and services a deployment uses, in its own database (the one
``MIANSHEN_DATABASE_URL`` names): ``mianshen generate --units N`` (parquet), ``mianshen import``, the ``initial`` and
``before_publicity`` rounds (``mianshen round start --wait``) and ``cases.services.notice_open`` — so the public
list holds every rechecked unit (~300k at 441,300 units).

``run`` starts ``gunicorn mianshen.wsgi`` (``--workers``, ``--threads``) on 127.0.0.1 with the lookup rate limiter
sized for the test (``MIANSHEN_PORTAL_RATE_*``), signs a unit in through the lookup flow (``POST
/api/lookup/code`` → the worker's ``portal.codes`` job → the code read back from the notify outbox → ``POST
/api/lookup/session``), then runs wrk for ``--seconds`` at ``--rate`` requests/s against (a) ``GET /api/case``
with that session cookie and (b) the publicity search (``/publicity/?q=…`` and ``/api/publicity?q=…``, varied
queries). wrk's own CPU time comes from ``os.wait4``; gunicorn's and PostgreSQL's from /proc. ``--record``
appends the table to bench/RESULTS.md.

    MIANSHEN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/h_portal_big \\
        PYTHONPATH=src .venv/bin/python bench/portal_load.py setup --units 441300
    MIANSHEN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/h_portal_big \\
        PYTHONPATH=src .venv/bin/python bench/portal_load.py run [--rate 200] [--seconds 60] [--workers 2]
        [--threads 4] [--record]
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
POLICY = "beijing-2021"
AS_OF = date(2021, 7, 1)


def _mianshen(*args: str) -> None:
    t0 = time.perf_counter()
    print("$ mianshen", " ".join(args), flush=True)
    subprocess.run([str(BIN / "mianshen"), *args], check=True)
    print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)


def setup(units: int) -> None:
    """Generate, import, two rounds and the notice: the city the load test reads. Resumable: a step already
    done (a snapshot, a completed round of that checkpoint, a notice) is skipped."""
    drop = HERE / "out" / f"load-drop-{units}"
    if not (drop / "units.parquet").exists():
        _mianshen(
            "generate", "--units", str(units), "--out", str(drop), "--format", "parquet", "--no-progress"
        )
    _mianshen("migrate", "--verbosity", "0")
    _django()
    from django.utils import timezone

    from mianshen.cases.models import Notice
    from mianshen.cases.services import notice_open
    from mianshen.registry.models import Snapshot
    from mianshen.screening.models import ScreeningRound
    from mianshen.staff.actors import system_actor

    if not Snapshot.objects.exists():
        _mianshen("import", "--quiet", "--extracted-on", AS_OF.isoformat(), str(drop))
    for checkpoint in ("initial", "before_publicity"):
        if not ScreeningRound.objects.filter(checkpoint=checkpoint, status="completed").exists():
            _mianshen("round", "start", "--policy", POLICY, "--checkpoint", checkpoint, "--wait")
    if not Notice.objects.exists():
        t0 = time.perf_counter()
        notice = notice_open(policy_id=POLICY, actor=system_actor(), start=timezone.localdate())
        print(f"notice {notice.pk}: {notice.entries.count():,} units ({time.perf_counter() - t0:.1f} s)")
    from django.db import connection

    with (
        connection.cursor() as cursor
    ):  # fresh tables: plan with their real sizes (autovacuum may lag behind)
        cursor.execute("ANALYZE")
        cursor.execute("VACUUM (ANALYZE) portal_publicitygram")  # what autovacuum does within minutes


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    import django

    django.setup()


# ---- the load test ---------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (from /proc), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its children (gunicorn's master and workers)."""
    out = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                out.append(int(entry.name))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not listen on 127.0.0.1:{port}")


def sign_in(base: str, taken: set[str] | None = None) -> tuple[str, str]:
    """The lookup flow over HTTP: ask for a code, let the worker's job send it, read it back from the outbox,
    open the session. Returns (the Cookie header, the credit code); ``taken``: credit codes not to use."""
    # a listed unit whose phone has had no code this hour (a phone gets at most 5 codes an hour: reruns move on)
    from django.utils import timezone

    from mianshen.cases.models import Case
    from mianshen.notify.models import Message
    from mianshen.portal.lookup import lookup_codes_send, units_on_file
    from mianshen.portal.models import LookupRequest

    hour_ago = timezone.now() - timedelta(hours=1)
    credit_code = ""
    for code in (
        Case.objects.filter(state="publicised").order_by("pk").values_list("credit_code", flat=True)[:2000]
    ):
        if taken and code in taken:
            continue
        phones = {p for _u, p in units_on_file(code)}
        if phones and not Message.objects.filter(kind="otp", to__in=phones, created_at__gt=hour_ago).exists():
            credit_code = code
            break
    if not credit_code:
        raise SystemExit("no listed unit with a phone free of codes this hour: run setup first, or wait")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def post(path: str, body: dict[str, str]) -> int:
        req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with opener.open(req, timeout=30) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    assert post("/api/lookup/code", {"credit_code": credit_code}) == 202
    # what the worker's portal.codes job runs for this request (only it: the notice's delivery jobs stay queued)
    request = LookupRequest.objects.filter(credit_code=credit_code).order_by("-id").first()
    assert request is not None
    lookup_codes_send(request.pk)
    phones = {p for _u, p in units_on_file(credit_code)}
    msg = (
        Message.objects.filter(kind="otp", to__in=phones).exclude(state="suppressed").order_by("-id").first()
    )
    if msg is None:
        raise SystemExit("no code reached the outbox")
    status = post("/api/lookup/session", {"credit_code": credit_code, "code": str(msg.params["code"])})
    if status != 204:
        raise SystemExit(
            f"sign-in answered {status} (a code used already? wait a minute: 1 code a minute a phone)"
        )
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, credit_code


def publicity_paths(n: int = 400, seed: int = 11) -> list[str]:
    """Varied searches: name fragments of 2–4 characters from listed units (one unit sampled for every two
    searches), code fragments, districts, pages; half through the page, half through the API."""
    from mianshen.cases.models import NoticeEntry

    rng = random.Random(seed)
    entries = list(
        NoticeEntry.objects.order_by("?").values_list("unit_name", "masked_credit_code", "district")[
            : max(200, n // 2)
        ]
    )
    paths = []
    for k in range(n):
        name, code, district = rng.choice(entries)
        how = k % 5
        if how in (0, 1):
            size = rng.choice((2, 2, 3, 4))
            start = rng.randrange(0, max(1, len(name) - size))
            params = {"q": name[start : start + size]}
        elif how == 2:
            params = {"q": code[:6]}
        elif how == 3:
            params = {"q": name[:2], "district": district}
        else:
            params = {"district": district, "page": str(rng.randint(1, 50))}
        base = "/publicity/" if k % 2 == 0 else "/api/publicity"
        paths.append(f"{base}?{urllib.parse.urlencode(params)}")
    return paths


def wrk(base: str, paths: list[str], *, rate: int, seconds: int, connections: int, threads: int,
        cookies: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """One wrk run (portal_load.lua paces it); its summary and its own CPU time (rusage of the child)."""
    listing = HERE / "out" / f"load-paths-{os.getpid()}.txt"
    listing.parent.mkdir(parents=True, exist_ok=True)  # bench/out/ is not in a fresh checkout
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    jar = HERE / "out" / f"load-cookies-{os.getpid()}.txt"
    jar.write_text("".join(f"{c}\n" for c in cookies or []), encoding="utf-8")
    env = {**os.environ, "LOAD_RATE": str(rate), "LOAD_THREADS": str(threads), "LOAD_PATHS": str(listing),
           "LOAD_COOKIES": str(jar) if cookies else ""}  # fmt: skip
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
           "-s", str(HERE / "portal_load.lua"), base]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    out = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    line = next((x for x in out.splitlines() if x.startswith("LOADJSON ")), None)
    if child.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({child.returncode}):\n{out}")
    result: dict[str, Any] = json.loads(line.removeprefix("LOADJSON "))
    result["wrk_cpu_s"] = usage.ru_utime + usage.ru_stime
    result["wall_s"] = wall
    result["achieved_rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def run(args: argparse.Namespace) -> int:
    from benchlib import append_results, command_line, machine, machine_line
    from mianshen.cases.models import NoticeEntry

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop gunicorn on the way out (finally below)
    info = machine()
    listed = NoticeEntry.objects.count()
    port = _free_port()
    env = {**os.environ, "MIANSHEN_PORTAL_ADDRESS_MAX_REQUESTS": "1000000", "MIANSHEN_DEBUG": "0",
           "DJANGO_SETTINGS_MODULE": "mianshen.settings", "MIANSHEN_PORTAL_VIEW_CACHE": str(args.view_cache)}  # fmt: skip
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "mianshen.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
         "--threads", str(args.threads), "--worker-class", "gthread" if args.threads > 1 else "sync",
         "--log-level", "warning", "--backlog", "2048"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    rows = []
    try:
        _wait_for(port)
        base = f"http://127.0.0.1:{port}"
        cookies: list[str] = []
        taken: set[str] = set()
        for _ in range(args.sessions):
            cookie, credit_code = sign_in(base, taken)
            cookies.append(cookie)
            taken.add(credit_code)
        print(
            f"signed in {len(cookies)} units; {listed:,} units on the public list; gunicorn pid {server.pid}"
        )
        targets = [(f"progress lookup: GET /api/case ({len(cookies)} signed-in units in turn)", ["/api/case"], cookies),
                   (f"publicity search: /publicity/?q= and /api/publicity?q= ({args.paths:,} varied)",
                    publicity_paths(args.paths), [])]  # fmt: skip
        if args.only:
            targets = [
                t for t in targets if t[0].startswith("progress" if args.only == "case" else "publicity")
            ]
        for label, paths, with_cookies in targets:
            wrk(base, paths, rate=args.rate, seconds=args.warmup, connections=args.connections,
                threads=args.wrk_threads, cookies=with_cookies)  # warm-up, not recorded  # fmt: skip
            load = os.getloadavg()
            pids = _tree(server.pid)
            cpu0 = sum(_cpu_seconds(p) for p in pids)
            r = wrk(base, paths, rate=args.rate, seconds=args.seconds, connections=args.connections,
                    threads=args.wrk_threads, cookies=with_cookies)  # fmt: skip
            r["server_cpu_s"] = sum(_cpu_seconds(p) for p in pids) - cpu0
            r["load"] = load
            r["label"] = label
            rows.append(r)
            print(json.dumps(r))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    table = "\n".join(
        f"| {r['label']} | {args.rate} | {r['achieved_rps']:.1f} | {r['requests']:,} | {r['p50_ms']:.1f} | "
        f"{r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['p999_ms']:.1f} | {r['max_ms']:.1f} | "
        f"{r['errors_status'] + r['errors_timeout'] + r['errors_connect'] + r['errors_read']} | {r['late_slots']} | "
        f"{r['wrk_cpu_s']:.1f} s ({100 * r['wrk_cpu_s'] / (r['duration_us'] / 1e6):.0f} % of a core) | "
        f"{r['server_cpu_s']:.1f} s | {r['load'][0]:.2f} | {'met' if r['p99_ms'] <= 50 else 'missed'} |"
        for r in rows
    )
    markdown = f"""### portal load test: {listed:,} units on the public list, {args.rate} requests/s open-loop ({info["date_utc"]})

- machine: {machine_line(info)} (shared with other sessions: see the load column)
- command: `{command_line()}`
- server: gunicorn {args.workers} workers × {args.threads} threads (`gthread`) on 127.0.0.1, `mianshen.wsgi`, PostgreSQL
  15 on the same machine (database {os.environ["MIANSHEN_DATABASE_URL"].rsplit("/", 1)[-1]}, built by `portal_load.py setup`: generate, import, two rounds,
  `notice_open`); `MIANSHEN_DB_CONN_MAX_AGE={os.environ.get("MIANSHEN_DB_CONN_MAX_AGE", "").strip() or "0"}` (0: a new
  database connection per request; > 0: each worker thread keeps its connection that many seconds)
- generator: Debian's wrk 4.1 ({args.wrk_threads} threads, {args.connections} connections) paced by
  bench/portal_load.lua to a fixed schedule of {args.rate} requests/s, {args.seconds} s measured after a
  {args.warmup} s warm-up; latency from send to last byte; "late" = schedule slots that were already past when
  a connection came free (sent at once: > 0 means the generator lagged behind the schedule)
- case view cache: `MIANSHEN_PORTAL_VIEW_CACHE={args.view_cache}` per worker (0: every `/api/case` builds its
  view from the database; otherwise a view is built once per worker and unit, then read back after one
  freshness query while nothing it shows changes); {args.sessions} units signed in, used in turn
- rate limiter: `MIANSHEN_PORTAL_ADDRESS_MAX_REQUESTS=1000000` (only code requests are counted per address;
  the two endpoints under test are not limited)

| target | rate asked | achieved | requests | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | late | wrk CPU | server CPU | load (1 min) at start | p99 ≤ 50 ms |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
{table}
"""
    print(markdown)
    if args.record:
        append_results(markdown)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--units", type=int, default=441_300)
    r = sub.add_parser("run")
    r.add_argument("--rate", type=int, default=200)
    r.add_argument("--seconds", type=int, default=60)
    r.add_argument("--warmup", type=int, default=10)
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--threads", type=int, default=4)
    r.add_argument("--connections", type=int, default=32)
    r.add_argument("--wrk-threads", type=int, default=2)
    r.add_argument("--sessions", type=int, default=20, help="units signed in, their sessions used in turn")
    r.add_argument("--paths", type=int, default=2000, help="distinct publicity searches, taken in turn")
    r.add_argument(
        "--view-cache",
        type=int,
        default=5000,
        help="MIANSHEN_PORTAL_VIEW_CACHE for the server (0: off, every case view built)",
    )
    r.add_argument("--only", choices=("case", "publicity"), help="one target only")
    r.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("MIANSHEN_DATABASE_URL", "").startswith("postgresql"):
        print("set MIANSHEN_DATABASE_URL to a PostgreSQL database of its own", file=sys.stderr)
        return 2
    if args.step == "setup":
        setup(args.units)
        return 0
    sys.path.insert(0, str(HERE))
    _django()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
