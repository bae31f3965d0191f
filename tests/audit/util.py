"""Helpers for the audit tests: append events, tamper in the database, run `audit verify`."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command
from django.db import connection

from mianshen.audit.catalogue import Action
from mianshen.audit.models import AuditEvent
from mianshen.audit.services import audit_record


def record_many(n: int, *, prefix: str = "case") -> list[AuditEvent]:
    """``n`` events about ``n`` cases, with Chinese text and nested values."""
    return [
        audit_record(
            actor=f"审核员{i % 3}",
            actor_id=i % 3 or None,
            action=Action.CASE_TRANSITION,
            obj_type=prefix,
            obj_id=f"C-{i:04d}",
            before={"state": "eligible", "amount_fen": 1000 + i},
            after={"state": "approved", "amount_fen": 1000 + i, "notes": ["复核通过", {"第": i}]},
            reason=f"第{i}次复核: 符合条件",
        )
        for i in range(1, n + 1)
    ]


def sql(statement: str, params: list[Any] | None = None) -> None:
    """Run raw SQL on the test database (``%s`` placeholders)."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def hash_of(seq: int) -> str:
    return str(AuditEvent.objects.values_list("hash", flat=True).get(seq=seq))


def id_of(seq: int) -> int:
    return int(AuditEvent.objects.values_list("id", flat=True).get(seq=seq))


def run_verify(*args: str) -> tuple[int, str]:
    """``mianshen audit verify --quiet ARGS`` in-process: (exit status, stdout)."""
    out = io.StringIO()
    try:
        call_command("audit", "verify", "--quiet", *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()
