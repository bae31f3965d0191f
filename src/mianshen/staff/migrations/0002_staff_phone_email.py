"""An officer's phone and e-mail, for the reminders to come (optional: empty when not given)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_staff_from_backoffice"),
    ]

    operations = [
        migrations.AddField(
            model_name="staff",
            name="phone",
            field=models.CharField(blank=True, default="", help_text="for reminders (optional)", max_length=32),
        ),
        migrations.AddField(
            model_name="staff",
            name="email",
            field=models.EmailField(blank=True, default="", help_text="for reminders (optional)", max_length=254),
        ),
    ]
