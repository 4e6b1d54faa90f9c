"""Awarding XP: the ledger, stats, streaks, levels and achievements move together.

`xp_award` is the one way XP is given. It locks the user's stats row, so concurrent awards for
one user serialise (no lost updates, daily caps hold), and relies on the ledger's unique
`source_key`, so a retried or duplicated task awards nothing twice.

Unlearning: XP is never clawed back when content is deleted or a course is left; the ledger
only grows. (A rule that should claw back would be a new negative-points action.)
"""

import logging
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.core import events

from . import leaderboards
from .levels import level_for_xp
from .models import Achievement, UserAchievement, UserStats, WeeklySnapshot, XPRule, XPTransaction
from .selectors import me_summary_forget

logger = logging.getLogger("lyo.gamification")

LEARNING_ACTIONS = frozenset({"lesson.completed", "quiz.passed"})


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _day_zone(stats: UserStats, when: datetime) -> zoneinfo.ZoneInfo:
    """The zone whose calendar says which day `when` is, for daily caps and streaks: the zone in
    force when the learner's current day began, until that day ends; after it, their profile's
    zone. A time-zone change therefore applies from the next day: switching to a zone where
    it is already tomorrow neither opens a fresh daily cap nor extends a streak."""
    if stats.day_ends_at is not None and when < stats.day_ends_at and stats.day_zone:
        return _zone(stats.day_zone)
    return _zone(stats.user.timezone)


def _learner_day(stats: UserStats, when: datetime) -> date:
    return when.astimezone(_day_zone(stats, when)).date()


def _learner_day_begin(stats: UserStats, when: datetime) -> date:
    """`_learner_day`, recording the zone and end of a day that begins now (stats locked)."""
    zone = _day_zone(stats, when)
    today = when.astimezone(zone).date()
    if stats.day_ends_at is None or when >= stats.day_ends_at:
        stats.day_zone = zone.key
        stats.day_ends_at = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)
        UserStats.objects.filter(pk=stats.pk).update(
            day_zone=stats.day_zone, day_ends_at=stats.day_ends_at
        )
    return today


def _locked_stats(user_id: int) -> UserStats:
    UserStats.objects.get_or_create(user_id=user_id)
    return UserStats.objects.select_for_update().select_related("user").get(user_id=user_id)


@transaction.atomic
def xp_award(
    *,
    user_id: int,
    action: str,
    source_key: str,
    course_id: int | None = None,
    occurred_at: datetime | None = None,
    points: int | None = None,
) -> XPTransaction | None:
    """Award the rule's points for `action` once per `source_key`. Returns the new ledger row,
    or None when nothing was awarded (duplicate, inactive rule, or daily cap reached)."""
    rule = XPRule.objects.filter(action=action, active=True).first()
    if rule is None:
        return None
    occurred_at = occurred_at or timezone.now()
    stats = _locked_stats(user_id)
    if XPTransaction.objects.filter(source_key=source_key).exists():
        return None
    today = _learner_day_begin(stats, occurred_at)

    amount = rule.points if points is None else points
    if rule.daily_cap is not None:
        earned = XPTransaction.objects.filter(
            user_id=user_id, action=action, activity_date=today
        ).aggregate(total=Sum("points"))["total"]
        amount = min(amount, max(rule.daily_cap - (earned or 0), 0))
    if amount <= 0:
        return None

    try:
        with transaction.atomic():
            entry = XPTransaction.objects.create(
                user_id=user_id,
                action=action,
                points=amount,
                source_key=source_key,
                course_id=course_id,
                activity_date=today,
            )
    except IntegrityError:  # the same award raced in through another path
        return None

    previous_level = stats.level
    stats.xp_total += amount
    stats.level = level_for_xp(stats.xp_total)
    extended_streak = action in LEARNING_ACTIONS and _streak_touch(stats, today)
    stats.save()
    me_summary_forget(user_id=user_id)
    transaction.on_commit(
        lambda: leaderboards.record_award(
            user_id=user_id, points=amount, course_id=course_id, when=occurred_at
        )
    )
    if stats.level > previous_level:
        events.publish("level.up", user_id=user_id, level=stats.level)
    if extended_streak:
        xp_award(
            user_id=user_id,
            action="streak.daily",
            source_key=f"streak.daily:{user_id}:{today.isoformat()}",
            occurred_at=occurred_at,
        )
    achievements_evaluate(user_id=user_id)
    return entry


def _streak_touch(stats: UserStats, today: date) -> bool:
    """Count a learning day. Returns True when this is a new day that continues a streak."""
    last = stats.last_active_date
    if last == today or (last is not None and last > today):
        return False
    continued = last == today - timedelta(days=1)
    stats.current_streak = stats.current_streak + 1 if continued else 1
    stats.longest_streak = max(stats.longest_streak, stats.current_streak)
    stats.last_active_date = today
    return continued


def streak_current(*, stats: UserStats, now: datetime | None = None) -> int:
    """The streak as it stands now: a missed day (in the learner's day zone) means it is
    broken. Reads the stats row only (its `user` too)."""
    if stats.last_active_date is None:
        return 0
    today = _learner_day(stats, now or timezone.now())
    return stats.current_streak if stats.last_active_date >= today - timedelta(days=1) else 0


@transaction.atomic
def streak_reminders_set(*, user, enabled: bool) -> None:
    """The learner's opt-in/out of streak reminder emails (PATCH /me/gamification/)."""
    UserStats.objects.get_or_create(user=user)
    UserStats.objects.filter(user=user).update(streak_reminders=enabled)
    me_summary_forget(user_id=user.pk)


# --- Achievements ----------------------------------------------------------------------------


def _progress(stats: UserStats, achievement: Achievement) -> int:
    from apps.courses.selectors import completed_course_count

    match achievement.criterion:
        case Achievement.Criterion.ACTION_COUNT:
            return XPTransaction.objects.filter(
                user_id=stats.user_id, action=achievement.action
            ).count()
        case Achievement.Criterion.STREAK:
            return stats.longest_streak
        case Achievement.Criterion.LEVEL:
            return stats.level
        case Achievement.Criterion.COURSES_COMPLETED:
            return completed_course_count(user_id=stats.user_id)
    return 0  # weekly champion is granted by the weekly close


def achievements_evaluate(*, user_id: int) -> list[UserAchievement]:
    """Unlock every achievement the user now meets (idempotent). Call with stats locked."""
    stats = UserStats.objects.select_related("user").get(user_id=user_id)
    pending = Achievement.objects.filter(active=True).exclude(holders__user_id=user_id)
    unlocked = []
    for achievement in pending.exclude(criterion=Achievement.Criterion.WEEKLY_CHAMPION):
        if _progress(stats, achievement) >= achievement.threshold:
            granted = achievement_grant(user_id=user_id, achievement=achievement)
            if granted is not None:
                unlocked.append(granted)
    return unlocked


@transaction.atomic
def achievement_grant(*, user_id: int, achievement: Achievement) -> UserAchievement | None:
    try:
        with transaction.atomic():
            held = UserAchievement.objects.create(user_id=user_id, achievement=achievement)
    except IntegrityError:
        return None
    me_summary_forget(user_id=user_id)
    events.publish(
        "achievement.unlocked",
        user_id=user_id,
        achievement_id=achievement.pk,
        code=achievement.code,
        name=achievement.name,
    )
    if achievement.xp_reward:
        xp_award(
            user_id=user_id,
            action="achievement.unlocked",
            source_key=f"achievement:{achievement.code}:{user_id}",
            points=achievement.xp_reward,
        )
    return held


# --- From domain events ----------------------------------------------------------------------


COURSE_ACTIONS = frozenset({"lesson.completed", "quiz.passed", "course.completed"})


def _earned_from_own_content(name: str, payload: dict[str, Any]) -> bool:
    """Self-dealing earns nothing: learning in a course one teaches, or commenting on one's own
    post or replying to one's own comment. The action itself stands; only its XP is refused
    (README, "Abuse of the learning and social rules", lists every rule)."""
    user = payload["user_id"]
    if name in COURSE_ACTIONS:
        from apps.courses.selectors import course_instructor_id

        instructor = payload.get("instructor_id") or course_instructor_id(
            course_id=payload["course_id"]
        )
        return instructor == user
    if name == "comment.created":
        return user in (payload.get("post_author_id"), payload.get("parent_author_id"))
    return False


def xp_award_for_event(*, name: str, payload: dict[str, Any], occurred_at: datetime) -> list:
    """Translate a domain event into awards, each with its own once-only source key."""
    return [
        xp_award(user_id=payload["user_id"], occurred_at=occurred_at, **award)
        for award in xp_awards_due(name=name, payload=payload)
    ]


def xp_awards_due(*, name: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The awards (action, source_key, course_id) a domain event earns before rules and caps
    apply; none for self-dealing. Also what `manage.py reconcile` expects in the ledger."""
    user = payload["user_id"]
    awards: list[dict[str, Any]] = []
    if _earned_from_own_content(name, payload):
        return []
    match name:
        case "lesson.completed":
            awards.append(
                {
                    "action": name,
                    "source_key": f"{name}:{user}:{payload['lesson_id']}",
                    "course_id": payload.get("course_id"),
                }
            )
        case "quiz.passed":
            course_id = payload.get("course_id")
            awards.append(
                {
                    "action": name,
                    "source_key": f"{name}:{user}:{payload['quiz_id']}",
                    "course_id": course_id,
                }
            )
            if payload.get("score") == 100:
                awards.append(
                    {
                        "action": "quiz.perfect",
                        "source_key": f"quiz.perfect:{user}:{payload['quiz_id']}",
                        "course_id": course_id,
                    }
                )
        case "course.completed":
            awards.append(
                {
                    "action": name,
                    "source_key": f"{name}:{user}:{payload['course_id']}",
                    "course_id": payload["course_id"],
                }
            )
        case "post.created":
            awards.append({"action": name, "source_key": f"{name}:{user}:{payload['post_id']}"})
        case "comment.created":
            awards.append({"action": name, "source_key": f"{name}:{user}:{payload['comment_id']}"})
    return awards


# --- Periodic work ---------------------------------------------------------------------------


def streaks_close_broken(*, now: datetime | None = None) -> int:
    """Reset streaks whose owner missed a whole day in their own time zone."""
    now = now or timezone.now()
    closed = 0
    # Anyone whose last day is two or more UTC days ago has certainly missed a local day
    # too (time zones are at most a day apart); the narrower band is checked per user.
    candidates = UserStats.objects.filter(
        current_streak__gt=0, last_active_date__lt=now.date()
    ).select_related("user")
    for stats in candidates.iterator(chunk_size=500):
        if streak_current(stats=stats, now=now) == 0:
            UserStats.objects.filter(pk=stats.pk, last_active_date=stats.last_active_date).update(
                current_streak=0
            )
            me_summary_forget(user_id=stats.user_id)
            closed += 1
    return closed


def streak_reminders_send(*, now: datetime | None = None) -> int:
    """Email learners whose streak ends tonight (opt-out: stats.streak_reminders)."""
    now = now or timezone.now()
    sent = 0
    candidates = UserStats.objects.filter(
        streak_reminders=True,
        current_streak__gt=0,
        last_active_date__gte=now.date() - timedelta(days=2),
        user__is_active=True,
    ).select_related("user")
    for stats in candidates.iterator(chunk_size=500):
        zone = _day_zone(stats, now)
        today = now.astimezone(zone).date()
        local_hour = now.astimezone(zone).hour
        due = (
            stats.last_active_date == today - timedelta(days=1)
            and local_hour >= settings.STREAK_REMINDER_LOCAL_HOUR
            and stats.last_reminded_on != today
        )
        if not due:
            continue
        with transaction.atomic():
            marked = UserStats.objects.filter(pk=stats.pk).exclude(last_reminded_on=today)
            if not marked.update(last_reminded_on=today):
                continue
            send_mail(
                subject=f"[Lyo] Keep your {stats.current_streak}-day streak going",
                message=(
                    f"Hi {stats.user.get_short_name()},\n\n"
                    f"You have learned {stats.current_streak} days in a row. One lesson today "
                    "keeps the streak alive.\n\nYou can turn these reminders off in the app."
                ),
                from_email=None,
                recipient_list=[stats.user.email],
            )
        sent += 1
    return sent


@transaction.atomic
def week_close(*, week_start: date) -> list[WeeklySnapshot]:
    """Freeze the global top 10 of a finished week and crown its champion(s). Re-runnable."""
    when = datetime.combine(week_start, time.min, tzinfo=UTC)
    standings = leaderboards.ranked(
        leaderboards.sql_scores(period="weekly", scope="global", when=when)
    )[:10]
    snapshots = []
    for standing in standings:
        snapshot, _ = WeeklySnapshot.objects.get_or_create(
            week_start=week_start,
            user_id=standing.user_id,
            defaults={"rank": standing.rank, "xp": standing.xp},
        )
        snapshots.append(snapshot)
    champion = Achievement.objects.filter(
        criterion=Achievement.Criterion.WEEKLY_CHAMPION, active=True
    ).first()
    if champion is not None:
        for standing in standings:
            if standing.rank == 1:
                _locked_stats(standing.user_id)
                achievement_grant(user_id=standing.user_id, achievement=champion)
    return snapshots
