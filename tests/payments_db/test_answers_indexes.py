"""The instruction table's indexes after ``0013_answers_partial_reissue_index``: a failed attempt is still
re-issued at most once (the same refusal as the one-to-one field's constraint), while on PostgreSQL the index
behind it holds only the re-issues, not an entry for every instruction."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction

from mianshen.payments.models import Instruction

from .factories import uploaded

pytestmark = pytest.mark.django_db


def test_a_failed_attempt_is_reissued_at_most_once(tmp_path: Path) -> None:
    [bf] = uploaded(3, root=tmp_path)
    failed, first, second = Instruction.objects.filter(bank_file=bf).order_by("pk")
    Instruction.objects.filter(pk=first.pk).update(replaces_id=failed.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Instruction.objects.filter(pk=second.pk).update(replaces_id=failed.pk)
    assert Instruction.objects.get(pk=failed.pk).reissue.pk == first.pk
    # any number of instructions replace nothing
    assert Instruction.objects.filter(replaces__isnull=True).count() == 2


def test_postgresql_keeps_only_the_reissues_in_the_index(tmp_path: Path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps the one-to-one field's unique constraint")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'payments_instruction' AND indexdef LIKE %s",
            ["%(replaces_id)%"],
        )
        [(definition,)] = cursor.fetchall()
    assert "UNIQUE" in definition and "WHERE (replaces_id IS NOT NULL)" in definition


def test_postgresql_leaves_room_on_instruction_pages_for_in_place_rewrites() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no fillfactor")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'payments_instruction'")
        [(options,)] = cursor.fetchall()
    assert "fillfactor=70" in options
