"""List accounts left without a canonical email by migration 0005 (a look-alike collision)."""

from django.core.management.base import BaseCommand

from apps.accounts.selectors import users_without_email_identity


class Command(BaseCommand):
    help = "List accounts whose email collides with another account's canonical form."

    def handle(self, *args, **options) -> None:
        collisions = users_without_email_identity()
        for user, canonical, holder in collisions:
            holder_text = f"user {holder.pk} <{holder.email}>" if holder else "nobody"
            self.stdout.write(
                f"user {user.pk} <{user.email}> (canonical {canonical!r}, held by {holder_text})"
            )
        self.stdout.write(f"{len(collisions)} account(s) cannot sign in until resolved.")
