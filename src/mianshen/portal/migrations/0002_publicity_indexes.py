"""Indexes for the public list's searches (cases_noticeentry, written once when a notice opens, read here).

Both databases: (notice, district, id) for the district filter in list order, (notice, masked code) for an exact
full code. PostgreSQL: trigram GIN indexes (pg_trgm) for a name fragment or the visible parts of a code
(``LIKE '%…%'``), so a search is an index lookup, not a scan of the 441,300 lines."""

from django.db import migrations

BOTH = [
    "CREATE INDEX IF NOT EXISTS portal_entry_notice_district ON cases_noticeentry (notice_id, district, id)",
    "CREATE INDEX IF NOT EXISTS portal_entry_notice_masked ON cases_noticeentry (notice_id, masked_credit_code)",
]
POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS portal_entry_name_trgm ON cases_noticeentry USING gin (unit_name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS portal_entry_masked_trgm ON cases_noticeentry "
    "USING gin (masked_credit_code gin_trgm_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS portal_entry_notice_district",
    "DROP INDEX IF EXISTS portal_entry_notice_masked",
    "DROP INDEX IF EXISTS portal_entry_name_trgm",
    "DROP INDEX IF EXISTS portal_entry_masked_trgm",
]


def create(apps, schema_editor):
    statements = BOTH + (POSTGRES if schema_editor.connection.vendor == "postgresql" else [])
    for sql in statements:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    for sql in DROP:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial"), ("cases", "0003_payment_states")]

    operations = [migrations.RunPython(create, drop)]
