"""The staff profile, moved from the back office: the model enters this app's state over the existing table
``backoffice_staff`` (created by ``backoffice.0001_initial``; no row is copied), and its content type follows
it (so permissions given on it stay)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="staff", model="staff").exists():
        ContentType.objects.filter(app_label="backoffice", model="staff").update(app_label="staff")


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="backoffice", model="staff").exists():
        ContentType.objects.filter(app_label="staff", model="staff").update(app_label="backoffice")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("backoffice", "0004_staff_moves_to_staff_app"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Staff",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("role", models.CharField(choices=[("city_admin", "市级管理员"), ("district_officer", "区经办人"), ("reviewer", "复核人"), ("auditor", "审计员")], max_length=20)),
                        ("district", models.CharField(blank=True, choices=[("110101", "东城区"), ("110102", "西城区"), ("110105", "朝阳区"), ("110106", "丰台区"), ("110107", "石景山区"), ("110108", "海淀区"), ("110109", "门头沟区"), ("110111", "房山区"), ("110112", "通州区"), ("110113", "顺义区"), ("110114", "昌平区"), ("110115", "大兴区"), ("110116", "怀柔区"), ("110117", "平谷区"), ("110118", "密云区"), ("110119", "延庆区")], help_text="district officers: their district; reviewers: optional; others: none (city-wide)", max_length=6, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="staff", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "verbose_name": "工作人员",
                        "verbose_name_plural": "工作人员",
                        "db_table": "backoffice_staff",
                        "constraints": [models.CheckConstraint(condition=models.Q(models.Q(("district__isnull", False), ("role", "district_officer")), models.Q(("district__isnull", True), ("role__in", ["city_admin", "auditor"])), ("role", "reviewer"), _connector="OR"), name="staff_role_district")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
