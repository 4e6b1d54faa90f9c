"""GET /me/export/: every section holds the caller's own data and nobody else's, at a fixed
number of queries whatever the amount of data."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.courses.models import LessonProgress, QuizAttempt, Review
from apps.gamification import services as gamification
from apps.gamification.models import Achievement, UserAchievement, WeeklySnapshot
from apps.media.models import MediaFile
from apps.social.models import Like, Report
from tests.courses.factories import CourseFactory, add_quiz, course_with_lessons, enroll
from tests.factories import UserFactory, client_for
from tests.social.factories import (
    CommentFactory,
    FollowFactory,
    MembershipFactory,
    PostFactory,
    StudyGroupFactory,
)

pytestmark = pytest.mark.django_db


def populate(user, rows: int, tag: str) -> dict:
    """`rows` rows of the person in every export section; returns what to look for."""
    group = StudyGroupFactory(name=f"{tag} group")
    MembershipFactory(group=group, user=user)
    made = {"group": group.pk, "courses": [], "authored": [], "posts": [], "comments": []}
    for n in range(rows):
        course, lessons = course_with_lessons(2, title=f"{tag} course {n}")
        enrollment = enroll(user, course)
        LessonProgress.objects.create(user=user, lesson=lessons[0], enrollment=enrollment)
        quiz, answers = add_quiz(lessons[1])
        QuizAttempt.objects.create(
            user=user,
            quiz=quiz,
            answers={str(q.pk): [c.pk] for q, c in answers},
            score=100,
            passed=True,
        )
        Review.objects.create(user=user, course=course, rating=4, text=f"{tag} review {n}")
        made["courses"].append(course.slug)
        made["authored"].append(
            CourseFactory(instructor=user, title=f"{tag} authored {n}", status="draft").slug
        )

        post = PostFactory(author=user, body=f"{tag} post {n}", group=group if n % 2 else None)
        made["posts"].append(post.pk)
        made["comments"].append(
            CommentFactory(author=user, post=PostFactory(), body=f"{tag} comment {n}").pk
        )
        Like.objects.create(user=user, post=PostFactory())
        FollowFactory(follower=user)
        FollowFactory(followee=user)
        Report.objects.create(
            reporter=user, target_type="post", target_id=post.pk + 1000, reason=f"{tag} spam {n}"
        )

        gamification.xp_award(user_id=user.pk, action="lesson.completed", source_key=f"{tag}:{n}")
        WeeklySnapshot.objects.create(
            week_start=timezone.now().date() - timedelta(weeks=n + 1), rank=n + 1, user=user, xp=5
        )
        MediaFile.objects.create(
            owner=user,
            purpose=MediaFile.Purpose.POST_IMAGE,
            storage_key=f"test/{uuid.uuid4().hex}.png",
            original_filename=f"{tag}-{n}.png",
            content_type="image/png",
            size=100 + n,
        )
    for achievement in Achievement.objects.order_by("id")[:rows]:
        UserAchievement.objects.get_or_create(user=user, achievement=achievement)
    return made


@pytest.fixture
def me_and_other():
    me, other = UserFactory(display_name="Me"), UserFactory(display_name="Other")
    return (me, populate(me, 3, "mine")), (other, populate(other, 2, "theirs"))


def test_every_section_holds_my_data_and_not_anyone_elses(me_and_other):
    (me, mine), (other, theirs) = me_and_other

    response = client_for(me).get("/api/v1/me/export/")

    assert response.status_code == 200
    body = response.json()
    assert body["profile"]["id"] == me.pk and body["profile"]["email"] == me.email

    enrollments = body["enrollments"]
    assert [e["course"]["slug"] for e in enrollments] == mine["courses"]
    assert all(e["course"]["title"].startswith("mine course") for e in enrollments)
    assert all(e["status"] == "active" and e["enrolled_at"] for e in enrollments)
    lessons = [lesson for e in enrollments for lesson in e["completed_lessons"]]
    assert len(lessons) == 3 and all(lesson["completed_at"] for lesson in lessons)

    assert [a["course_slug"] for a in body["quiz_attempts"]] == mine["courses"]
    assert [r["text"] for r in body["course_reviews"]] == [f"mine review {n}" for n in range(3)]
    assert [c["slug"] for c in body["authored_courses"]] == mine["authored"]
    assert {c["status"] for c in body["authored_courses"]} == {"draft"}

    posts = body["posts"]
    assert [p["id"] for p in posts] == mine["posts"]
    assert [p["body"] for p in posts] == [f"mine post {n}" for n in range(3)]
    assert [p["group"] and p["group"]["id"] for p in posts] == [None, mine["group"], None]
    assert [c["id"] for c in body["comments"]] == mine["comments"]
    assert all(c["body"].startswith("mine comment") for c in body["comments"])

    liked = set(Like.objects.filter(user=me).values_list("post_id", flat=True))
    assert {like["post_id"] for like in body["likes"]} == liked and len(liked) == 3
    follows = body["follows"]
    assert {f["user_id"] for f in follows["following"]} == set(
        me.following_set.values_list("followee_id", flat=True)
    )
    assert {f["user_id"] for f in follows["followers"]} == set(
        me.follower_set.values_list("follower_id", flat=True)
    )
    assert len(follows["following"]) == len(follows["followers"]) == 3
    assert [m["group"]["id"] for m in body["group_memberships"]] == [mine["group"]]
    assert [r["reason"] for r in body["reports"]] == [f"mine spam {n}" for n in range(3)]

    stats = body["gamification"]
    ledger = stats["xp_ledger"]
    assert [e["source_key"] for e in ledger if e["action"] == "lesson.completed"] == [
        f"mine:{n}" for n in range(3)
    ]
    assert all(e["points"] > 0 and e["created_at"] for e in ledger)
    assert stats["xp"] == sum(e["points"] for e in ledger) > 0
    assert stats["level"] >= 1 and stats["current_streak"] >= 1
    assert len(stats["achievements"]) >= 3
    assert all(a["unlocked_at"] for a in stats["achievements"])
    assert len(stats["weekly_rankings"]) == 3

    files = body["media_files"]
    assert [f["original_filename"] for f in files] == [f"mine-{n}.png" for n in range(3)]
    assert all(f["purpose"] == "post_image" and f["content_type"] == "image/png" for f in files)
    assert {f["id"] for f in files} == {
        str(pk) for pk in MediaFile.objects.filter(owner=me).values_list("pk", flat=True)
    }

    # Nothing of the other person's, anywhere in the document.
    text = response.content.decode()
    assert "theirs" not in text
    assert other.email not in text
    assert theirs["group"] not in {m["group"]["id"] for m in body["group_memberships"]}


def test_export_of_someone_without_any_activity(user_client, user):
    body = user_client.get("/api/v1/me/export/").json()
    assert body["profile"]["id"] == user.pk
    for section in ("enrollments", "posts", "comments", "likes", "media_files", "reports"):
        assert body[section] == []
    assert body["follows"] == {"following": [], "followers": []}
    assert body["gamification"]["xp"] == 0 and body["gamification"]["xp_ledger"] == []


def test_export_requires_a_token(api_client):
    assert api_client.get("/api/v1/me/export/").status_code == 401


@pytest.mark.parametrize("rows", [1, 6])
def test_export_query_count_does_not_grow_with_the_data(django_assert_max_num_queries, rows):
    me = UserFactory()
    populate(me, rows, "mine")
    client = client_for(me)
    with django_assert_max_num_queries(24):
        response = client.get("/api/v1/me/export/")
    assert len(response.json()["posts"]) == rows
