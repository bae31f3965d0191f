"""Make the audit table append-only: the database refuses UPDATE, DELETE and (PostgreSQL) TRUNCATE.

Reversing drops the triggers: the protection removed, as an administrator could (see ``audit.protection``).
"""

from typing import Any

from django.db import migrations


def install(apps: Any, schema_editor: Any) -> None:
    from mianshen.audit.triggers import install_protection

    install_protection(schema_editor.connection)


def drop(apps: Any, schema_editor: Any) -> None:
    from mianshen.audit.triggers import drop_protection

    drop_protection(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(install, drop, elidable=False),
    ]
