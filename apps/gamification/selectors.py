from django.db.models import OuterRef, QuerySet, Subquery

from .levels import level_threshold
from .models import Achievement, UserAchievement, UserStats


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
