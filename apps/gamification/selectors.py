from django.db.models import OuterRef, QuerySet, Subquery

from .levels import level_threshold
from .models import Achievement, UserAchievement, UserStats, WeeklySnapshot, XPTransaction


def stats_for_user(*, user) -> UserStats:
    stats, _ = UserStats.objects.select_related("user").get_or_create(user=user)
    return stats


def level_and_xp(*, user_id: int) -> tuple[int, int]:
    """Read-only (no stats row is created for someone who never earned XP)."""
    row = UserStats.objects.filter(user_id=user_id).values_list("level", "xp_total").first()
    return row or (1, 0)


def next_level_xp(*, level: int) -> int:
    return level_threshold(level + 1)


def achievements_for_user(*, user) -> QuerySet[Achievement]:
    unlocked = UserAchievement.objects.filter(user=user, achievement=OuterRef("pk"))
    return (
        Achievement.objects.filter(active=True)
        .annotate(unlocked_at=Subquery(unlocked.values("unlocked_at")[:1]))
        .order_by("criterion", "threshold", "code")
    )


def unlocked_achievements(*, user) -> QuerySet[UserAchievement]:
    return UserAchievement.objects.filter(user=user).select_related("achievement")


def followee_ids(*, user) -> list[int]:
    """The people the user follows (the friends leaderboard); empty until social is there."""
    try:
        from apps.social.selectors import followee_ids as social_followee_ids
    except ImportError:
        return []
    return list(social_followee_ids(user_id=user.pk))


def gamification_for_export(*, user) -> dict:
    """The person's XP, level, streaks, achievements, weekly rankings and the whole XP ledger
    (oldest first), for the personal-data export. Read-only: no stats row is created."""
    from .services import streak_current  # a pure computation on the stats row

    stats = UserStats.objects.select_related("user").filter(user=user).first()
    achievements = (
        UserAchievement.objects.filter(user=user)
        .order_by("unlocked_at", "id")
        .values("achievement__code", "achievement__name", "unlocked_at")
    )
    ledger = (
        XPTransaction.objects.filter(user=user)
        .order_by("created_at", "id")
        .values("action", "points", "source_key", "course_id", "activity_date", "created_at")
    )
    rankings = (
        WeeklySnapshot.objects.filter(user=user)
        .order_by("week_start")
        .values("week_start", "rank", "xp")
    )
    return {
        "xp": stats.xp_total if stats else 0,
        "level": stats.level if stats else 1,
        "current_streak": streak_current(stats=stats) if stats else 0,
        "longest_streak": stats.longest_streak if stats else 0,
        "last_active_date": stats.last_active_date if stats else None,
        "streak_reminders": stats.streak_reminders if stats else True,
        "achievements": [
            {
                "code": row["achievement__code"],
                "name": row["achievement__name"],
                "unlocked_at": row["unlocked_at"],
            }
            for row in achievements
        ],
        "weekly_rankings": list(rankings),
        "xp_ledger": list(ledger.iterator(chunk_size=2000)),
    }
