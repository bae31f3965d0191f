"""Builders shared by the bank-format tests (no database anywhere in tests/payments)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from mianshen.payments.formats.types import BankFile, CreditTransfer, PaymentBlock, remittance_text

FIXTURES = Path(__file__).parent / "fixtures"
CST = timezone(timedelta(hours=8))
FUND_NAME = "北京市社会保险基金管理中心"
AGENCY = "北京市人力资源和社会保障局"
CJK = "北京上海科技有限公司责任餐饮管理服务中心贸易发展建设工程咨询文化传媒网络信息技术研究院（）·&<>'\""


def branch(bank: str, n: int = 0) -> str:
    return f"{bank}1000{n % 10000:04d}1"


def transfer(
    i: int, *, bank: str = "102", amount_fen: int | None = None, name: str | None = None
) -> CreditTransfer:
    return CreditTransfer(
        end_to_end_id=f"E2E-{bank}-{i:010d}",
        amount_fen=amount_fen if amount_fen is not None else 10_000 + i,
        creditor_name=name or f"北京第{i}号科技有限公司",
        creditor_account=f"6222{int(bank):03d}{i:012d}",
        creditor_branch_code=branch(bank, i),
        remittance=remittance_text(f"C2026-{i:08d}", "91110108MA01ABCD2X"),
    )


def bank_file(
    n: int = 3,
    *,
    bank: str = "102",
    msg_id: str | None = None,
    execution_date: date = date(2026, 12, 1),
    start: int = 0,
    blocks: int = 1,
) -> BankFile:
    txs = [transfer(start + i, bank=bank) for i in range(n)]
    per = max(1, -(-n // blocks))
    parts = [tuple(txs[k : k + per]) for k in range(0, n, per)]
    return BankFile(
        msg_id=msg_id or f"MS-20261130-{bank}-{start:06d}",
        created_at=datetime(2026, 11, 30, 9, 0, tzinfo=CST),
        initiating_party=AGENCY,
        blocks=tuple(
            PaymentBlock(
                pmt_inf_id=f"PI-{bank}-{start:06d}-{k}",
                execution_date=execution_date,
                debtor_name=FUND_NAME,
                debtor_account=f"1100{bank}0000000001",
                debtor_branch_code=branch(bank),
                transfers=part,
            )
            for k, part in enumerate(parts)
        ),
    )


def random_bank_file(rnd: random.Random, n: int) -> BankFile:
    """A large file from a seeded generator (hypothesis draws only the size and the seed)."""

    def name() -> str:
        return "".join(rnd.choice(CJK) for _ in range(rnd.randint(1, 140)))

    txs = tuple(
        CreditTransfer(
            end_to_end_id=f"E-{i:08d}-{rnd.randrange(10**10):010d}",
            amount_fen=rnd.randint(1, 9_999_999_999),
            creditor_name=name(),
            creditor_account=str(rnd.randrange(10**11, 10**19)),
            creditor_branch_code=f"{rnd.choice(['102', '105', '313', '403'])}{rnd.randrange(10**9):09d}",
            remittance=remittance_text(f"C{i}", "91110108MA01ABCD2X"),
        )
        for i in range(n)
    )
    return BankFile(
        msg_id=f"MS-{rnd.randrange(10**12)}",
        created_at=datetime(2026, 11, 30, 9, 0, tzinfo=CST),
        initiating_party=AGENCY,
        blocks=(PaymentBlock("PI-1", date(2026, 12, 1), FUND_NAME, "1100102000001", branch("102"), txs),),
    )
