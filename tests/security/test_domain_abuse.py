"""Issue 13, items 10-13 and 17: abuse of the learning and social rules.

Each test is named after its item and fails on the code before the fix: a join request that
reveals a private group, time-zone changes that reopen daily caps or stretch streaks, XP
earned from one's own content, quiz lessons completed without passing and unlimited attempts,
and lesson images loaded from anywhere.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.courses.models import Enrollment, LessonProgress, Quiz, QuizAttempt
from apps.courses.selectors import completed_course_count
from apps.gamification import services as gamification
from apps.gamification.models import UserAchievement, UserStats, XPTransaction
from apps.social.models import Membership
from tests.courses.factories import CourseFactory, LessonFactory, add_quiz, course_with_lessons
from tests.factories import UserFactory, client_for
from tests.media.factories import media_for
from tests.social.concurrency import run_concurrently
from tests.social.conftest import assert_error
from tests.social.factories import MembershipFactory, PostFactory, StudyGroupFactory

pytestmark = pytest.mark.django_db

GROUPS = "/api/v1/groups/"
SEALED = ("name", "description", "owner", "course", "member_count", "created_at")


# --- Item 10: a join request reveals nothing of a private group ------------------------------


@pytest.fixture
def moderator():
    return UserFactory(roles=["moderator"])


@pytest.fixture
def secret_group():
    return StudyGroupFactory(
        is_private=True, name="Acquisition war room", description="Project Falcon, do not share"
    )


def test_item10_join_request_does_not_reveal_a_private_group(secret_group, moderator):
    stranger = UserFactory()
    client = client_for(stranger)

    joined = client.post(f"{GROUPS}{secret_group.pk}/join/")
    assert joined.status_code == 201
    assert joined.json()["status"] == "pending"
    assert joined.json()["user"]["id"] == stranger.pk  # only the caller's own request
    assert "Falcon" not in joined.content.decode() and "war room" not in joined.content.decode()

    detail = client.get(f"{GROUPS}{secret_group.pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert {field: body[field] for field in SEALED} == dict.fromkeys(SEALED)
    assert (body["id"], body["is_private"]) == (secret_group.pk, True)
    assert body["my_membership"]["status"] == "pending"

    for query in ({}, {"mine": "true"}):
        listed = client.get(GROUPS, query).json()["results"]
        assert [(g["id"], g["name"], g["owner"]) for g in listed] == [(secret_group.pk, None, None)]
    # Searching cannot probe the name either.
    assert client.get(GROUPS, {"q": "war"}).json()["results"] == []

    export = client.get("/api/v1/me/export/")
    assert [m["group"] for m in export.json()["group_memberships"]] == [
        {"id": secret_group.pk, "name": None}
    ]
    for response in (detail, export, client.get(GROUPS), client.get(GROUPS, {"mine": "true"})):
        for text in ("Falcon", "war room", secret_group.owner.email):
            assert text not in response.content.decode()

    # Members and moderators see the group; the requester does once approved.
    assert client_for(moderator).get(f"{GROUPS}{secret_group.pk}/").json()["name"] == (
        secret_group.name
    )
    approve = f"{GROUPS}{secret_group.pk}/members/{stranger.pk}/approve/"
    assert client_for(secret_group.owner).post(approve).status_code == 200
    now_member = client.get(f"{GROUPS}{secret_group.pk}/").json()
    assert (now_member["name"], now_member["owner"]["id"]) == (
        secret_group.name,
        secret_group.owner.pk,
    )
    assert now_member["member_count"] == 2


def test_item10_sealed_groups_do_not_sort_by_their_hidden_name(secret_group):
    stranger = UserFactory()
    client = client_for(stranger)
    client.post(f"{GROUPS}{secret_group.pk}/join/")
    before = StudyGroupFactory(name="AAA open")
    after = StudyGroupFactory(name="ZZZ open")
    listed = [g["id"] for g in client.get(GROUPS).json()["results"]]
    assert listed == [before.pk, after.pk, secret_group.pk]


# --- Item 11: time zones cannot game daily caps or streaks -----------------------------------


def test_item11_time_zone_changes_at_most_once_a_day(user_client, user):
    first = user_client.patch("/api/v1/me/", {"timezone": "Asia/Tokyo"}, format="json")
    assert first.status_code == 200 and first.json()["timezone"] == "Asia/Tokyo"

    again = user_client.patch("/api/v1/me/", {"timezone": "America/New_York"}, format="json")
    error = assert_error(again, 400, "validation_error")
    assert "24 hours" in error["details"]["timezone"][0]
    assert User.objects.get(pk=user.pk).timezone == "Asia/Tokyo"
    # Sending the current zone again is no change; other fields still save.
    same = user_client.patch(
        "/api/v1/me/", {"timezone": "Asia/Tokyo", "display_name": "Kai"}, format="json"
    )
    assert same.status_code == 200 and same.json()["display_name"] == "Kai"

    User.objects.filter(pk=user.pk).update(
        timezone_changed_at=timezone.now() - timedelta(hours=24, seconds=1)
    )
    later = user_client.patch("/api/v1/me/", {"timezone": "America/New_York"}, format="json")
    assert later.status_code == 200 and later.json()["timezone"] == "America/New_York"


@pytest.mark.django_db(transaction=True)
def test_item11_concurrent_time_zone_changes_let_one_through():
    user = UserFactory()
    zones = ["Asia/Tokyo", "Europe/Paris", "America/Denver", "Australia/Perth"]

    def change(index: int) -> int:
        response = client_for(user).patch("/api/v1/me/", {"timezone": zones[index]}, format="json")
        return response.status_code

    statuses = run_concurrently(len(zones), change)
    assert sorted(statuses) == [200] + [400] * (len(zones) - 1)
    assert User.objects.get(pk=user.pk).timezone == zones[statuses.index(200)]


# 20:00 UTC on June 1st: 16:00 on June 1st in New York, already 05:00 on June 2nd in Tokyo.
EVENING_IN_NEW_YORK = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)


def _move_to_tokyo(user) -> None:
    """The zone changes without the API's once-a-day limit: the counting must hold alone."""
    User.objects.filter(pk=user.pk).update(timezone="Asia/Tokyo")


def test_item11_a_time_zone_change_does_not_reopen_the_daily_cap():
    user = UserFactory(timezone="America/New_York")

    def post(n: int, when: datetime):
        return gamification.xp_award(
            user_id=user.pk, action="post.created", source_key=f"post:{n}", occurred_at=when
        )

    for n in range(10):
        post(n, EVENING_IN_NEW_YORK)
    _move_to_tokyo(user)
    for n in range(10, 20):
        post(n, EVENING_IN_NEW_YORK + timedelta(seconds=10))
    earned = XPTransaction.objects.filter(user=user, action="post.created")
    assert sum(earned.values_list("points", flat=True)) == 20  # the cap, not 40

    # The next day is counted in the new zone: 05:00 UTC on June 2nd is 14:00 in Tokyo.
    post(20, datetime(2026, 6, 2, 5, 0, tzinfo=UTC))
    assert sum(earned.values_list("points", flat=True)) == 22


def test_item11_a_time_zone_change_does_not_extend_a_streak():
    user = UserFactory(timezone="America/New_York")

    def learn(n: int, when: datetime) -> None:
        gamification.xp_award(
            user_id=user.pk, action="lesson.completed", source_key=f"lesson:{n}", occurred_at=when
        )

    learn(1, EVENING_IN_NEW_YORK)
    _move_to_tokyo(user)
    learn(2, EVENING_IN_NEW_YORK + timedelta(seconds=10))
    stats = UserStats.objects.select_related("user").get(user=user)
    assert stats.current_streak == 1  # not a 2-day streak in 10 seconds
    assert not XPTransaction.objects.filter(user=user, action="streak.daily").exists()
    assert gamification.streak_current(stats=stats, now=EVENING_IN_NEW_YORK) == 1

    # Once New York's June 1st is over, Tokyo's calendar counts: a real second day.
    learn(3, datetime(2026, 6, 2, 5, 0, tzinfo=UTC))
    assert UserStats.objects.get(user=user).current_streak == 2


# --- Item 12: no XP from one's own content ---------------------------------------------------


def _xp(user) -> list[str]:
    return sorted(XPTransaction.objects.filter(user=user).values_list("action", flat=True))


def test_item12_no_xp_for_learning_in_ones_own_course(django_capture_on_commit_callbacks):
    course, lessons = course_with_lessons(2)
    _, answers = add_quiz(lessons[1], pass_mark=100)
    learner = UserFactory()
    right = {"answers": {str(q.id): [c.id] for q, c in answers}}
    for person in (course.instructor, learner):
        client = client_for(person)
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(f"/api/v1/courses/{course.slug}/enrollment/").status_code == 201
            assert client.post(f"/api/v1/lessons/{lessons[0].id}/complete/").status_code == 200
            attempt = client.post(
                f"/api/v1/lessons/{lessons[1].id}/quiz/attempts/", right, format="json"
            )
        assert attempt.json()["passed"] is True
        assert LessonProgress.objects.filter(user=person).count() == 2  # the action stands

    assert _xp(course.instructor) == []
    assert not UserAchievement.objects.filter(user=course.instructor).exists()
    assert UserStats.objects.filter(user=course.instructor, current_streak__gt=0).count() == 0
    assert {"lesson.completed", "quiz.passed", "quiz.perfect", "course.completed"} <= set(
        _xp(learner)
    )
    # The "courses completed" achievement counts courses learned, not courses taught.
    assert Enrollment.objects.get(user=course.instructor).completed_at is not None
    assert completed_course_count(user_id=course.instructor.pk) == 0
    assert completed_course_count(user_id=learner.pk) == 1


def test_item12_no_xp_for_commenting_on_ones_own_post(django_capture_on_commit_callbacks):
    author, other = UserFactory(), UserFactory()
    own_post, their_post = PostFactory(author=author), PostFactory(author=other)
    client = client_for(author)
    with django_capture_on_commit_callbacks(execute=True):
        on_own = client.post(f"/api/v1/posts/{own_post.pk}/comments/", {"body": "me again"})
        on_theirs = client.post(f"/api/v1/posts/{their_post.pk}/comments/", {"body": "hi"})
        reply = client.post(
            f"/api/v1/posts/{their_post.pk}/comments/",
            {"body": "and me", "parent": on_theirs.json()["id"]},
        )
    assert (on_own.status_code, on_theirs.status_code, reply.status_code) == (201, 201, 201)
    assert _xp(author) == ["comment.created"]  # only the comment on someone else's post


def test_item12_likes_and_follows_of_oneself_earn_nothing(django_capture_on_commit_callbacks):
    author = UserFactory()
    post = PostFactory(author=author)
    client = client_for(author)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/posts/{post.pk}/like/").status_code == 201
        assert_error(client.post(f"/api/v1/users/{author.pk}/follow/"), 400, "validation_error")
    assert _xp(author) == []


def test_item12_an_instructor_cannot_review_their_own_course():
    course = CourseFactory()
    client = client_for(course.instructor)
    assert client.post(f"/api/v1/courses/{course.slug}/enrollment/").status_code == 201
    review = client.post(f"/api/v1/courses/{course.slug}/reviews/", {"rating": 5, "text": "Great"})
    assert_error(review, 403, "permission_denied")
    course.refresh_from_db()
    assert course.rating_count == 0


# --- Item 13: quizzes complete on a pass, attempts are limited -------------------------------


@pytest.fixture
def quiz_lesson():
    _, lessons = course_with_lessons(2)
    quiz, answers = add_quiz(lessons[0], pass_mark=100)
    return lessons[0], quiz, answers


def _attempt(client, lesson, answers):
    return client.post(
        f"/api/v1/lessons/{lesson.id}/quiz/attempts/", {"answers": answers}, format="json"
    )


def test_item13_quiz_lesson_completes_only_on_a_passing_attempt(user, quiz_lesson):
    lesson, quiz, answers = quiz_lesson
    client = client_for(user)
    client.post(f"/api/v1/courses/{lesson.course.slug}/enrollment/")
    complete = f"/api/v1/lessons/{lesson.id}/complete/"

    error = assert_error(client.post(complete), 409, "conflict")
    assert "quiz" in error["message"]
    assert error["details"] == {
        "missing": "passing_quiz_attempt",
        "quiz_id": quiz.pk,
        "pass_mark": 100,
    }
    (q1, right1), (q2, right2) = answers
    failed = _attempt(client, lesson, {str(q1.id): [right1.id]})
    assert failed.json()["passed"] is False
    assert_error(client.post(complete), 409, "conflict")
    assert not LessonProgress.objects.filter(user=user).exists()

    passed = _attempt(client, lesson, {str(q1.id): [right1.id], str(q2.id): [right2.id]})
    assert passed.json()["passed"] is True
    assert LessonProgress.objects.filter(user=user, lesson=lesson).exists()
    assert client.post(complete).status_code == 200  # idempotent once passed


def test_item13_quiz_attempts_are_limited_per_window(user, quiz_lesson):
    lesson, quiz, answers = quiz_lesson
    Quiz.objects.filter(pk=quiz.pk).update(max_attempts=2, attempt_window_hours=1)
    client = client_for(user)
    client.post(f"/api/v1/courses/{lesson.course.slug}/enrollment/")
    (q1, right1), _ = answers

    for _ in range(2):
        attempt = _attempt(client, lesson, {str(q1.id): [right1.id]})
        assert attempt.status_code == 201
        # The score and the verdict, never which answers were right.
        assert set(attempt.json()) == {"id", "score", "passed", "pass_mark", "created_at"}
    refused = _attempt(client, lesson, {str(q1.id): [right1.id]})
    error = assert_error(refused, 429, "throttled")
    assert "2 attempts every 1 hours" in error["message"]
    assert 3500 <= int(refused["Retry-After"]) <= 3600
    assert QuizAttempt.objects.filter(user=user).count() == 2

    QuizAttempt.objects.filter(user=user).update(
        created_at=timezone.now() - timedelta(hours=1, seconds=1)
    )
    assert _attempt(client, lesson, {str(q1.id): [right1.id]}).status_code == 201


def test_item13_instructors_set_the_attempt_limit_per_quiz():
    course = CourseFactory()
    client = client_for(course.instructor)
    quiz = {
        "pass_mark": 60,
        "max_attempts": 5,
        "attempt_window_hours": 48,
        "questions": [
            {"text": "2+2?", "choices": [{"text": "4", "is_correct": True}, {"text": "5"}]}
        ],
    }
    url = f"/api/v1/courses/{course.slug}/lessons/"
    created = client.post(url, {"title": "Sums", "quiz": quiz}, format="json")
    assert created.status_code == 201, created.content
    shown = created.json()["quiz"]
    assert (shown["max_attempts"], shown["attempt_window_hours"]) == (5, 48)
    bad = client.post(url, {"title": "Bad", "quiz": {**quiz, "max_attempts": 0}}, format="json")
    assert_error(bad, 400, "validation_error")
    defaults = {key: value for key, value in quiz.items() if key != "max_attempts"}
    default = client.post(url, {"title": "Default", "quiz": defaults}, format="json").json()
    assert default["quiz"]["max_attempts"] == Quiz.DEFAULT_MAX_ATTEMPTS


@pytest.mark.django_db(transaction=True)
def test_item13_concurrent_attempts_cannot_exceed_the_limit():
    course, lessons = course_with_lessons(1)
    quiz, answers = add_quiz(lessons[0], pass_mark=100)
    Quiz.objects.filter(pk=quiz.pk).update(max_attempts=3)
    learner = UserFactory()
    client_for(learner).post(f"/api/v1/courses/{course.slug}/enrollment/")
    (q1, right1), _ = answers

    def attempt(_: int) -> int:
        return _attempt(client_for(learner), lessons[0], {str(q1.id): [right1.id]}).status_code

    statuses = run_concurrently(8, attempt)
    assert sorted(statuses) == [201] * 3 + [429] * 5
    assert QuizAttempt.objects.filter(user=learner).count() == 3


# --- Item 17: lesson images only from Lyo's own media ----------------------------------------


def test_item17_lesson_images_come_only_from_own_media():
    course = CourseFactory()
    instructor = course.instructor
    diagram = media_for(instructor, purpose="lesson_attachment", name="diagram.png")
    markdown = (
        "![pixel](https://tracker.example/p.gif?learner=1)\n\n"
        f"![diagram](media:{diagram.pk})\n\n"
        f'<img src="https://evil.example/x.png"><img src="/api/v1/media/{diagram.pk}/content/">\n\n'
        "[docs](https://docs.example/)"
    )
    created = client_for(instructor).post(
        f"/api/v1/courses/{course.slug}/lessons/",
        {"title": "Pictures", "body_markdown": markdown, "attachments": [str(diagram.pk)]},
        format="json",
    )
    assert created.status_code == 201, created.content
    html = created.json()["body_html"]
    assert "tracker.example" not in html and "evil.example" not in html
    assert html.count(f"/api/v1/media/{diagram.pk}/content/?token=") == 2  # fresh signed URLs
    assert '<a href="https://docs.example/" rel="noopener noreferrer nofollow">' in html


def test_item17_stored_external_images_are_dropped_on_reading(user):
    lesson = LessonFactory(body_markdown="", is_preview=True)
    type(lesson).objects.filter(pk=lesson.pk).update(
        body_html='<p><img src="https://tracker.example/p.gif" alt="x">Hello</p>'
    )
    body = client_for(user).get(f"/api/v1/lessons/{lesson.pk}/").json()["body_html"]
    assert "tracker.example" not in body
    assert "Hello" in body


def test_item17_only_the_lessons_own_image_attachments_resolve():
    course = CourseFactory()
    someone_elses = media_for(UserFactory(), purpose="lesson_attachment", name="secret.png")
    created = client_for(course.instructor).post(
        f"/api/v1/courses/{course.slug}/lessons/",
        {"title": "Borrowed", "body_markdown": f"![x](media:{someone_elses.pk})"},
        format="json",
    )
    assert created.status_code == 201
    assert str(someone_elses.pk) not in created.json()["body_html"]


def test_item10_pending_requests_by_members_of_other_groups_stay_sealed():
    """A member of one private group asking to join another sees only their request there."""
    first, second = (StudyGroupFactory(is_private=True) for _ in range(2))
    person = MembershipFactory(group=first).user
    MembershipFactory(group=second, user=person, status=Membership.Status.PENDING)
    listed = {g["id"]: g for g in client_for(person).get(GROUPS).json()["results"]}
    assert listed[first.pk]["name"] == first.name
    assert listed[second.pk]["name"] is None
