"""Make sure the partial unique index ``one_live_instruction_per_case`` exists.

On PostgreSQL, 0003's AlterField of ``Instruction.case`` (``db_index=False``) drops every single-column index on
``case_id`` that is not in ``Meta.indexes`` — including this partial unique index, which is a constraint. The
index is created again here (a no-op where it exists, e.g. on SQLite, whose AlterField rebuilds the table with
its constraints).
"""

from django.db import migrations

from mianshen.payments.lifecycle import LIVE

STATUSES = ", ".join(f"'{s}'" for s in sorted(status.value for status in LIVE))
CREATE = (
    'CREATE UNIQUE INDEX IF NOT EXISTS "one_live_instruction_per_case" '
    f'ON "payments_instruction" ("case_id") WHERE "status" IN ({STATUSES})'
)


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_fewer_indexes")]

    operations = [migrations.RunSQL(CREATE, migrations.RunSQL.noop)]
