from django.apps import AppConfig
from django.db.models.signals import post_migrate

# Domain events that can earn XP. Durable subscriptions (apps.core.events): written to the
# outbox with the change and awarded by a worker; the ledger's unique source keys make a
# redelivered event award nothing twice.
AWARDING_EVENTS = (
    "lesson.completed",
    "quiz.passed",
    "course.completed",
    "post.created",
    "comment.created",
)


def _award_xp(event) -> None:
    from .services import xp_award_for_event

    xp_award_for_event(name=event.name, payload=event.payload, occurred_at=event.occurred_at)


def _forget_deleted_account(event) -> None:
    from . import leaderboards

    leaderboards.remove_user(user_id=event.payload["user_id"])


def _catch_up_boards(event) -> None:
    from . import leaderboards

    leaderboards.catch_up(event)


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
        from .reconcile import register_checks

        for name in AWARDING_EVENTS:
            events.subscribe(name, _award_xp, durable=True)
        # A deleted account leaves every leaderboard (the SQL paths skip inactive users).
        events.subscribe("account.deleted", _forget_deleted_account, durable=True)
        # Awards a process could not write while Redis was unreachable: its "leaderboards.behind"
        # event rebuilds the sets from the ledger once Redis answers.
        events.subscribe("leaderboards.behind", _catch_up_boards, durable=True)
        on_recovery(rebuild_after_outage)
        register_checks()  # manage.py reconcile
        # Default rules and achievements come back after `flush` (tests) like the roles do.
        post_migrate.connect(_ensure_defaults, sender=self, dispatch_uid="lyo-xp-defaults")
