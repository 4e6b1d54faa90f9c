from django.apps import AppConfig
from django.db.models.signals import post_migrate

# Domain events that can earn XP; each becomes an idempotent Celery task.
AWARDING_EVENTS = (
    "lesson.completed",
    "quiz.passed",
    "course.completed",
    "post.created",
    "comment.created",
)


def _enqueue_award(event) -> None:
    from .tasks import award_xp_for_event

    award_xp_for_event.delay(event.name, event.payload, event.occurred_at.isoformat())


def _forget_deleted_account(event) -> None:
    from .tasks import leaderboards_remove_user

    leaderboards_remove_user.delay(event.payload["user_id"])


def _ensure_defaults(sender, **kwargs) -> None:
    from .defaults import defaults_ensure
    from .models import Achievement, XPRule

    defaults_ensure(rule_model=XPRule, achievement_model=Achievement)


class GamificationConfig(AppConfig):
    name = "apps.gamification"
    label = "gamification"

    def ready(self) -> None:
        from apps.core import events
        from apps.core.redis_cache import on_recovery

        from .leaderboards import rebuild_after_outage

        for name in AWARDING_EVENTS:
            events.subscribe(name, _enqueue_award)
        # A deleted account leaves every leaderboard (the SQL paths skip inactive users).
        events.subscribe("account.deleted", _forget_deleted_account)
        # Awards Redis missed while unreachable reach the sets by a rebuild from the ledger.
        on_recovery(rebuild_after_outage)
        # Default rules and achievements come back after `flush` (tests) like the roles do.
        post_migrate.connect(_ensure_defaults, sender=self, dispatch_uid="lyo-xp-defaults")
