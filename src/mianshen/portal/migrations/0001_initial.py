from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    initial = True

    dependencies = [("cases", "0003_payment_states")]

    operations = [
        migrations.CreateModel(
            name="AddressCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("purpose", models.CharField(max_length=20)),
                ("address", models.CharField(max_length=64)),
                ("window_start", models.DateTimeField()),
                ("count", models.PositiveIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("purpose", "address"), name="portal_counter_purpose_address")
                ]
            },
        ),
        migrations.CreateModel(
            name="StatusCode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference", models.CharField(max_length=12)),
                ("phone", models.CharField(blank=True, max_length=20)),
                ("code_hash", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField()),
                ("tries", models.PositiveSmallIntegerField(default=0)),
                ("used_at", models.DateTimeField(null=True)),
                ("sent", models.BooleanField(default=False)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["reference", "-id"], name="portal_statuscode_ref"),
                    models.Index(fields=["phone", "created_at"], name="portal_statuscode_phone"),
                ]
            },
        ),
        migrations.CreateModel(
            name="ObjectionReceipt",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference", models.CharField(max_length=12, unique=True)),
                ("phone", models.CharField(max_length=20)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "objection",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="portal_receipt",
                        to="cases.objection",
                    ),
                ),
            ],
        ),
    ]
