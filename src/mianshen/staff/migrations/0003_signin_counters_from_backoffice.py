"""The sign-in counters (failed sign-ins, the lockout), moved from the back office: the model enters this app's
state over the existing table ``backoffice_signincounter`` (created by ``backoffice.0003_sign_in_counters``; no
row is copied, so a locked account stays locked), and its content type follows it."""

from django.db import migrations, models


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="staff", model="signincounter").exists():
        ContentType.objects.filter(app_label="backoffice", model="signincounter").update(app_label="staff")


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="backoffice", model="signincounter").exists():
        ContentType.objects.filter(app_label="staff", model="signincounter").update(app_label="backoffice")


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0002_staff_phone_email"),
        ("backoffice", "0005_signin_counters_move_to_staff_app"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SignInCounter",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("scope", models.CharField(choices=[("account", "账户"), ("address", "地址")], max_length=10)),
                        ("key", models.CharField(help_text="the account name or the client address", max_length=150)),
                        ("failures", models.PositiveIntegerField(default=0, help_text="failed attempts in the current window")),
                        ("window_start", models.DateTimeField(help_text="when the current window began (its first failure)")),
                        ("last_failure_at", models.DateTimeField(blank=True, null=True)),
                        ("locked_at", models.DateTimeField(blank=True, help_text="accounts: locked since (until lifted)", null=True)),
                    ],
                    options={
                        "verbose_name": "登录失败计数",
                        "verbose_name_plural": "登录失败计数",
                        "db_table": "backoffice_signincounter",
                        "indexes": [models.Index(fields=["scope", "locked_at"], name="signin_counter_locked")],
                        "constraints": [
                            models.UniqueConstraint(fields=("scope", "key"), name="signin_counter_scope_key"),
                            models.CheckConstraint(condition=models.Q(("scope", "account"), ("locked_at__isnull", True), _connector="OR"), name="signin_counter_only_accounts_lock"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
