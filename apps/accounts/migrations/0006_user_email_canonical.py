"""Give every account its canonical email (apps.accounts.email_identity) under a UNIQUE index.

Rows whose addresses share one canonical form are not merged: the row that keeps it is the one
with a verified address, then the oldest; the others keep NULL (they cannot sign in) and are
reported here and by `manage.py email_collisions`, for an operator to resolve
(docs/operations.md). Reversible: going back drops the column.
"""

import logging
import unicodedata
from collections import defaultdict

from django.db import migrations, models

logger = logging.getLogger("lyo.security")


def _canonical(raw):
    # Frozen copy of apps.accounts.email_identity.canonical_email as of this migration.
    def fold(text):
        return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())

    local, at, domain = fold((raw or "").strip()).rpartition("@")
    if not at:
        return domain
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    return f"{local}@{domain}"


def fill_canonical_emails(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    verified = set(EmailAddress.objects.filter(verified=True).values_list("user_id", flat=True))
    groups = defaultdict(list)
    for user in User.objects.only("id", "email", "date_joined").iterator():
        groups[_canonical(user.email)].append(user)
    for canonical, users in groups.items():
        users.sort(key=lambda u: (u.pk not in verified, u.date_joined, u.pk))
        keeper, *others = users
        User.objects.filter(pk=keeper.pk).update(email_canonical=canonical)
        if others:
            message = (
                f"email collision on {canonical!r}: user {keeper.pk} keeps it; users "
                f"{[u.pk for u in others]} cannot sign in until an operator resolves them"
            )
            print(f"\n  {message}")  # noqa: T201 - the operator running migrate must see it
            logger.warning("email_canonical_collision", extra={"detail": message})


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_timezone_changed_at"),
        ("account", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_canonical",
            field=models.CharField(editable=False, max_length=1024, null=True),
        ),
        migrations.RunPython(fill_canonical_emails, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="user",
            name="email_canonical",
            field=models.CharField(editable=False, max_length=1024, null=True, unique=True),
        ),
    ]
