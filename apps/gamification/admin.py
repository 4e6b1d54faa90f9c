from django.contrib import admin

from .models import Achievement, UserAchievement, UserStats, WeeklySnapshot, XPRule, XPTransaction


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(XPRule)
class XPRuleAdmin(admin.ModelAdmin):
    list_display = ("action", "points", "daily_cap", "active")
    list_editable = ("points", "daily_cap", "active")
    list_filter = ("active",)


@admin.register(Achievement)
class AchievementAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "criterion", "action", "threshold", "xp_reward", "active")
    list_filter = ("criterion", "active")
    search_fields = ("code", "name")


@admin.register(XPTransaction)
class XPTransactionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "action", "points", "course_id", "source_key")
    list_filter = ("action",)
    search_fields = ("user__email", "source_key")
    list_select_related = ("user",)
    date_hierarchy = "created_at"


@admin.register(UserStats)
class UserStatsAdmin(ReadOnlyAdmin):
    list_display = ("user", "xp_total", "level", "current_streak", "longest_streak")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    ordering = ("-xp_total",)


@admin.register(UserAchievement)
class UserAchievementAdmin(ReadOnlyAdmin):
    list_display = ("user", "achievement", "unlocked_at")
    list_filter = ("achievement",)
    search_fields = ("user__email",)
    list_select_related = ("user", "achievement")


@admin.register(WeeklySnapshot)
class WeeklySnapshotAdmin(ReadOnlyAdmin):
    list_display = ("week_start", "rank", "user", "xp")
    list_filter = ("week_start",)
    list_select_related = ("user",)
