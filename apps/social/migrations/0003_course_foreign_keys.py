"""Post.course and StudyGroup.course become foreign keys to courses.Course (issue 17, item 5).

They were plain integers, so any number was accepted. Rows naming a course that does not exist
(orphans) are reported on stdout, one line each, and their course is cleared: the post or
group itself stays. The column keeps its name (course_id) and its values.

On PostgreSQL the key is added NOT VALID, which holds its lock on the tables only for an
instant and checks every new row at once; 0004 validates the existing rows without blocking
writes (docs/operations.md, "Zero-downtime schema changes"). Elsewhere (SQLite) Django's
usual AlterField rebuilds the table.
"""

import django.db.models.deletion
from django.db import migrations, models


def clear_orphans(apps, schema_editor):
    course_ids = apps.get_model("courses", "Course").objects.values("pk")
    for model_name in ("Post", "StudyGroup"):
        model = apps.get_model("social", model_name)
        orphans = model.objects.filter(course_id__isnull=False).exclude(course_id__in=course_ids)
        for pk, course_id in orphans.order_by("pk").values_list("pk", "course_id"):
            print(
                f"social.{model_name} {pk}: course {course_id} does not exist; "
                "its course is cleared (the row is kept)"
            )
        cleared = orphans.update(course_id=None)
        if cleared:
            print(f"social.{model_name}: {cleared} row(s) without an existing course cleared")


class AlterFieldToForeignKeyNotValid(migrations.AlterField):
    """AlterField from a positive integer column to a foreign key on the same column; on
    PostgreSQL as two statements: drop the integer's CHECK, add the key NOT VALID."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        table = schema_editor.quote_name(model._meta.db_table)
        check = schema_editor.quote_name(f"{model._meta.db_table}_{field.column}_check")
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}")
        add_key = schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s")
        schema_editor.execute(f"{add_key} NOT VALID")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        table = schema_editor.quote_name(model._meta.db_table)
        for name in schema_editor._constraint_names(model, [field.column], foreign_key=True):
            schema_editor.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT {schema_editor.quote_name(name)}"
            )
        check = schema_editor.quote_name(f"{model._meta.db_table}_{field.column}_check")
        column = schema_editor.quote_name(field.column)
        schema_editor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({column} >= 0)")


def course_field():
    return models.ForeignKey(
        blank=True,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to="courses.course",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0005_quiz_attempt_limits"),
        ("social", "0002_post_media"),
    ]

    operations = [migrations.RunPython(clear_orphans, migrations.RunPython.noop)]
    for model_name in ("post", "studygroup"):
        operations += [
            # Name the column explicitly, so renaming the field keeps it, then make it the key.
            migrations.AlterField(
                model_name=model_name,
                name="course_id",
                field=models.PositiveBigIntegerField(
                    blank=True, db_index=True, null=True, db_column="course_id"
                ),
            ),
            migrations.RenameField(model_name=model_name, old_name="course_id", new_name="course"),
            AlterFieldToForeignKeyNotValid(
                model_name=model_name, name="course", field=course_field()
            ),
        ]
