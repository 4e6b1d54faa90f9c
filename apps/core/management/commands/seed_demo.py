"""Load a small, idempotent demo dataset for the README's run command."""

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import User

DEMO_PASSWORD = "lyo-demo-password-1"  # noqa: S105 - documented demo credential, local only


class Command(BaseCommand):
    help = "Create demo accounts (and, as the apps grow, demo content). Safe to run twice."

    @transaction.atomic
    def handle(self, *args, **options):
        admin, created = User.objects.get_or_create(
            email="admin@lyo.local",
            defaults={"display_name": "Lyo Admin", "is_staff": True, "is_superuser": True},
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save(update_fields=["password"])
        for index, name in enumerate(["Ada Lovelace", "Alan Turing", "Grace Hopper"], start=1):
            learner, created = User.objects.get_or_create(
                email=f"learner{index}@lyo.local", defaults={"display_name": name}
            )
            if created:
                learner.set_password(DEMO_PASSWORD)
                learner.save(update_fields=["password"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready. Sign in as admin@lyo.local / {DEMO_PASSWORD} "
                "(learner1..3@lyo.local share the password)."
            )
        )
