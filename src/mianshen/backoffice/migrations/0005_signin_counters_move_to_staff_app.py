"""The sign-in counters move to the staff app (``staff.0003_signin_counters_from_backoffice`` takes them over):
the model leaves the back office's state only; its table ``backoffice_signincounter`` and its rows stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0004_staff_moves_to_staff_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SignInCounter")],
            database_operations=[],
        ),
    ]
