"""Benchmark: the public list's searches (/publicity/ and /api/publicity) over a 441,300-unit notice on PostgreSQL.

Fills a scratch database (migrated; 441,300 publicised cases and their notice lines written with COPY, not
through ``notice_open``: the reads are measured here, not the opening), then requests each kind of search
through Django's test client in this process (URL routing, view, template, database: everything but a socket)
``--runs`` times, and reports the median, p95 and p99 latency and the plan PostgreSQL chose for the list query
(index or sequential scan). ``--record`` appends the table to bench/RESULTS.md. The scratch database is dropped
after.

    .venv/bin/python bench/portal_publicity.py [--units 441300] [--runs 200] [--record]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DB = "mianshen_bench_portal"
URL = f"postgresql://postgres@127.0.0.1:5432/{DB}"
WORDS = [
    "星光",
    "晨曦",
    "华夏",
    "远大",
    "新兴",
    "东方",
    "中科",
    "天成",
    "金桥",
    "恒信",
    "博雅",
    "瑞丰",
    "安泰",
    "鼎盛",
    "海纳",
    "和谐",
    "宏图",
    "嘉禾",
    "锦程",
    "凯旋",
]
TRADES = [
    "科技",
    "餐饮管理",
    "商贸",
    "建筑工程",
    "物业管理",
    "信息技术",
    "文化传媒",
    "律师事务所",
    "医疗器械",
    "物流",
]
DISTRICTS = ["110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111", "110112", "110113",
             "110114", "110115", "110116", "110117", "110118", "110119"]  # fmt: skip


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True)


def credit_code(i: int) -> str:
    return f"91{DISTRICTS[i % 16]}MA{i:08d}{i % 10}"[:18]


def fill(units: int) -> None:
    from django.utils import timezone

    from mianshen.cases.models import Case, Notice, NoticeEntry
    from mianshen.cases.services import mask_credit_code
    from mianshen.core.bulkdb import insert_rows

    rng = random.Random(1)
    now = timezone.now()
    rows, lines = [], []
    for i in range(1, units + 1):
        name = f"北京{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.choice(TRADES)}有限公司{i}"
        code = credit_code(i)
        amount = rng.randrange(10_000, 50_000_000)
        district = DISTRICTS[i % 16]
        rows.append((i, "beijing-2021", f"U{i:08d}", code, name, district, "publicised", amount, "eligible",
                     "", False, now, now, 1))  # fmt: skip
        lines.append((i, 1, i, name, mask_credit_code(code), amount, district))
    notice = Notice.objects.create(policy_id="beijing-2021", title="基准公示", opened_by="bench",
                                   starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=6))  # fmt: skip
    assert notice.pk == 1
    insert_rows(Case, ("id", "policy_id", "unit_id", "credit_code", "unit_name", "district", "state", "amount_fen",
                       "decision", "reason", "key_supervision", "opened_at", "updated_at", "version"), rows)  # fmt: skip
    insert_rows(NoticeEntry, ("id", "notice_id", "case_id", "unit_name", "masked_credit_code", "amount_fen",
                              "district"), lines)  # fmt: skip
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_case; ANALYZE cases_noticeentry")


def plan(q: str, district: str) -> str:
    """The scan PostgreSQL chooses for the page query of this search (the node types, outermost first)."""
    from django.db import connection

    from mianshen.portal.selectors import _entries

    query = _entries([1], q, district).order_by("id").values_list("id")[:21]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        text = [r[0] for r in cursor.fetchall()]
    nodes = [
        line.strip().lstrip("-> ").split("  ")[0] for line in text if "Scan" in line or "BitmapOr" in line
    ]
    return "; ".join(
        dict.fromkeys(
            n.split(" on ")[0] + (" " + n.split(" using ")[1].split(" on ")[0] if " using " in n else "")
            for n in nodes
        )
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=441_300)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--record", action="store_true")
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (and reuse it next time)"
    )
    args = parser.parse_args()
    sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]
    from benchlib import append_results, command_line, machine, machine_line

    info = machine()
    os.environ["MIANSHEN_DATABASE_URL"] = URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mianshen.settings")
    exists = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-qc", "select 1"],
                            capture_output=True).returncode == 0  # fmt: skip
    if not (exists and args.keep):
        _psql(f"DROP DATABASE IF EXISTS {DB}")
        _psql(f"CREATE DATABASE {DB}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from mianshen.cases.models import NoticeEntry

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    if not NoticeEntry.objects.exists():
        fill(args.units)
    fill_s = time.perf_counter() - started
    units = NoticeEntry.objects.count()
    sample = credit_code(units // 2)
    searches = [
        ("the list, page 1", "/publicity/", {}),
        ("the list, page 1000", "/publicity/", {"page": "1000"}),
        ("district", "/publicity/", {"district": "110108"}),
        ("name fragment, common (科技)", "/publicity/", {"q": "科技"}),
        ("name fragment, 4 characters (星光晨曦)", "/publicity/", {"q": "星光晨曦"}),
        ("name fragment, rare (有限公司220650)", "/publicity/", {"q": "有限公司220650"}),
        ("name fragment + district", "/publicity/", {"q": "星光", "district": "110105"}),
        ("code: first 6", "/publicity/", {"q": sample[:6]}),
        ("code: last 4", "/publicity/", {"q": sample[-4:]}),
        ("code: exact full code", "/publicity/", {"q": sample}),
        ("no match (name)", "/publicity/", {"q": "不存在的单位名称"}),
        ("API: name fragment", "/api/publicity", {"q": "星光"}),
    ]
    client = Client(HTTP_HOST="localhost")
    table = []
    for label, path, params in searches:
        assert client.get(path, params).status_code == 200, label  # warm
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            response = client.get(path, params)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        how = plan(params.get("q", ""), params.get("district", "")) if path == "/publicity/" else ""
        table.append((label, statistics.median(times), percentile(times, 95), percentile(times, 99), how))
        print(
            f"{label:45} p50 {table[-1][1]:7.1f} ms  p95 {table[-1][2]:7.1f}  p99 {table[-1][3]:7.1f}  {how}"
        )
    csv_started = time.perf_counter()
    streamed = b"".join(client.get("/publicity/download.csv", {"district": "110108"}).streaming_content)  # type: ignore[attr-defined]
    csv_s = time.perf_counter() - csv_started
    lines = streamed.count(b"\n") - 1
    if not args.keep:
        from django.db import connections

        connections.close_all()
        _psql(f"DROP DATABASE IF EXISTS {DB}")
    rows = "\n".join(
        f"| {label} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {how} |" for label, p50, p95, p99, how in table
    )
    markdown = f"""### portal publicity: search over {units:,} notice lines on PostgreSQL ({info["date_utc"]})

- machine: {machine_line(info)}
- command: `{command_line()}`
- data: {units:,} publicised cases and notice lines written with COPY ({fill_s:.0f} s incl. migrate; 0 s when reused);
  each search requested {args.runs} times in-process through Django's test client (routing, view, template,
  database; no socket), after one warm-up request
- CSV download of one district ({lines:,} lines): {csv_s:.2f} s

| search | p50 ms | p95 ms | p99 ms | plan (page query) |
|---|---:|---:|---:|---|
{rows}
"""
    print(markdown)
    if args.record:
        append_results(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
