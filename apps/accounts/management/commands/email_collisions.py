"""Accounts without a canonical email: look-alike collisions left by migration 0005 for an
operator, and rows the previous release wrote during a rollout (--adopt gives those theirs)."""

from django.core.management.base import BaseCommand

from apps.accounts.selectors import users_without_email_identity
from apps.accounts.services import user_email_identity_adopt


class Command(BaseCommand):
    help = "List (and with --adopt, repair) accounts that have no canonical email."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--adopt",
            action="store_true",
            help="Give their canonical email to the accounts no other account holds it for.",
        )

    def handle(self, *args, adopt: bool = False, **options) -> None:
        unresolved = 0
        for user, canonical, holder in users_without_email_identity():
            if holder is None and adopt:
                user_email_identity_adopt(user=user)
                self.stdout.write(f"user {user.pk} <{user.email}> now holds {canonical!r}")
                continue
            unresolved += 1
            held_by = f"user {holder.pk} <{holder.email}>" if holder else "nobody (--adopt)"
            self.stdout.write(
                f"user {user.pk} <{user.email}> (canonical {canonical!r}, held by {held_by})"
            )
        self.stdout.write(f"{unresolved} account(s) left without a canonical email.")
