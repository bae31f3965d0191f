"""Benchmark the bank files: build + XSD-validate pain.001 for N payments, parse + apply N pain.002 status lines.

    .venv/bin/python bench/payments_files.py                       # 450,000 payments, 18 banks
    .venv/bin/python bench/payments_files.py --payments 45000 --camt

No database: this times the pure formats layer (``mianshen.payments.formats``) that the services call.

1. **build**: per bank a frozen ``BankFile`` snapshot (one ``PmtInf``, Chinese names, integer fen), then
   ``render_pain001`` (tree, validation of the tree against the official pain.001.001.09 XSD, serialisation) and
   the SHA-256 that is stored with the file. Snapshot construction (what the row selection produces) is timed
   separately from rendering. Target (design.md §4): <= 60 s for 450,000 payments.
2. **apply**: one pain.002.001.12 per bank answering every line (about 3 % RJCT with reason codes, the rest
   ACSC; generated untimed), then ``parse_pain002`` (safe parse, namespace, XSD, extraction) and an in-memory
   apply: per line ``status_move`` against the held status, ``action_for`` the reason codes of rejects.
   Target: <= 60 s for 450,000 lines.
3. with ``--camt``: one camt.054.001.08 per bank booking every settled payment, parsed and matched by
   EndToEndId (not a design target; reported for information).
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from mianshen.payments.formats import (
    AccountNotification,
    BankFile,
    CreditTransfer,
    Entry,
    EntryTransaction,
    Notification,
    PaymentBlock,
    PaymentBlockStatus,
    StatusReason,
    StatusReport,
    TransactionStatus,
    parse_camt054,
    parse_pain002,
    remittance_text,
    render_camt054,
    render_pain001,
    render_pain002,
)
from mianshen.payments.reasons import StatusMove, action_for, status_move

BANKS = ("102", "103", "104", "105", "301", "302", "303", "304", "305", "306", "307", "308", "309", "310", "313",
         "314", "402", "403")  # fmt: skip
CST = timezone(timedelta(hours=8))
SURNAMES = "北京华兴瑞丰泰达恒信博远中科天成金盛鼎立新宇安顺永和嘉禾"
KINDS = (
    "科技有限公司",
    "餐饮管理有限公司",
    "商贸有限责任公司",
    "建筑工程有限公司",
    "文化传媒有限公司",
    "信息技术服务中心",
)
REJECT_CODES = ("AC01", "AC04", "AC06", "BE01", "AM05")


def snapshots(n: int, banks: tuple[str, ...], seed: int) -> list[BankFile]:
    rnd = random.Random(seed)
    per_bank = [n // len(banks) + (1 if i < n % len(banks) else 0) for i in range(len(banks))]
    files = []
    serial = 0
    for bank, count in zip(banks, per_bank, strict=True):
        transfers = []
        for _ in range(count):
            serial += 1
            name = (
                "北京" + "".join(rnd.choice(SURNAMES) for _ in range(rnd.randint(2, 6))) + rnd.choice(KINDS)
            )
            transfers.append(
                CreditTransfer(
                    end_to_end_id=f"E2E-2026-{serial:010d}",
                    amount_fen=rnd.randint(10_000, 2_000_000),
                    creditor_name=name,
                    creditor_account=f"{bank}{rnd.randrange(10**15):015d}",
                    creditor_branch_code=f"{bank}1000{rnd.randrange(10**5):05d}",
                    remittance=remittance_text(f"C2026-{serial:08d}", "91110108MA01ABCD2X"),
                )
            )
        files.append(
            BankFile(
                msg_id=f"MS-20261130-{bank}-0001",
                created_at=datetime(2026, 11, 30, 9, 0, tzinfo=CST),
                initiating_party="北京市人力资源和社会保障局",
                blocks=(
                    PaymentBlock(
                        pmt_inf_id=f"PI-20261130-{bank}-0001",
                        execution_date=date(2026, 12, 1),
                        debtor_name="北京市社会保险基金管理中心",
                        debtor_account=f"1100{bank}00000000001",
                        debtor_branch_code=f"{bank}100000001",
                        transfers=tuple(transfers),
                    ),
                ),
            )
        )
    return files


def status_file(bank_file: BankFile, rnd: random.Random) -> bytes:
    lines = []
    for tx in bank_file.transfers():
        if rnd.random() < 0.03:
            lines.append(
                TransactionStatus(tx.end_to_end_id, "RJCT", (StatusReason(rnd.choice(REJECT_CODES)),))
            )
        else:
            lines.append(TransactionStatus(tx.end_to_end_id, "ACSC"))
    block = bank_file.blocks[0]
    report = StatusReport(
        msg_id=f"STS-{bank_file.msg_id}",
        created_at=datetime(2026, 12, 1, 17, tzinfo=CST),
        original_msg_id=bank_file.msg_id,
        group_status="PART",
        blocks=(PaymentBlockStatus(block.pmt_inf_id, "PART", (), tuple(lines)),),
        original_nb_of_txs=bank_file.nb_of_txs,
        original_ctrl_sum_fen=bank_file.ctrl_sum_fen,
    )
    return render_pain002(report, validate=False)


def booking_file(bank_file: BankFile) -> bytes:
    block = bank_file.blocks[0]
    entries = tuple(
        Entry(
            amount_fen=tx.amount_fen,
            credit_debit="DBIT",
            status="BOOK",
            booking_date=block.execution_date,
            entry_ref=str(i),
            bank_tx_code=("PMNT", "ICDT", "DMCT"),
            transactions=(EntryTransaction(tx.end_to_end_id, tx.amount_fen, "DBIT", bank_file.msg_id),),
        )
        for i, tx in enumerate(block.transfers, start=1)
    )
    at = datetime(2026, 12, 1, 20, tzinfo=CST)
    ntf = AccountNotification(f"N-{bank_file.msg_id}", block.debtor_account, entries, at)
    return render_camt054(Notification(f"N-{bank_file.msg_id}", at, (ntf,)), validate=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=450_000)
    parser.add_argument("--banks", type=int, default=len(BANKS), choices=range(1, len(BANKS) + 1))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--camt", action="store_true", help="also parse camt.054 bookings for every payment")
    args = parser.parse_args()
    banks = BANKS[: args.banks]
    print(
        f"python {platform.python_version()} on {platform.machine()}, {args.payments:,} payments, {len(banks)} banks"
    )

    t0 = time.perf_counter()
    files = snapshots(args.payments, banks, args.seed)
    t1 = time.perf_counter()
    rendered = [render_pain001(f) for f in files]  # validates each tree against the XSD
    digests = [hashlib.sha256(data).hexdigest() for data in rendered]
    t2 = time.perf_counter()
    size = sum(len(d) for d in rendered)
    print(f"1. snapshots            {t1 - t0:7.2f} s  (generated and validated by the frozen dataclasses)")
    print(f"   render+validate+hash {t2 - t1:7.2f} s  ({len(digests)} files, {size / 1e6:,.0f} MB)")
    print(f"   build total          {t2 - t0:7.2f} s  (target <= 60 s)")
    del rendered

    rnd = random.Random(args.seed)
    reports = [status_file(f, rnd) for f in files]
    held = {tx.end_to_end_id: "ACSP" for f in files for tx in f.transfers()}
    t3 = time.perf_counter()
    moves: Counter[StatusMove] = Counter()
    actions: Counter[str] = Counter()
    unmatched = 0
    for data in reports:
        report = parse_pain002(data)
        for _, line in report.transactions():
            key = line.original_end_to_end_id or ""
            current = held.get(key)
            if current is None:
                unmatched += 1
                continue
            move = status_move(current, line.status)
            moves[move] += 1
            if move is StatusMove.ADVANCE:
                held[key] = line.status or current
                if line.status == "RJCT":
                    actions[action_for(line.reason_codes).value] += 1
    t4 = time.perf_counter()
    lines = sum(moves.values()) + unmatched
    print(f"2. parse+apply pain.002 {t4 - t3:7.2f} s  ({lines:,} lines; target <= 60 s)")
    print(
        f"   moves {dict(sorted((k.value, v) for k, v in moves.items()))}, rejects {dict(sorted(actions.items()))}"
    )

    if args.camt:
        bookings = [booking_file(f) for f in files]
        t5 = time.perf_counter()
        booked_fen = 0
        matched = 0
        for data in bookings:
            for _, entry, tx in parse_camt054(data).lines():
                if tx is not None and tx.end_to_end_id in held and entry.is_booked:
                    matched += 1
                    booked_fen += entry.amount_fen
        t6 = time.perf_counter()
        print(f"3. parse camt.054       {t6 - t5:7.2f} s  ({matched:,} bookings, {booked_fen // 100:,} yuan)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
