from django.urls import path

from . import views

urlpatterns = [
    path("me/gamification/", views.MeGamificationView.as_view(), name="me-gamification"),
    path("achievements/", views.AchievementListView.as_view(), name="achievement-list"),
    path("leaderboards/<str:period>/", views.LeaderboardView.as_view(), name="leaderboard-detail"),
]
