"""Bulk case moves without index writes (issue 13, helper premove).

cases_case had six indexes, and ``state`` and ``last_round_id`` were among their columns: every case a round or
the release moved was a new row version with a new entry in each of them. Now no index holds a column a move
changes: the queues are found by ``queue`` (the state, kept by the database, only in the queue states; NULL
otherwise), the ``varchar_pattern_ops`` twin of the district index and the index of ``last_round_id`` are gone
(no query uses them), and on PostgreSQL the table keeps half of each page free (fillfactor 50), so a moved case's
new version goes on its own page: a HOT update, no index touched. The fillfactor is set before the column is
added, whose table rewrite then lays the rows out with it."""

import django.db.models.deletion
from django.db import migrations, models


FILLFACTOR = 50


def fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE cases_case SET (fillfactor = {FILLFACTOR})")


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0008_person_ledger'),
        ('screening', '0002_choice_labels'),
    ]

    operations = [
        migrations.RunPython(fillfactor, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name='case',
            name='case_by_state',
        ),
        migrations.AddField(
            model_name='case',
            name='queue',
            field=models.GeneratedField(db_persist=True, expression=models.Case(models.When(state__in=['awaiting_confirmation', 'awaiting_application', 'under_review', 'objected', 'awaiting_correction', 'payment_cancelled'], then=models.F('state')), default=None), help_text='the state when it is one of QUEUE_STATES, else NULL (kept by the database; indexed)', output_field=models.CharField(max_length=24, null=True)),
        ),
        migrations.AlterField(
            model_name='case',
            name='district',
            field=models.CharField(max_length=6),
        ),
        migrations.AlterField(
            model_name='case',
            name='last_round',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='screening.screeninground'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('queue__isnull', False)), fields=['queue'], name='case_in_queue'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['district'], name='case_by_district'),
        ),
    ]
