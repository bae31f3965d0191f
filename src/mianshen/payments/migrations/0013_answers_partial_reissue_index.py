"""PostgreSQL: the uniqueness of ``Instruction.replaces`` (a failed attempt is re-issued at most once) kept by a
partial unique index over the few re-issues instead of the one-to-one field's unique constraint over every row.

The guarantee is the same (a unique index never compares NULLs, so only the set ``replaces_id`` values were ever
checked), but the constraint held one entry per instruction: 441,300 NULLs, and an entry written again whenever an
instruction's row is rewritten (a status never changes without the row getting new index entries: ``status`` is
in partial indexes' predicates, so no update is HOT). The bank's answers rewrite each instruction 2–3 times.
Django's model state is unchanged (a one-to-one field); SQLite keeps its unique constraint."""

from django.db import migrations

FORWARD = (
    "ALTER TABLE payments_instruction DROP CONSTRAINT IF EXISTS payments_instruction_replaces_id_key",
    "CREATE UNIQUE INDEX IF NOT EXISTS payments_instruction_replaces_id_key ON payments_instruction (replaces_id) "
    "WHERE replaces_id IS NOT NULL",
)
BACKWARD = (
    "DROP INDEX IF EXISTS payments_instruction_replaces_id_key",
    "ALTER TABLE payments_instruction ADD CONSTRAINT payments_instruction_replaces_id_key UNIQUE (replaces_id)",
)


def _run(statements):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("payments", "0012_pages")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
