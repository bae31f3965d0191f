"""Benchmark: the PDF documents on PostgreSQL — a district's publicity list for posting at Beijing's size, and the
letters to units (告知书) on request.

1. The list: a generated 441,300-unit city (``mianshen generate --seed 1``, cached under bench/out/), screened by
   the policy core; every unit with a payable decision becomes a publicised case and a line of one notice (written
   with COPY into a scratch database, not through ``notice_open``: the document is measured here). The largest
   district's list is rendered (the database read and the drawing; target ≤ 30 s) ``--runs`` times, then kept once
   (render + store + audit event) and served again (the kept bytes).
2. The letters: the back office's test city (generate → import → rounds → notice → release → the bank simulator's
   answers; tests/backoffice/world.py and payworld.py) in a second scratch database; every letter the cases have a
   fact for (listed, paid, failed; Chinese and English) is asked for once (rendered and kept: target ≤ 1 s) and
   again (served). The first letter of a fresh process and the first with an empty font cache (the shards cut from
   the installed fonts) are timed in subprocesses.

``--record`` appends the results to bench/RESULTS.md; the scratch databases are dropped.

    PYTHONPATH=src .venv/bin/python bench/pdf_documents.py [--units 441300] [--runs 2] [--record]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LIST_DB = "mianshen_bench_pdf_list"
LETTER_DB = "mianshen_bench_pdf_letters"


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True)


def _setup(db: str) -> None:
    _psql(f"DROP DATABASE IF EXISTS {db}")
    _psql(f"CREATE DATABASE {db}")
    os.environ["MIANSHEN_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _drop(units: int) -> Path:
    from mianshen.datadrop.generate import generate

    path = HERE / "out" / f"drop-parquet-{units}"
    path.parent.mkdir(exist_ok=True)
    if not (path / "units.parquet").exists() and not (path / "units").is_dir():
        generate(units=units, seed=1, out=path, fmt="parquet")
    return path


def list_part(units: int, runs: int) -> dict[str, object]:
    """Fill, then time the largest district's list. Runs in its own process (one database per process)."""
    _setup(LIST_DB)
    from datetime import date

    import polars as pl
    from django.utils import timezone

    from mianshen.cases.models import Case, Notice, NoticeEntry
    from mianshen.cases.services import mask_credit_code
    from mianshen.core.bulkdb import insert_rows
    from mianshen.datadrop.validate import validate_drop
    from mianshen.policy.codes import PAYABLE_DECISIONS
    from mianshen.policy.engine import INPUT_TABLES, screen
    from mianshen.policy.parameters import resolve
    from mianshen.reports.documents import document_keep
    from mianshen.reports.publicity_list import publicity_list_document, publicity_list_pdf

    started = time.perf_counter()
    drop = validate_drop(_drop(units), tables=INPUT_TABLES, progress=False)
    as_of = date(2021, 7, 1)
    decided = screen(drop.tables, resolve("beijing-2021", as_of), as_of)
    unit_frame = drop.tables["units"]
    unit_frame = unit_frame.collect() if isinstance(unit_frame, pl.LazyFrame) else unit_frame
    listed = (
        decided.filter(pl.col("decision").is_in(PAYABLE_DECISIONS))
        .select("unit_id", "credit_code", "amount_fen")
        .join(unit_frame.select("unit_id", "name", "district"), on="unit_id")
        .sort("unit_id")
    )
    now = timezone.now()
    notice = Notice.objects.create(policy_id="beijing-2021", title="2021 年失业保险稳岗返还公示（基准）",
                                   opened_by="bench", starts_at=now, ends_at=now + timedelta(days=7))  # fmt: skip
    cases, lines = [], []
    for i, (unit_id, code, amount, name, district) in enumerate(listed.iter_rows(), start=1):
        cases.append((i, "beijing-2021", unit_id, code, name, district, "publicised", amount, "eligible", "",
                      False, now, now, 1))  # fmt: skip
        lines.append((i, notice.pk, i, name, mask_credit_code(code), amount, district))
    insert_rows(Case, ("id", "policy_id", "unit_id", "credit_code", "unit_name", "district", "state", "amount_fen",
                       "decision", "reason", "key_supervision", "opened_at", "updated_at", "version"), cases)  # fmt: skip
    insert_rows(NoticeEntry, ("id", "notice_id", "case_id", "unit_name", "masked_credit_code", "amount_fen",
                              "district"), lines)  # fmt: skip
    fill_s = time.perf_counter() - started
    counts = listed.group_by("district").len().sort("len", descending=True)
    district, rows = counts.row(0)
    rare = sorted(
        {c for n in listed.filter(pl.col("district") == district)["name"] for c in n if not _gb2312(c)}
    )
    times, cpu = [], []
    data = b""
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        data = publicity_list_pdf(notice, district)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    t0 = time.perf_counter()
    doc = publicity_list_document(notice=notice, district=district, actor="bench")
    keep_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = document_keep(key=doc.key, render=lambda: b"", actor="bench")
    served_s = time.perf_counter() - t0
    assert bytes(again.content) == bytes(doc.content)
    out = HERE / "out" / f"publicity-{district}.pdf"
    out.write_bytes(data)
    pages = int(
        next(
            line.split()[-1]
            for line in subprocess.run(
                ["pdfinfo", str(out)], capture_output=True, text=True
            ).stdout.splitlines()
            if line.startswith("Pages:")
        )
    )
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout.splitlines()[2:]
    return {
        "units": units,
        "listed": listed.height,
        "district": district,
        "rows": rows,
        "rare": "".join(rare[:12]),
        "rare_count": len(rare),
        "fill_s": fill_s,
        "render_s": times,
        "render_cpu_s": cpu,
        "keep_s": keep_s,
        "served_s": served_s,
        "pages": pages,
        "bytes": len(data),
        "fonts": [" ".join(f.split()[:2]) + " emb/sub " + "/".join(f.split()[-5:-3]) for f in fonts],
        "pdf": str(out),
    }


def _gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return ord(ch) < 0x3000
    return True


def letters_part() -> dict[str, object]:
    _setup(LETTER_DB)
    sys.path.insert(0, str(ROOT))
    from tests.backoffice.payworld import build_payments
    from tests.backoffice.world import build

    from mianshen.cases.models import Case
    from mianshen.reports.letters import letter_document, letters_available

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        world = build(Path(tmp) / "city")
        build_payments(world, Path(tmp) / "bank")
        build_s = time.perf_counter() - t0
    cold: dict[str, list[float]] = {}
    cold_cpu: dict[str, list[float]] = {}
    warm: list[float] = []
    sizes: list[int] = []
    for case in Case.objects.order_by("pk"):
        for kind in letters_available(case):
            for lang in ("zh", "en"):
                t0, c0 = time.perf_counter(), time.process_time()
                doc = letter_document(case=case, kind=kind, lang=lang, actor="bench")
                cold.setdefault(f"{kind} ({lang})", []).append(time.perf_counter() - t0)
                cold_cpu.setdefault(f"{kind} ({lang})", []).append(time.process_time() - c0)
                sizes.append(doc.size)
                t0 = time.perf_counter()
                letter_document(case=case, kind=kind, lang=lang, actor="bench")
                warm.append(time.perf_counter() - t0)
    return {"build_s": build_s, "cold": cold, "cold_cpu": cold_cpu, "warm": warm, "sizes": sizes}


FIRST = """
import os, sys, time
t0 = time.perf_counter()
import django
django.setup()
from mianshen.cases.models import Case
from mianshen.reports.letters import letter_facts, letter_pdf
case = next(c for c in Case.objects.filter(state="paid").order_by("pk"))
t1 = time.perf_counter()
letter_pdf(letter_facts(case, "paid"))
print(time.perf_counter() - t1)
"""


def first_letter(empty_cache: bool) -> float:
    """A fresh process's first letter (rendered, not kept), with the font cache as it is or empty."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="mianshen.settings",
               MIANSHEN_DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{LETTER_DB}",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))  # fmt: skip
    with tempfile.TemporaryDirectory() as cache:
        if empty_cache:
            env["MIANSHEN_FONT_CACHE"] = cache
        out = subprocess.run(
            [sys.executable, "-c", FIRST], env=env, capture_output=True, text=True, check=True
        )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=441_300)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--part", choices=["list", "letters"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "src"), str(HERE)]
    if args.part:  # a child: one database per process
        import json

        result = list_part(args.units, args.runs) if args.part == "list" else letters_part()
        print("RESULT " + json.dumps(result, default=str))
        return 0
    import json

    from benchlib import append_results, command_line, machine, machine_line

    info = machine()
    found: dict[str, dict[str, object]] = {}
    for part in ("letters", "list"):
        argv = [sys.executable, str(Path(__file__)), "--part", part, "--units", str(args.units), "--runs",
                str(args.runs)]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ))
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        found[part] = json.loads(done.stdout.strip().splitlines()[-1].removeprefix("RESULT "))
        if part == "letters":
            found[part]["first_process"] = first_letter(empty_cache=False)
            found[part]["first_empty_cache"] = first_letter(empty_cache=True)
    for db in (LIST_DB, LETTER_DB):
        _psql(f"DROP DATABASE IF EXISTS {db}")
    lst, let = found["list"], found["letters"]
    load_after = os.getloadavg()
    render = [float(x) for x in lst["render_s"]]  # type: ignore[attr-defined]
    render_cpu = [float(x) for x in lst["render_cpu_s"]]  # type: ignore[attr-defined]
    lines = [
        f"### PDF documents: the publicity list of the largest district of a {args.units:,}-unit city, and the "
        f"letters to units (PostgreSQL, {info['date_utc']})",
        "",
        f"- machine: {machine_line(info)}; load average after: {load_after[0]:.2f} / {load_after[1]:.2f} / "
        f"{load_after[2]:.2f} — the machine is shared with other sessions, so these are upper bounds",
        f"- command: `{command_line()}`",
        f"- list: {lst['listed']:,} units with a payable decision written as one notice ({float(lst['fill_s']):.0f} s "  # type: ignore[arg-type]
        f"incl. generate/validate/screen/COPY); the largest district {lst['district']}: {int(lst['rows']):,} rows, "  # type: ignore[call-overload]
        f"{lst['pages']:,} A4 pages, {int(lst['bytes']) / 1e6:.1f} MB; characters outside GB2312 in its names: "  # type: ignore[call-overload]
        f"{lst['rare_count']} ({lst['rare']}…); fonts: {'; '.join(lst['fonts'])}",  # type: ignore[arg-type]
        "",
        "Seconds are wall-clock; CPU seconds are this Python process's own (the database's work is not in them):",
        "",
        "| step | seconds | CPU s | target |",
        "|---|---:|---:|---:|",
        *[
            f"| list {lst['district']}: read + draw, run {i + 1} | {t:.1f} | {c:.1f} | ≤ 30 |"
            for i, (t, c) in enumerate(zip(render, render_cpu, strict=True))
        ],
        f"| list: keep (render + store + audit event) | {float(lst['keep_s']):.1f} | | |",  # type: ignore[arg-type]
        f"| list: served again (the kept bytes) | {float(lst['served_s']):.3f} | | |",  # type: ignore[arg-type]
        f"| first letter of a fresh process (font shards cached; incl. importing fpdf2 and fontTools, once per "
        f"process) | {float(let['first_process']):.2f} | | |",  # type: ignore[arg-type]
        f"| first letter with an empty font cache (the shards it needs cut first) | "
        f"{float(let['first_empty_cache']):.2f} | | once per machine |",  # type: ignore[arg-type]
        "",
        f"Letters over the back office's test city (built in {float(let['build_s']):.0f} s), each asked for once "  # type: ignore[arg-type]
        "(rendered and kept) and again (served):",
        "",
        "| letter | n | median s | max s | median CPU s | max CPU s | target |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, values in sorted(let["cold"].items()):  # type: ignore[attr-defined]
        c = let["cold_cpu"][label]  # type: ignore[index]
        lines.append(f"| {label} | {len(values)} | {statistics.median(values):.3f} | {max(values):.3f} | "
                     f"{statistics.median(c):.3f} | {max(c):.3f} | ≤ 1 |")  # fmt: skip
    warm = let["warm"]
    lines.append(
        f"| served again (all) | {len(warm)} | {statistics.median(warm):.4f} | {max(warm):.4f} | | | |"
    )  # type: ignore[arg-type]
    lines.append(f"\nLetter sizes: {min(let['sizes']) / 1000:.0f}–{max(let['sizes']) / 1000:.0f} kB.\n")  # type: ignore[type-var, operator]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        append_results(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
