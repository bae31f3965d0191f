"""Fewer indexes on cases_case: each one is written again for every case a round moves (the state is indexed, so
an UPDATE of a case is never HOT). Gone: the ``varchar_pattern_ops`` twin of the district index (no LIKE on a
district) and the index of ``last_round_id`` (no query looks cases up by round). (issue 13, helper premove)"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0008_person_ledger'),
        ('screening', '0002_choice_labels'),
    ]

    operations = [
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
            index=models.Index(fields=['district'], name='case_by_district'),
        ),
    ]
