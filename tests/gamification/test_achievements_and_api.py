import threading

import pytest
from django.db import connection

from apps.core import events
from apps.gamification import services
from apps.gamification.models import Achievement, UserAchievement, UserStats, XPTransaction
from tests.courses.factories import add_quiz, course_with_lessons
from tests.factories import UserFactory, client_for

pytestmark = pytest.mark.django_db


def test_an_achievement_unlocks_once_with_its_reward_and_an_event(
    user, django_capture_on_commit_callbacks
):
    heard = []
    events.subscribe("achievement.unlocked", heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for n in range(3):
                services.xp_award(user_id=user.pk, action="lesson.completed", source_key=f"l:{n}")
            services.achievements_evaluate(user_id=user.pk)
    finally:
        events.unsubscribe("achievement.unlocked", heard.append)
    assert list(
        UserAchievement.objects.filter(user=user).values_list("achievement__code", flat=True)
    ) == ["first-lesson"]
    rewards = XPTransaction.objects.filter(user=user, action="achievement.unlocked")
    assert list(rewards.values_list("points", flat=True)) == [10]
    assert [e.payload["code"] for e in heard] == ["first-lesson"]


def test_achievements_are_data(user):
    Achievement.objects.create(
        code="three-comments",
        name="Chatty",
        description="Write three comments.",
        criterion="action_count",
        action="comment.created",
        threshold=3,
        xp_reward=0,
    )
    for n in range(3):
        services.xp_award(user_id=user.pk, action="comment.created", source_key=f"c:{n}")
    assert UserAchievement.objects.filter(user=user, achievement__code="three-comments").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_unlock_once():
    user = UserFactory()
    services.xp_award(user_id=user.pk, action="lesson.completed", source_key="first")
    UserAchievement.objects.all().delete()
    barrier = threading.Barrier(10)

    def run():
        try:
            barrier.wait(timeout=20)
            services.achievements_evaluate(user_id=user.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert UserAchievement.objects.filter(user=user, achievement__code="first-lesson").count() == 1


def test_me_gamification_and_reminder_opt_out(user_client, user):
    services.xp_award(user_id=user.pk, action="course.completed", source_key="c:1")
    body = user_client.get("/api/v1/me/gamification/").json()
    assert body["xp"] == UserStats.objects.get(user=user).xp_total == 100
    assert body["level"] == 2  # level 2 starts at 100 XP, level 3 at 300
    assert body["xp_for_next_level"] == 300
    assert body["xp_to_next_level"] == 200
    assert body["current_streak"] == 0 and body["streak_reminders"] is True
    off = user_client.patch("/api/v1/me/gamification/", {"streak_reminders": False})
    assert off.json()["streak_reminders"] is False
    assert user_client.patch("/api/v1/me/gamification/", {}).status_code == 400


def test_achievement_catalog_marks_what_i_unlocked(user_client, user):
    services.xp_award(user_id=user.pk, action="lesson.completed", source_key="l:1")
    results = user_client.get("/api/v1/achievements/").json()["results"]
    unlocked = {a["code"]: a["unlocked_at"] for a in results}
    assert unlocked["first-lesson"] is not None
    assert unlocked["streak-7"] is None
    assert len(results) == Achievement.objects.filter(active=True).count()


def test_end_to_end_learning_earns_xp_levels_streaks_achievements_and_rank(
    django_capture_on_commit_callbacks,
):
    learner = UserFactory()
    rival = UserFactory()
    course, lessons = course_with_lessons(3)
    _, answers = add_quiz(lessons[2], pass_mark=100)
    client = client_for(learner)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/v1/courses/{course.slug}/enrollment/")
        client.post(f"/api/v1/lessons/{lessons[0].id}/complete/")
        client.post(f"/api/v1/lessons/{lessons[1].id}/complete/")
        client.post(
            f"/api/v1/lessons/{lessons[2].id}/quiz/attempts/",
            {"answers": {str(q.id): [c.id] for q, c in answers}},
            format="json",
        )
        services.xp_award(user_id=rival.pk, action="lesson.completed", source_key="rival")

    me = client.get("/api/v1/me/gamification/").json()
    actions = set(XPTransaction.objects.filter(user=learner).values_list("action", flat=True))
    assert {"lesson.completed", "quiz.passed", "quiz.perfect", "course.completed"} <= actions
    assert me["xp"] == sum(
        XPTransaction.objects.filter(user=learner).values_list("points", flat=True)
    )
    assert me["xp"] >= 10 * 3 + 20 + 10 + 100
    assert me["level"] >= 2
    assert me["current_streak"] == 1
    assert {"first-lesson", "first-course"} <= {a["code"] for a in me["achievements"]}

    board = client.get("/api/v1/leaderboards/weekly/").json()
    assert board["results"][0]["user"]["id"] == learner.pk
    assert board["me"] == {"rank": 1, "xp": me["xp"]}
    course_board = client.get(
        "/api/v1/leaderboards/daily/", {"scope": f"course:{course.slug}"}
    ).json()
    assert [e["user"]["id"] for e in course_board["results"]] == [learner.pk]
