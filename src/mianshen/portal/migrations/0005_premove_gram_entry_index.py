"""The fragment index (portal_publicitygram) loses the index of ``entry_id`` that Django makes for a foreign key: no
query looks up a line's fragments, and a notice's millions of rows are written in gram order, so that index took
its entries at random places. (issue 13, helper premove)"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0009_premove_case_queue'),
        ('portal', '0004_publicity_grams'),
    ]

    operations = [
        migrations.AlterField(
            model_name='publicitygram',
            name='entry',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='cases.noticeentry'),
        ),
    ]
