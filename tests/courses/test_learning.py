import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core import events
from apps.courses.models import Course, CourseDailyStats, Enrollment, LessonProgress, QuizAttempt
from apps.courses.tasks import aggregate_course_daily_stats
from tests.courses.factories import CourseFactory, add_quiz, course_with_lessons, enroll
from tests.factories import UserFactory, client_for

pytestmark = pytest.mark.django_db

LIST = "/api/v1/courses/"


@pytest.fixture
def heard():
    """Domain events delivered (after commit) during the test."""
    seen: list[events.DomainEvent] = []
    names = [
        "enrollment.created",
        "lesson.completed",
        "quiz.passed",
        "course.completed",
        "review.created",
    ]
    for name in names:
        events.subscribe(name, seen.append)
    yield seen
    for name in names:
        events.unsubscribe(name, seen.append)


def test_enroll_is_idempotent(user, heard, django_capture_on_commit_callbacks):
    course, _ = course_with_lessons(2)
    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"{LIST}{course.slug}/enrollment/")
        again = client.post(f"{LIST}{course.slug}/enrollment/")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert first.json()["course"]["slug"] == course.slug
    assert Enrollment.objects.filter(user=user, course=course).count() == 1
    course.refresh_from_db()
    assert course.enrollment_count == 1
    assert [e.name for e in heard] == ["enrollment.created"]


def test_unenroll_is_idempotent_and_re_enrolling_keeps_progress(user):
    course, lessons = course_with_lessons(2)
    client = client_for(user)
    client.post(f"{LIST}{course.slug}/enrollment/")
    client.post(f"/api/v1/lessons/{lessons[0].id}/complete/")
    assert client.delete(f"{LIST}{course.slug}/enrollment/").status_code == 204
    assert client.delete(f"{LIST}{course.slug}/enrollment/").status_code == 204
    course.refresh_from_db()
    assert course.enrollment_count == 0
    assert client.get("/api/v1/me/enrollments/").json()["results"] == []
    assert client.post(f"/api/v1/lessons/{lessons[1].id}/complete/").status_code == 403

    back = client.post(f"{LIST}{course.slug}/enrollment/")
    assert back.status_code == 201
    assert back.json()["progress_percent"] == 50


def test_drafts_cannot_be_enrolled(user):
    course = CourseFactory(status=Course.Status.DRAFT)
    assert client_for(user).post(f"{LIST}{course.slug}/enrollment/").status_code == 404


def test_completing_lessons_tracks_progress_and_completes_the_course_once(
    user, heard, django_capture_on_commit_callbacks
):
    course, lessons = course_with_lessons(3)
    client = client_for(user)
    assert client.post(f"/api/v1/lessons/{lessons[0].id}/complete/").status_code == 403
    client.post(f"{LIST}{course.slug}/enrollment/")

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"/api/v1/lessons/{lessons[0].id}/complete/")
        repeat = client.post(f"/api/v1/lessons/{lessons[0].id}/complete/")
    assert first.status_code == repeat.status_code == 200
    assert first.json() == repeat.json()
    assert first.json()["progress_percent"] == 33
    assert LessonProgress.objects.filter(user=user).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        for lesson in lessons[1:]:
            last = client.post(f"/api/v1/lessons/{lesson.id}/complete/")
        client.post(f"/api/v1/lessons/{lessons[2].id}/complete/")
    assert last.json()["progress_percent"] == 100
    assert last.json()["course_completed"] is True
    enrollment = client.get("/api/v1/me/enrollments/").json()["results"][0]
    assert enrollment["status"] == "completed" and enrollment["completed_at"]
    names = [e.name for e in heard]
    assert names.count("lesson.completed") == 3
    assert names.count("course.completed") == 1


def test_adding_a_lesson_recomputes_everyones_progress(user):
    course, lessons = course_with_lessons(1)
    client_for(user).post(f"{LIST}{course.slug}/enrollment/")
    client_for(user).post(f"/api/v1/lessons/{lessons[0].id}/complete/")
    client_for(course.instructor).post(f"{LIST}{course.slug}/lessons/", {"title": "Bonus"})
    assert Enrollment.objects.get(user=user).progress_percent == 50


def test_quiz_is_scored_on_the_server_and_passing_completes_the_lesson(
    user, heard, django_capture_on_commit_callbacks
):
    course, lessons = course_with_lessons(2)
    _, answers = add_quiz(lessons[0], pass_mark=100)
    client = client_for(user)
    url = f"/api/v1/lessons/{lessons[0].id}/quiz/attempts/"
    assert client.post(url, {"answers": {}}, format="json").status_code == 403
    client.post(f"{LIST}{course.slug}/enrollment/")

    (q1, right1), (q2, right2) = answers
    wrong = client.post(url, {"answers": {str(q1.id): [right1.id]}}, format="json")
    assert wrong.status_code == 201
    assert (wrong.json()["score"], wrong.json()["passed"]) == (50, False)
    assert not LessonProgress.objects.filter(user=user).exists()

    with django_capture_on_commit_callbacks(execute=True):
        passed = client.post(
            url, {"answers": {str(q1.id): [right1.id], str(q2.id): [right2.id]}}, format="json"
        )
    assert (passed.json()["score"], passed.json()["passed"]) == (100, True)
    assert LessonProgress.objects.filter(user=user, lesson=lessons[0]).exists()
    quiz_events = [e for e in heard if e.name == "quiz.passed"]
    assert [e.payload["score"] for e in quiz_events] == [100]

    bogus = client.post(url, {"answers": {"999999": [1]}}, format="json")
    assert bogus.status_code == 400
    assert QuizAttempt.objects.count() == 2


def test_reviews(user, django_capture_on_commit_callbacks):
    course, _ = course_with_lessons(1)
    client = client_for(user)
    url = f"{LIST}{course.slug}/reviews/"
    assert client.post(url, {"rating": 5}).status_code == 403
    client.post(f"{LIST}{course.slug}/enrollment/")
    assert client.post(url, {"rating": 6}).status_code == 400
    created = client.post(url, {"rating": 4, "text": "Clear and kind."})
    assert created.status_code == 201
    duplicate = client.post(url, {"rating": 1})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "conflict"

    other = UserFactory()
    enroll(other, course)
    client_for(other).post(url, {"rating": 2})
    course.refresh_from_db()
    assert (course.rating_count, course.rating_avg) == (2, 3.0)
    listing = client.get(url).json()
    assert [r["rating"] for r in listing["results"]] == [2, 4]


def test_stats_for_the_owner_with_daily_history(user):
    course, lessons = course_with_lessons(1)
    _, answers = add_quiz(lessons[0], pass_mark=50)
    client = client_for(user)
    client.post(f"{LIST}{course.slug}/enrollment/")
    client.post(
        f"/api/v1/lessons/{lessons[0].id}/quiz/attempts/",
        {"answers": {str(q.id): [c.id] for q, c in answers}},
        format="json",
    )
    enroll(UserFactory(), course)

    today = timezone.now().date()
    assert aggregate_course_daily_stats(day=today.isoformat()) == 1
    assert aggregate_course_daily_stats(day=today.isoformat()) == 1  # re-run is safe
    assert CourseDailyStats.objects.filter(course=course).count() == 1
    aggregate_course_daily_stats(day=(today - timedelta(days=1)).isoformat())

    stats = client_for(course.instructor).get(f"{LIST}{course.slug}/stats/").json()
    assert (stats["enrollments"], stats["completions"]) == (2, 1)
    assert stats["completion_rate"] == 0.5
    assert stats["average_quiz_score"] == 100.0
    assert stats["daily"] == [
        {
            "day": today.isoformat(),
            "new_enrollments": 2,
            "completions": 1,
            "active_learners": 1,
            "quiz_attempts": 1,
            "quiz_pass_rate": 1.0,
        }
    ]


@pytest.mark.parametrize("count", [1, 50])
def test_my_enrollments_query_count_does_not_grow(user, django_assert_max_num_queries, count):
    for _ in range(count):
        enroll(user, CourseFactory())
    client = client_for(user)
    with django_assert_max_num_queries(7):
        response = client.get("/api/v1/me/enrollments/", {"page_size": 50})
    assert len(response.json()["results"]) == count


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_completions_leave_exact_progress(heard):
    course, lessons = course_with_lessons(20)
    learner = UserFactory()
    enroll(learner, course)
    barrier = threading.Barrier(len(lessons))
    statuses: list[int] = []

    def complete(lesson_id: int) -> None:
        try:
            client = client_for(learner)
            barrier.wait(timeout=20)
            statuses.append(client.post(f"/api/v1/lessons/{lesson_id}/complete/").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=complete, args=(lesson.id,)) for lesson in lessons]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * 20
    enrollment = Enrollment.objects.get(user=learner, course=course)
    assert enrollment.progress_percent == 100
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert LessonProgress.objects.filter(enrollment=enrollment).count() == 20
    assert [e.name for e in heard].count("course.completed") == 1
    assert [e.name for e in heard].count("lesson.completed") == 20
