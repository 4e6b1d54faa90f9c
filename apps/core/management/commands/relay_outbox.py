"""`manage.py relay_outbox`: hand undelivered outbox events to the broker now.

The same work as the every-minute `apps.core.tasks.relay_outbox` beat task, for operators
after a broker outage (or tests); `--all` also takes events younger than the relay delay.
"""

from django.core.management.base import BaseCommand

from apps.core import outbox


class Command(BaseCommand):
    help = "Relay undelivered outbox events to the broker and prune old delivered ones."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="ignore the relay delay")

    def handle(self, *args, all: bool = False, **options):
        relayed = outbox.relay_pending(everything=all)
        self.stdout.write(f"{relayed} outbox event(s) relayed.")
