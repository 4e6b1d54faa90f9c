"""`manage.py reconcile [--repair]`: derived state recomputed from the facts."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.core.cache import redis_client
from apps.core.models import OutboxEvent
from apps.courses.models import Course, Enrollment, LessonProgress
from apps.gamification import leaderboards
from apps.gamification.models import UserStats, XPTransaction
from apps.social.models import Comment, Post
from tests.courses.factories import course_with_lessons, enroll
from tests.factories import UserFactory, client_for

# Real commits: the events are delivered (eagerly) and Redis boards updated as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def reconcile(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("reconcile", *args, stdout=out)
    except SystemExit as exit:
        return exit.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def activity():
    learner, fan = UserFactory(), UserFactory()
    course, lessons = course_with_lessons(3)
    enrollment = enroll(learner, course)
    client = client_for(learner)
    assert client.post(f"/api/v1/lessons/{lessons[0].id}/complete/").status_code == 200
    post = client.post("/api/v1/posts/", {"body": "Day one."}, format="json").json()
    assert client_for(fan).post(f"/api/v1/posts/{post['id']}/like/").status_code in (200, 201)
    comment = client_for(fan).post(
        f"/api/v1/posts/{post['id']}/comments/", {"body": "Nice!"}, format="json"
    )
    assert comment.status_code == 201, comment.content
    return {
        "learner": learner,
        "course": course,
        "lessons": lessons,
        "enrollment": enrollment,
        "post": Post.objects.get(pk=post["id"]),
    }


def test_a_consistent_database_reconciles_clean(activity):
    status, output = reconcile()
    assert status == 0, output
    assert output.strip().endswith("reconcile: 0 drift(s) found.")


def test_drift_is_reported_then_repaired_and_the_next_run_is_clean(activity):
    learner, course, post = activity["learner"], activity["course"], activity["post"]
    enrollment = activity["enrollment"]
    # Derived state drifts behind the application's back ...
    Post.objects.filter(pk=post.pk).update(like_count=7, comment_count=0)
    Course.objects.filter(pk=course.pk).update(enrollment_count=5, rating_count=2)
    UserStats.objects.filter(user=learner).update(xp_total=999)
    # ... a fact whose event never arrived (written around the service: no outbox row) ...
    LessonProgress.objects.create(
        user=learner, lesson=activity["lessons"][1], enrollment=enrollment
    )
    # ... a leaderboard that lost an award, and an event the worker gave up on.
    board = leaderboards.key("all-time", "global", timezone.now())
    redis_client().zadd(board, {learner.pk: 1})
    OutboxEvent.objects.create(
        name="test.nobody.listens",
        payload={},
        occurred_at=timezone.now() - timedelta(hours=2),
        failures=10,
    )

    status, output = reconcile()
    assert status == 1, output
    for check, subject in [
        ("social.post_like_count", f"post {post.pk}"),
        ("social.post_comment_count", f"post {post.pk}"),
        ("courses.enrollment_count", f"course {course.pk}"),
        ("courses.ratings", f"course {course.pk}"),
        ("courses.enrollment_progress", f"enrollment {enrollment.pk}"),
        ("gamification.missing_awards", f"lesson.completed:{learner.pk}:"),
        ("gamification.stats", f"user {learner.pk}"),
        ("gamification.leaderboards", f"all-time board, user {learner.pk}"),
        ("core.outbox", "(test.nobody.listens)"),
    ]:
        assert any(
            line.startswith(f"drift: {check}: ") and subject in line for line in output.splitlines()
        ), (check, output)
    # Reporting changes nothing.
    assert Post.objects.get(pk=post.pk).like_count == 7

    status, output = reconcile("--repair")
    assert status == 0, output
    post.refresh_from_db()
    course.refresh_from_db()
    enrollment.refresh_from_db()
    assert (post.like_count, post.comment_count) == (1, Comment.objects.filter(post=post).count())
    assert (course.enrollment_count, course.rating_count) == (1, 0)
    assert enrollment.progress_percent == 66  # two of three lessons
    keys = set(XPTransaction.objects.filter(user=learner).values_list("source_key", flat=True))
    assert f"lesson.completed:{learner.pk}:{activity['lessons'][1].pk}" in keys
    ledger = sum(XPTransaction.objects.filter(user=learner).values_list("points", flat=True))
    assert UserStats.objects.get(user=learner).xp_total == ledger
    assert (
        leaderboards.redis_scores(period="all-time", scope="global", when=timezone.now())[
            learner.pk
        ]
        == ledger
    )
    assert OutboxEvent.objects.get(name="test.nobody.listens").delivered_at is not None

    status, output = reconcile()
    assert status == 0, output
    assert output.strip().endswith("reconcile: 0 drift(s) found.")


def test_a_capped_action_is_not_drift(activity):
    """Posts beyond the day's post.created cap earn nothing, and reconcile agrees."""
    client = client_for(activity["learner"])
    for n in range(12):  # 2 XP each, 20 a day: the first post of the fixture plus 12 is over
        assert (
            client.post("/api/v1/posts/", {"body": f"Post {n}"}, format="json").status_code == 201
        )
    status, output = reconcile("--check", "gamification.missing_awards")
    assert status == 0, output


def test_an_unknown_check_is_an_error():
    with pytest.raises(Exception, match="Unknown check"):
        call_command("reconcile", "--check", "no.such.check")


def test_missing_stats_rows_count_as_drift():
    user = UserFactory()
    XPTransaction.objects.create(
        user=user, action="lesson.completed", points=10, source_key="k", activity_date="2026-01-01"
    )
    UserStats.objects.filter(user=user).delete()
    status, output = reconcile("--check", "gamification.stats")
    assert status == 1 and f"user {user.pk}" in output
    assert reconcile("--repair", "--check", "gamification.stats")[0] == 0
    assert UserStats.objects.get(user=user).xp_total == 10
    assert Enrollment.objects.count() == 0  # nothing else was touched
