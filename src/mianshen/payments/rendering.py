"""Render one bank file from plain rows (pure; no Django): what ``bank_files_build`` runs for each bank, in
worker processes when a batch is large. The rows are the frozen snapshot; the bytes are a pure function of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from .formats.pain001 import render_pain001, sha256_hex
from .formats.types import BankFile, CreditTransfer, PaymentBlock

# (EndToEndId, amount fen, creditor name, creditor account, creditor branch code, remittance)
TransferRow = tuple[str, int, str, str, str, str]


@dataclass(frozen=True, slots=True)
class FileJob:
    msg_id: str
    pmt_inf_id: str
    created_at: datetime
    execution_date: date
    initiating_party: str
    debtor_name: str
    debtor_account: str
    debtor_branch_code: str
    rows: Sequence[TransferRow]


def snapshot(job: FileJob) -> BankFile:
    transfers = tuple(
        CreditTransfer(
            end_to_end_id=e2e,
            amount_fen=amount,
            creditor_name=name,
            creditor_account=account,
            creditor_branch_code=branch,
            remittance=remittance,
        )
        for e2e, amount, name, account, branch, remittance in job.rows
    )
    block = PaymentBlock(
        pmt_inf_id=job.pmt_inf_id,
        execution_date=job.execution_date,
        debtor_name=job.debtor_name,
        debtor_account=job.debtor_account,
        debtor_branch_code=job.debtor_branch_code,
        transfers=transfers,
    )
    return BankFile(
        msg_id=job.msg_id, created_at=job.created_at, initiating_party=job.initiating_party, blocks=(block,)
    )


def render(job: FileJob) -> tuple[str, bytes, str]:
    """``(msg_id, bytes, sha256)``: the file validated against the official XSD (``SchemaInvalid`` if not)."""
    data = render_pain001(snapshot(job), validate=True)
    return job.msg_id, data, sha256_hex(data)
