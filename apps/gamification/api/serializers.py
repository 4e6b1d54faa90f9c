from rest_framework import serializers

from apps.core.input import InputSerializer


class AchievementOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    icon = serializers.CharField()
    criterion = serializers.CharField()
    threshold = serializers.IntegerField()
    xp_reward = serializers.IntegerField()
    unlocked_at = serializers.DateTimeField(allow_null=True)


class UnlockedAchievementOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    icon = serializers.CharField()
    unlocked_at = serializers.DateTimeField()


class MeGamificationOutput(serializers.Serializer):
    xp = serializers.IntegerField()
    level = serializers.IntegerField()
    xp_for_next_level = serializers.IntegerField(
        help_text="Total XP at which the next level starts"
    )
    xp_to_next_level = serializers.IntegerField()
    current_streak = serializers.IntegerField()
    longest_streak = serializers.IntegerField()
    last_active_date = serializers.DateField(allow_null=True)
    streak_reminders = serializers.BooleanField()
    achievements = UnlockedAchievementOutput(many=True)


class MeGamificationInput(InputSerializer):
    streak_reminders = serializers.BooleanField()


class LeaderboardUser(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()


class LeaderboardEntry(serializers.Serializer):
    rank = serializers.IntegerField()
    user = LeaderboardUser()
    xp = serializers.IntegerField()


class OwnStanding(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True)
    xp = serializers.IntegerField()


class LeaderboardOutput(serializers.Serializer):
    period = serializers.CharField()
    scope = serializers.CharField()
    results = LeaderboardEntry(many=True)
    me = OwnStanding()
