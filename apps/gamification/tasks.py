from datetime import datetime, timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from . import leaderboards, services


# Awards now arrive through the event outbox (apps.core.outbox, handlers in apps.py); this task
# stays for messages enqueued before that, and for running an award by hand.
@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def award_xp_for_event(name: str, payload: dict, occurred_at: str) -> int:
    """Idempotent: every award has a unique source key, so a redelivered task adds nothing."""
    awarded = services.xp_award_for_event(
        name=name, payload=payload, occurred_at=datetime.fromisoformat(occurred_at)
    )
    return sum(1 for entry in awarded if entry is not None)


@shared_task(acks_late=True)
def close_broken_streaks() -> int:
    return services.streaks_close_broken()


@shared_task(acks_late=True)
def send_streak_reminders() -> int:
    return services.streak_reminders_send()


@shared_task(acks_late=True)
def close_week() -> int:
    """Monday 00:15 UTC: freeze last week's top 10 and crown the champion."""
    last_week = timezone.now() - timedelta(days=7)
    return len(services.week_close(week_start=leaderboards.period_start("weekly", last_week)))


@shared_task(acks_late=True)
def rebuild_leaderboards() -> int:
    return leaderboards.rebuild()


@shared_task(acks_late=True)
def leaderboards_remove_user(user_id: int) -> int:
    """A deleted account leaves every Redis leaderboard; idempotent."""
    return leaderboards.remove_user(user_id=user_id)
