from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.throttling import WriteThrottled
from apps.gamification import leaderboards, selectors, services

from . import serializers as s


class MeGamificationView(WriteThrottled, APIView):
    @extend_schema(responses={200: s.MeGamificationOutput}, tags=["gamification"])
    def get(self, request):
        return Response(s.MeGamificationOutput(selectors.me_summary(user=request.user)).data)

    @extend_schema(
        request=s.MeGamificationInput,
        responses={200: s.MeGamificationOutput},
        tags=["gamification"],
    )
    def patch(self, request):
        data = s.MeGamificationInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.streak_reminders_set(
            user=request.user, enabled=data.validated_data["streak_reminders"]
        )
        return Response(s.MeGamificationOutput(selectors.me_summary(user=request.user)).data)


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

        if members is None and leaderboards.redis_enabled() and settings.LEADERBOARD_CACHE_SECONDS:
            results, mine = leaderboards.top_page(
                period=period,
                scope=board_scope,
                limit=limit,
                viewer_id=request.user.pk,
                render=selectors.leaderboard_entries,
            )
        else:
            standings, mine = leaderboards.top(
                period=period,
                scope=board_scope,
                limit=limit,
                viewer_id=request.user.pk,
                members=members,
            )
            results = selectors.leaderboard_entries(standings)
        me = {"rank": mine.rank, "xp": mine.xp} if mine else {"rank": None, "xp": 0}
        # Rows are plain data already in LeaderboardOutput's shape (the page may come from the
        # cache as JSON): no serializer pass over them on every request.
        return Response({"period": period, "scope": scope, "results": results, "me": me})
