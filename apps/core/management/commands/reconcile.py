"""`manage.py reconcile [--repair] [--check NAME ...]`: derived state against the facts.

Reports every drift (counters, XP totals, missing awards, leaderboards, stuck outbox events;
each app registers its checks, apps.core.reconcile). Exit status 1 when reporting found drift,
so a cron job or CI alerts on it; with --repair the drift is fixed and the status is 0.
"""

from django.core.management.base import BaseCommand, CommandError

from apps.core import reconcile


class Command(BaseCommand):
    help = "Recompute derived state (counters, XP, leaderboards) from the facts; report or repair."

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="fix what drifted")
        parser.add_argument(
            "--check", action="append", dest="only", metavar="NAME", help="run only these"
        )

    def handle(self, *args, repair: bool = False, only=None, **options):
        available = reconcile.checks()
        unknown = set(only or ()) - set(available)
        if unknown:
            raise CommandError(f"Unknown check(s): {', '.join(sorted(unknown))}")
        found = 0
        for name, check in available.items():
            if only and name not in only:
                continue
            drifts = check(repair=repair)
            found += len(drifts)
            for drift in drifts:
                self.stdout.write(
                    f"{'repaired' if repair else 'drift'}: {drift.check}: {drift.subject}: "
                    f"stored {drift.actual!r}, facts say {drift.expected!r}"
                )
            self.stdout.write(f"{name}: {len(drifts)} {'repaired' if repair else 'drift'}")
        verb = "repaired" if repair else "found"
        self.stdout.write(f"reconcile: {found} drift(s) {verb}.")
        if found and not repair:
            raise SystemExit(1)
