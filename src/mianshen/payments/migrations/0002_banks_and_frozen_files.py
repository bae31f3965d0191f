"""Seed the bank registry with the defaults of payments.md, and make a bank file's frozen part unchangeable.

The triggers refuse an UPDATE that changes a bank file's bytes, hash, ids, totals, bank or execution date
(on PostgreSQL and SQLite): a frozen file is what was, or will be, handed to the bank, byte for byte.
"""

from django.db import migrations

FROZEN = ("msg_id", "pmt_inf_id", "bank_id", "execution_date", "created_at", "nb_of_txs", "ctrl_sum_fen",
          "content", "sha256")  # fmt: skip
MESSAGE = "payments_bankfile: a frozen bank file cannot be changed"

PG_FORWARD = [
    f"""
    CREATE OR REPLACE FUNCTION payments_bankfile_frozen() RETURNS trigger AS $$
    BEGIN
        IF {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN)} THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER payments_bankfile_frozen BEFORE UPDATE ON payments_bankfile
    FOR EACH ROW EXECUTE FUNCTION payments_bankfile_frozen();
    """,
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS payments_bankfile_frozen ON payments_bankfile;",
    "DROP FUNCTION IF EXISTS payments_bankfile_frozen();",
]
SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER payments_bankfile_frozen BEFORE UPDATE OF {", ".join(FROZEN)} ON payments_bankfile
    FOR EACH ROW WHEN {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
    """
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS payments_bankfile_frozen;"]


def _run(statements_by_vendor):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def seed_banks(apps, schema_editor):  # type: ignore[no-untyped-def]
    from mianshen.payments.banks import DEFAULT_BANKS

    Bank = apps.get_model("payments", "Bank")
    for b in DEFAULT_BANKS:
        Bank.objects.get_or_create(
            code=b.code,
            defaults={
                "name": b.name,
                "cooperating": b.cooperating,
                "reports_only_rejects": b.reports_only_rejects,
                "silence_days": b.silence_days,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [
        migrations.RunPython(seed_banks, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
