"""The index of short name fragments for the public list's search (``portal.publicity_index``), and the lines of
the notices open when it is installed (PostgreSQL; the statement is written out here, as it was at this point)."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
INSERT INTO portal_publicitygram (gram, entry_id, notice_id, district)
SELECT g.gram, e.id, e.notice_id, e.district
FROM cases_noticeentry AS e
JOIN cases_notice AS n ON n.id = e.notice_id AND n.closed_at IS NULL AND n.ends_at > now()
CROSS JOIN LATERAL (
    SELECT substr(e.unit_name, i, 1) AS gram FROM generate_series(1, char_length(e.unit_name)) AS i
    UNION
    SELECT substr(e.unit_name, i, 2) FROM generate_series(1, char_length(e.unit_name) - 1) AS i
) AS g
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL)


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0005_applications_channel'),
        ('portal', '0003_lookup'),
    ]

    operations = [
        migrations.CreateModel(
            name='PublicityGram',
            fields=[
                ('pk', models.CompositePrimaryKey('gram', 'notice', 'entry', blank=True, editable=False, primary_key=True, serialize=False)),
                ('gram', models.CharField(max_length=2)),
                ('district', models.CharField(max_length=6)),
                ('entry', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='cases.noticeentry')),
                ('notice', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='cases.notice')),
            ],
            options={
                'indexes': [models.Index(fields=['gram', 'notice', 'district', 'entry'], name='portal_gram_district')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
