"""The fragment index (portal_publicitygram) partitioned by notice on PostgreSQL (issue 13, helper premove).

A notice's rows are written into a table of their own and attached as its partition, which builds the two indexes
in one sorted pass each (``portal.publicity_index``): written through the indexes of one table, the 6.8 million
rows of Beijing's notice took 305 s. Gone: the indexes Django makes for the two foreign keys — nothing looks up a
line's fragments (``entry_id``), and a notice's rows are its partition (``notice_id``). The rows of the notices open
now move into their partitions. SQLite keeps the table as it was (empty: the search scans by LIKE there)."""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "portal_publicitygram"
COLUMNS = "gram varchar(2) NOT NULL, district varchar(6) NOT NULL, entry_id bigint NOT NULL, notice_id bigint NOT NULL"
KEYS = [
    f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (gram, notice_id, entry_id)",
    f"CREATE INDEX portal_gram_district ON {TABLE} (gram, notice_id, district, entry_id)",
]


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_flat")
    run(f"ALTER TABLE {TABLE}_flat DROP CONSTRAINT {TABLE}_pkey")
    run("DROP INDEX portal_gram_district")
    run(f"CREATE TABLE {TABLE} ({COLUMNS}) PARTITION BY LIST (notice_id)")
    for sql in KEYS:
        run(sql)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT notice_id FROM {TABLE}_flat ORDER BY notice_id")
        notices = [int(n) for (n,) in cursor.fetchall()]
    for n in notices:
        run(f"CREATE TABLE {TABLE}_n{n} PARTITION OF {TABLE} FOR VALUES IN ({n})")
        run(f"INSERT INTO {TABLE}_n{n} (gram, district, entry_id, notice_id) SELECT gram, district, entry_id, "
            f"notice_id FROM {TABLE}_flat WHERE notice_id = {n} ORDER BY gram, district, entry_id")
    run(f"DROP TABLE {TABLE}_flat")


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_parts")
    run(f"ALTER TABLE {TABLE}_parts DROP CONSTRAINT {TABLE}_pkey")
    run("DROP INDEX portal_gram_district")
    run(f"CREATE TABLE {TABLE} ({COLUMNS})")
    for sql in KEYS:
        run(sql)
    run(f"INSERT INTO {TABLE} (gram, district, entry_id, notice_id) "
        f"SELECT gram, district, entry_id, notice_id FROM {TABLE}_parts")
    run(f"DROP TABLE {TABLE}_parts CASCADE")


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
        migrations.AlterField(
            model_name='publicitygram',
            name='notice',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='cases.notice'),
        ),
        migrations.RunPython(partition, unpartition),
    ]
