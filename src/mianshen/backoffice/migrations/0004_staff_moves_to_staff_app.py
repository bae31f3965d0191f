"""The staff profile moves to the staff app (``staff.0001_staff_from_backoffice`` takes it over): the model leaves
the back office's state only; its table ``backoffice_staff`` and its rows stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0003_sign_in_counters"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Staff")],
            database_operations=[],
        ),
    ]
