"""PostgreSQL: instruction pages keep 30 % free (``fillfactor = 70``) so that the bank's answers can rewrite a row
in place.

Every answer rewrites an instruction's row (the bank's facts are kept on it), and on PostgreSQL a rewrite that
changes no indexed column and finds room on the row's own page is a HOT update: no new entry in any of the
table's indexes. ``status`` is in partial indexes' predicates, so a move of status never is; but about half of
the rewrites of the banks' answers keep the status (ACTC → ACSP → ACSC while accepted) and only found no room on
pages filled to 100 %. On the 50,000-unit pipeline's 35,659 instructions (four waves of updates by bank, each
in its own transaction, 2026-12-08, load ≈ 18): 20 HOT updates of 73,751 at fillfactor 100, 15,769 at 80,
24,288 at 70; the waves took 11.4, 7.5 and 6.8 s; the table's size the same (44 MB with its indexes).
Applies to pages written from now on; SQLite has no such setting."""

from django.db import migrations


def _set(fillfactor: int):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE payments_instruction SET (fillfactor = {fillfactor})")

    return run


class Migration(migrations.Migration):
    dependencies = [("payments", "0013_answers_partial_reissue_index")]

    operations = [migrations.RunPython(_set(70), _set(100))]
