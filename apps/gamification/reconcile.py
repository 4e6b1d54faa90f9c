"""Reconciliation checks of gamification (apps.core.reconcile), registered in this order:

1. `gamification.missing_awards`: every completion, post and comment has the awards its event
   earns (same translation as the worker, `xp_awards_due`), unless the rule is off or that
   day's cap was reached. Repair replays the event through `xp_award_for_event` (idempotent;
   streaks, levels and achievements follow as they would have).
2. `gamification.stats`: UserStats.xp_total and level against the ledger.
3. `gamification.leaderboards`: the live global Redis boards against the ledger; repair
   rebuilds every board (`leaderboards.rebuild`).
"""

from datetime import datetime
from itertools import islice

from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import timezone

from apps.core.reconcile import Drift, register
from apps.courses.selectors import course_completion_facts, lesson_completion_facts
from apps.social.selectors import comment_facts, post_facts

from . import leaderboards, services
from .levels import level_for_xp
from .models import UserStats, XPRule, XPTransaction
from .selectors import me_summary_forget

FACTS = {
    "lesson.completed": lesson_completion_facts,
    "course.completed": course_completion_facts,
    "post.created": post_facts,
    "comment.created": comment_facts,
}
BATCH = 2000


def _batches(iterable, size: int):
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def _cap_reached(*, rule: XPRule, user_id: int, when: datetime, zones: dict) -> bool:
    if rule.daily_cap is None:
        return False
    day = when.astimezone(services._zone(zones.get(user_id, "UTC"))).date()
    earned = XPTransaction.objects.filter(
        user_id=user_id, action=rule.action, activity_date=day
    ).aggregate(total=Sum("points"))["total"]
    return (earned or 0) >= rule.daily_cap


def missing_awards(*, repair: bool) -> list[Drift]:
    rules = {rule.action: rule for rule in XPRule.objects.filter(active=True)}
    drifts = []
    for name, facts in FACTS.items():
        for batch in _batches(facts(), BATCH):
            due = [
                (payload, when, award)
                for payload, when in batch
                for award in services.xp_awards_due(name=name, payload=payload)
                if award["action"] in rules
            ]
            held = set(
                XPTransaction.objects.filter(
                    source_key__in=[award["source_key"] for _, _, award in due]
                ).values_list("source_key", flat=True)
            )
            missing = [item for item in due if item[2]["source_key"] not in held]
            zones = dict(
                get_user_model()
                .objects.filter(pk__in={payload["user_id"] for payload, _, _ in missing})
                .values_list("pk", "timezone")
            )
            for payload, when, award in missing:
                rule = rules[award["action"]]
                if _cap_reached(rule=rule, user_id=payload["user_id"], when=when, zones=zones):
                    continue
                drifts.append(
                    Drift("gamification.missing_awards", award["source_key"], rule.points, None)
                )
                if repair:
                    services.xp_award_for_event(name=name, payload=payload, occurred_at=when)
    return drifts


def stats(*, repair: bool) -> list[Drift]:
    ledger = dict(
        XPTransaction.objects.order_by()
        .values("user_id")
        .annotate(xp=Sum("points"))
        .values_list("user_id", "xp")
    )
    stored = {s.user_id: (s.xp_total, s.level) for s in UserStats.objects.only("xp_total", "level")}
    drifts = []
    for user_id in sorted(set(ledger) | set(stored)):
        xp = ledger.get(user_id, 0)
        expected = (xp, level_for_xp(xp))
        actual = stored.get(user_id, (0, 1))
        if actual == expected:
            continue
        drifts.append(Drift("gamification.stats", f"user {user_id}", expected, actual))
        if repair:
            UserStats.objects.update_or_create(
                user_id=user_id, defaults={"xp_total": xp, "level": expected[1]}
            )
            me_summary_forget(user_id=user_id)
    return drifts


def leaderboard(*, repair: bool) -> list[Drift]:
    if not leaderboards.redis_enabled():
        return []  # no Redis: the boards are read from the ledger itself
    drifts = []
    for period in leaderboards.PERIODS:
        when = timezone.now()
        expected = leaderboards.ledger_scores(period=period, scope="global", when=when)
        actual = leaderboards.redis_scores(period=period, scope="global", when=when)
        actual = {user_id: xp for user_id, xp in actual.items() if xp}
        for user_id in sorted(set(expected) | set(actual)):
            if expected.get(user_id) != actual.get(user_id):
                subject = f"{period} board, user {user_id}"
                drifts.append(
                    Drift(
                        "gamification.leaderboards",
                        subject,
                        expected.get(user_id),
                        actual.get(user_id),
                    )
                )
    if drifts and repair:
        leaderboards.rebuild()
    return drifts


def register_checks() -> None:
    register("gamification.missing_awards", missing_awards)
    register("gamification.stats", stats)
    register("gamification.leaderboards", leaderboard)
