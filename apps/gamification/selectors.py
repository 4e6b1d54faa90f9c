from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, OuterRef, QuerySet, Subquery

from apps.core.cache import forget

from .levels import level_threshold
from .models import Achievement, UserAchievement, UserStats, WeeklySnapshot, XPTransaction


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


def _me_key(user_id: int) -> str:
    return f"gamification:me:v1:{user_id}"


def me_summary(*, user, now: datetime | None = None) -> dict:
    """The learner's own XP, level, streak and achievements (MeGamificationOutput).

    Served from a per-user cache that the services drop whenever the stats or achievements
    change (`me_summary_forget`); the streak itself is judged on every read, since it breaks at
    the learner's midnight without any write.
    """
    from .services import streak_current

    seconds = settings.GAMIFICATION_ME_CACHE_SECONDS
    key = _me_key(user.pk)
    snapshot = cache.get(key) if seconds else None
    if snapshot is None:
        # Read-only: someone who never earned XP has no stats row yet, and the defaults.
        stats = UserStats.objects.filter(user_id=user.pk).values(
            "level",
            "longest_streak",
            "last_active_date",
            "streak_reminders",
            "day_zone",
            "day_ends_at",
            xp=F("xp_total"),
            stored_streak=F("current_streak"),
        ).first() or {
            "xp": 0,
            "level": 1,
            "stored_streak": 0,
            "longest_streak": 0,
            "last_active_date": None,
            "streak_reminders": True,
            "day_zone": "",
            "day_ends_at": None,
        }
        snapshot = {
            **stats,
            "achievements": list(
                UserAchievement.objects.filter(user=user).values(
                    "unlocked_at",
                    code=F("achievement__code"),
                    name=F("achievement__name"),
                    icon=F("achievement__icon"),
                )
            ),
        }
        if seconds:
            cache.set(key, snapshot, seconds)
    next_xp = next_level_xp(level=snapshot["level"])
    return {
        **snapshot,
        "xp_for_next_level": next_xp,
        "xp_to_next_level": max(next_xp - snapshot["xp"], 0),
        "current_streak": streak_current(
            stats=UserStats(
                user=user,
                current_streak=snapshot["stored_streak"],
                last_active_date=snapshot["last_active_date"],
                day_zone=snapshot.get("day_zone", ""),
                day_ends_at=snapshot.get("day_ends_at"),
            ),
            now=now,
        ),
    }


def me_summary_forget(*, user_id: int) -> None:
    """Call inside the transaction that changes the user's stats or achievements."""
    forget(_me_key(user_id))


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


def leaderboard_entries(standings) -> list[dict]:
    """A board's rows as the API shows them (LeaderboardEntry). Deleted accounts are taken off
    the boards; should one linger in Redis (an award racing the deletion), it is not shown."""
    from apps.accounts.selectors import active_display_names

    names = active_display_names(user_ids=[st.user_id for st in standings])
    return [
        {
            "rank": st.rank,
            "user": {"id": st.user_id, "display_name": names[st.user_id]},
            "xp": st.xp,
        }
        for st in standings
        if st.user_id in names
    ]
