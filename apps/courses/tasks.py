from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(acks_late=True)
def aggregate_course_daily_stats(day: str | None = None) -> int:
    """Nightly: yesterday's per-course figures (or a given ISO day). Safe to re-run."""
    target = date.fromisoformat(day) if day else timezone.now().date() - timedelta(days=1)
    return services.course_daily_stats_aggregate(day=target)
