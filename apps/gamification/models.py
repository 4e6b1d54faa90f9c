"""Gamification: an append-only XP ledger, per-user stats, achievements and weekly snapshots.

Rules, the level curve and achievements are data (admin-editable); Redis leaderboards are a
cache rebuilt from the ledger at will (`manage.py rebuild_leaderboards`).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class XPRule(models.Model):
    action = models.CharField(max_length=64, unique=True)
    points = models.PositiveIntegerField()
    daily_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most points this action can earn a user per day"
    )
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["action"]
        verbose_name = "XP rule"

    def __str__(self) -> str:
        return f"{self.action}: {self.points} XP"


class XPTransaction(models.Model):
    """One award. Never updated or deleted; `source_key` makes every award happen at most once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="xp_transactions"
    )
    action = models.CharField(max_length=64)
    points = models.PositiveIntegerField()
    source_key = models.CharField(max_length=200, unique=True)
    course_id = models.PositiveBigIntegerField(null=True, blank=True)
    activity_date = models.DateField(help_text="The day in the user's own time zone")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "XP transaction"
        indexes = [
            models.Index(fields=["user", "action", "activity_date"], name="xp_daily_cap"),
            models.Index(fields=["created_at", "user"], name="xp_period"),
            models.Index(fields=["course_id", "created_at"], name="xp_course"),
        ]

    def __str__(self) -> str:
        return f"{self.points} XP to {self.user_id} for {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("The XP ledger is append-only")
        super().save(*args, **kwargs)


class UserStats(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="gamification",
    )
    xp_total = models.PositiveIntegerField(default=0)
    level = models.PositiveIntegerField(default=1)
    current_streak = models.PositiveIntegerField(default=0)
    longest_streak = models.PositiveIntegerField(default=0)
    last_active_date = models.DateField(null=True, blank=True)
    # The learner's current day for caps and streaks: the zone it is counted in (their zone
    # when it began) and when it ends; a time-zone change applies from the next day.
    day_zone = models.CharField(max_length=64, blank=True, default="", db_default="")
    day_ends_at = models.DateTimeField(null=True, blank=True)
    streak_reminders = models.BooleanField(default=True)
    last_reminded_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "user stats"
        indexes = [models.Index(fields=["-xp_total", "user"], name="stats_all_time")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.xp_total} XP, level {self.level}"


class Achievement(models.Model):
    class Criterion(models.TextChoices):
        ACTION_COUNT = "action_count", "Count of an action"
        STREAK = "streak", "Streak length"
        LEVEL = "level", "Level reached"
        COURSES_COMPLETED = "courses_completed", "Courses completed"
        WEEKLY_CHAMPION = "weekly_champion", "Weekly leaderboard winner"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300)
    criterion = models.CharField(max_length=32, choices=Criterion.choices)
    action = models.CharField(max_length=64, blank=True, help_text="For action counts")
    threshold = models.PositiveIntegerField(default=1)
    xp_reward = models.PositiveIntegerField(default=0)
    icon = models.CharField(max_length=64, blank=True, help_text="Icon name the apps know")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["criterion", "threshold", "code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(criterion="action_count") | ~Q(action=""),
                name="achievement_count_needs_action",
            )
        ]

    def __str__(self) -> str:
        return self.name


class UserAchievement(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="achievements"
    )
    achievement = models.ForeignKey(Achievement, on_delete=models.CASCADE, related_name="holders")
    unlocked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-unlocked_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "achievement"], name="achievement_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} unlocked {self.achievement_id}"


class WeeklySnapshot(models.Model):
    """The global weekly top 10, frozen when the week closes."""

    week_start = models.DateField()
    rank = models.PositiveSmallIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    xp = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-week_start", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["week_start", "user"], name="snapshot_user_once"),
        ]

    def __str__(self) -> str:
        return f"Week of {self.week_start}: #{self.rank} {self.user_id}"
