from django.core.management.base import BaseCommand

from apps.gamification import leaderboards


class Command(BaseCommand):
    help = "Recreate every Redis leaderboard from the XP ledger (Redis is only a cache)."

    def handle(self, *args, **options):
        if not leaderboards.redis_enabled():
            self.stdout.write("No Redis cache configured: leaderboards are served from SQL.")
            return
        written = leaderboards.rebuild()
        self.stdout.write(self.style.SUCCESS(f"Rebuilt leaderboards: {written} entries."))
