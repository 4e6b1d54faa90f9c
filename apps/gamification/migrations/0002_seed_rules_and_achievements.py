"""Starting XP rules and achievements; both stay editable in the admin."""

from django.db import migrations

from apps.gamification.defaults import defaults_ensure


def seed(apps, schema_editor):
    defaults_ensure(
        rule_model=apps.get_model("gamification", "XPRule"),
        achievement_model=apps.get_model("gamification", "Achievement"),
    )


class Migration(migrations.Migration):
    dependencies = [("gamification", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
