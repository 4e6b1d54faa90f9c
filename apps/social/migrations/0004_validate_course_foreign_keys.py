"""Validate the course foreign keys 0003 added NOT VALID (PostgreSQL only): VALIDATE CONSTRAINT
reads every row but lets writes go on. Rows written by the previous release while 0003 ran
could still name a missing course: they are reported and cleared first, as in 0003."""

from importlib import import_module

from django.db import migrations

clear_orphans = import_module("apps.social.migrations.0003_course_foreign_keys").clear_orphans


def validate(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'f' AND NOT convalidated "
            "AND conrelid IN ('social_post'::regclass, 'social_studygroup'::regclass)"
        )
        unvalidated = cursor.fetchall()
    for table, name in unvalidated:
        schema_editor.execute(
            f"ALTER TABLE {schema_editor.quote_name(table)} "
            f"VALIDATE CONSTRAINT {schema_editor.quote_name(name)}"
        )


class Migration(migrations.Migration):
    dependencies = [("social", "0003_course_foreign_keys")]

    operations = [
        migrations.RunPython(clear_orphans, migrations.RunPython.noop),
        migrations.RunPython(validate, migrations.RunPython.noop),
    ]
