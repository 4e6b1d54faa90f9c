from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import User
from apps.gamification import leaderboards, selectors, services
from apps.gamification.models import UserStats

from . import serializers as s


def _me_body(user) -> dict:
    stats = selectors.stats_for_user(user=user)
    next_xp = selectors.next_level_xp(level=stats.level)
    return {
        "xp": stats.xp_total,
        "level": stats.level,
        "xp_for_next_level": next_xp,
        "xp_to_next_level": max(next_xp - stats.xp_total, 0),
        "current_streak": services.streak_current(stats=stats),
        "longest_streak": stats.longest_streak,
        "last_active_date": stats.last_active_date,
        "streak_reminders": stats.streak_reminders,
        "achievements": selectors.unlocked_achievements(user=user),
    }


class MeGamificationView(APIView):
    @extend_schema(responses={200: s.MeGamificationOutput}, tags=["gamification"])
    def get(self, request):
        return Response(s.MeGamificationOutput(_me_body(request.user)).data)

    @extend_schema(
        request=s.MeGamificationInput,
        responses={200: s.MeGamificationOutput},
        tags=["gamification"],
    )
    def patch(self, request):
        data = s.MeGamificationInput(data=request.data)
        data.is_valid(raise_exception=True)
        selectors.stats_for_user(user=request.user)
        UserStats.objects.filter(user=request.user).update(**data.validated_data)
        return Response(s.MeGamificationOutput(_me_body(request.user)).data)


class AchievementListView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer("AchievementList", {"results": s.AchievementOutput(many=True)})
        },
        tags=["gamification"],
    )
    def get(self, request):
        achievements = selectors.achievements_for_user(user=request.user)
        return Response({"results": s.AchievementOutput(achievements, many=True).data})


class LeaderboardView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, OpenApiParameter.PATH, enum=list(leaderboards.PERIODS)),
            OpenApiParameter(
                "scope", str, description="global (default), friends, or course:<slug>"
            ),
            OpenApiParameter("limit", int, description="Top N, default 50, at most 100"),
        ],
        responses={200: s.LeaderboardOutput},
        tags=["gamification"],
    )
    def get(self, request, period: str):
        if period not in leaderboards.PERIODS:
            raise Http404
        scope = request.query_params.get("scope", "global")
        try:
            limit = int(request.query_params.get("limit", settings.LEADERBOARD_DEFAULT_SIZE))
        except ValueError:
            raise exceptions.ValidationError({"limit": ["A whole number."]}) from None
        if not 1 <= limit <= settings.LEADERBOARD_MAX_SIZE:
            raise exceptions.ValidationError(
                {"limit": [f"Between 1 and {settings.LEADERBOARD_MAX_SIZE}."]}
            )

        members = None
        board_scope = scope
        if scope == "friends":
            members = [request.user.pk, *selectors.followee_ids(user=request.user)]
            board_scope = "global"
        elif scope.startswith("course:"):
            from apps.courses.selectors import course_get_visible

            course = course_get_visible(slug=scope.split(":", 1)[1], user=request.user)
            board_scope = f"course:{course.pk}"
        elif scope != "global":
            raise exceptions.ValidationError({"scope": ["Use global, friends or course:<slug>."]})

        standings, mine = leaderboards.top(
            period=period,
            scope=board_scope,
            limit=limit,
            viewer_id=request.user.pk,
            members=members,
        )
        # Deleted accounts are taken off the boards; should one still linger in Redis (an award
        # that raced the deletion), it is not shown.
        users = (
            User.objects.filter(is_active=True)
            .only("id", "display_name")
            .in_bulk([st.user_id for st in standings])
        )
        results = [
            {
                "rank": st.rank,
                "user": {"id": st.user_id, "display_name": users[st.user_id].display_name},
                "xp": st.xp,
            }
            for st in standings
            if st.user_id in users
        ]
        me = {"rank": mine.rank, "xp": mine.xp} if mine else {"rank": None, "xp": 0}
        body = {"period": period, "scope": scope, "results": results, "me": me}
        return Response(s.LeaderboardOutput(body).data)
