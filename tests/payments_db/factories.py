"""Approved cases with accounts on file, a simulator wired to the exchange folder, and officers.

Cases are created directly in ``approved`` (as the cases app leaves them after the last comparison), each with
its unit's bank account in a registry snapshot. Account numbers encode what the simulated bank does with them:
``fate_of`` reads the last two digits (01 → AC01 wrong, 04 → AC04 closed, 06 → BE01 name mismatch).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from mianshen.cases.models import Case
from mianshen.cases.states import State
from mianshen.payments.models import BankFile
from mianshen.payments.services.channel import FolderChannel
from mianshen.payments.services.common import bank_registry_load_defaults
from mianshen.payments.services.ingest import IngestResult
from mianshen.payments.services.recovery import AccountInput
from mianshen.registry.models import BankAccount, Snapshot, Unit
from mianshen_banksim import BankProfile, BankSimulator

POLICY = "beijing-2021"
MON = date(2026, 11, 30)  # a Monday
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]
MIANSHEN = Path(sys.executable).with_name("mianshen")
FATES = {"01": "AC01", "04": "AC04", "06": "BE01"}
# quiet banks: no random blocks or returns unless a test asks for them
QUIET = {
    code: BankProfile(code, blocked_per_mille=0, return_per_mille=0) for code in ("102", "105", "308", "403")
}
QUIET["313"] = BankProfile("313", reports_only_rejects=True, blocked_per_mille=0, return_per_mille=0)
QUIET["314"] = BankProfile("314", reports_only_rejects=True, blocked_per_mille=0, return_per_mille=0)


def subprocess_database_url() -> str:
    """The test database as a ``MIANSHEN_DATABASE_URL``, for a real ``mianshen`` process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def command_env(bank_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a real ``mianshen`` process on the test database and this exchange folder."""
    return os.environ | {
        "MIANSHEN_DATABASE_URL": subprocess_database_url(),
        "MIANSHEN_BANK_DIR": str(bank_dir),
        **extra,
    }


def uscc(n: int) -> str:
    body = f"9111010{n:010d}"[-17:]
    body = "91" + body[2:]
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, WEIGHTS, strict=True))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def fate_of(account_no: str) -> str | None:
    return FATES.get(account_no[-2:]) if account_no.startswith("62") else None


def account_no(bank: str, n: int, fate: str = "") -> str:
    """A good account ends in 00/1x…; ``fate`` "AC01"/"AC04"/"BE01" gives one the simulator rejects."""
    tail = {"AC01": "01", "AC04": "04", "BE01": "06"}.get(fate, "00")
    return f"62{bank}{n:09d}{tail}"


def snapshot() -> Snapshot:
    return Snapshot.objects.create(
        content_hash=uuid.uuid4().hex + uuid.uuid4().hex, source="tests", extracted_on=date(2021, 6, 30)
    )


def later_drop(accounts: Mapping[str, AccountInput | None]) -> Snapshot:
    """A data drop imported now carrying these units' accounts on file (the unit fixed its account at the
    social-insurance office); ``None``: the unit is listed without an account."""
    snap = snapshot()
    rows, bare = [], []
    for line, (unit_id, a) in enumerate(sorted(accounts.items()), start=2):
        if a is None:
            bare.append(Unit(snapshot=snap, line=line, unit_id=unit_id, credit_code=uscc(line), name="某单位",
                             unit_type="enterprise", industry="65", district="110105", dispatch=False))  # fmt: skip
        else:
            rows.append(BankAccount(snapshot=snap, line=line, unit_id=unit_id, bank_code=a.bank_code,
                                    branch_code=a.branch_code, account_no=a.account_no,
                                    account_name=a.account_name))  # fmt: skip
    BankAccount.objects.bulk_create(rows)
    Unit.objects.bulk_create(bare)
    return snap


def approved_cases(
    n: int,
    *,
    banks: Sequence[str] = ("102", "313"),
    fates: dict[int, str] | None = None,
    amount: int | None = None,
    start: int | None = None,
    snap: Snapshot | None = None,
    account: bool = True,
) -> list[Case]:
    """``n`` approved cases; case i is at ``banks[i % len(banks)]``; ``fates`` {i: "AC01"} makes bad accounts."""
    bank_registry_load_defaults()
    snap = snap or snapshot()
    base = start if start is not None else Case.objects.count() * 7 + 1000 + uuid.uuid4().int % 10_000_000
    cases, accounts = [], []
    for i in range(n):
        k = base + i
        bank = banks[i % len(banks)]
        name = f"北京第{k}号科技有限公司"
        cases.append(
            Case(
                policy_id=POLICY,
                unit_id=f"U{k:09d}",
                credit_code=uscc(k),
                unit_name=name,
                district="110105",
                state=State.APPROVED,
                amount_fen=amount if amount is not None else 10_000 + 137 * i,
                decision="eligible",
            )
        )
        if account:
            accounts.append(
                BankAccount(
                    snapshot=snap,
                    line=i + 2,
                    unit_id=f"U{k:09d}",
                    bank_code=bank,
                    branch_code=f"{bank}100000{i % 1000:03d}",
                    account_no=account_no(bank, k, (fates or {}).get(i, "")),
                    account_name=name,
                )
            )
    created = Case.objects.bulk_create(cases)
    BankAccount.objects.bulk_create(accounts)
    return created


def simulator(root: Path, *, seed: int = 7, profiles: dict[str, BankProfile] | None = None,
              day: date = MON) -> BankSimulator:  # fmt: skip
    return BankSimulator(root, seed=seed, business_date=day, profiles=profiles or QUIET, fate=fate_of)


def channel(root: Path) -> FolderChannel:
    return FolderChannel(root)


def uploaded(n: int, *, root: Path, banks: Sequence[str] = ("102",), fates: dict[int, str] | None = None,
             actor: str = "system:test") -> list[BankFile]:  # fmt: skip
    """``n`` approved cases released, frozen into files and handed over (to the folder under ``root``)."""
    from mianshen.payments.services.bankfiles import bank_files_build, bank_files_upload_pending
    from mianshen.payments.services.instructions import payments_release

    approved_cases(n, banks=banks, fates=fates)
    payments_release(actor=actor)
    files = bank_files_build(actor=actor, today=MON, later_batch=True)
    bank_files_upload_pending(actor=actor, channel=FolderChannel(root), today=MON)
    return list(BankFile.objects.filter(pk__in=[f.pk for f in files]).order_by("bank_id"))


def ingest(
    data: bytes, *, name: str = "answer.xml", bank: str = "", actor: str = "system:test"
) -> IngestResult:
    from mianshen.payments.services.ingest import inbound_file_ingest

    return inbound_file_ingest(data=data, name=name, actor=actor, bank_code=bank)
