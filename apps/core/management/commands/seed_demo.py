"""Load a small, idempotent demo dataset for the README's run command."""

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts import roles
from apps.accounts.models import User
from apps.courses import demo as courses_demo

DEMO_PASSWORD = "lyo-demo-password-1"  # noqa: S105 - documented demo credential, local only

DEMO_PEOPLE = [
    ("admin@lyo.local", "Lyo Admin", [roles.ADMIN]),
    ("instructor@lyo.local", "Ines Instructor", [roles.INSTRUCTOR]),
    ("moderator@lyo.local", "Mo Moderator", [roles.MODERATOR]),
    ("learner1@lyo.local", "Ada Lovelace", [roles.STUDENT]),
    ("learner2@lyo.local", "Alan Turing", [roles.STUDENT]),
    ("learner3@lyo.local", "Grace Hopper", [roles.STUDENT]),
]


class Command(BaseCommand):
    help = "Create demo accounts (and, as the apps grow, demo content). Safe to run twice."

    @transaction.atomic
    def handle(self, *args, **options):
        people = {}
        for email, name, role_names in DEMO_PEOPLE:
            is_admin = roles.ADMIN in role_names
            user, created = User.objects.get_or_create(
                email=email,
                defaults={"display_name": name, "is_staff": is_admin, "is_superuser": is_admin},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
                user.groups.add(*Group.objects.filter(name__in=role_names))
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            people[email] = user

        learners = [people[f"learner{n}@lyo.local"] for n in (1, 2, 3)]
        courses = courses_demo.seed(instructor=people["instructor@lyo.local"], learners=learners)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({courses} new demo courses). "
                f"Every demo account uses the password {DEMO_PASSWORD}: "
                + ", ".join(email for email, _, _ in DEMO_PEOPLE)
            )
        )
