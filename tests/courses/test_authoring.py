import json

import pytest

from apps.courses.models import Course, Lesson
from tests.courses.factories import CourseFactory, LessonFactory, add_quiz, enroll
from tests.factories import UserFactory, client_for

pytestmark = pytest.mark.django_db

LIST = "/api/v1/courses/"


@pytest.fixture
def instructor():
    return UserFactory(roles=["instructor"])


def test_students_cannot_author(user_client):
    response = user_client.post(LIST, {"title": "Mine"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_instructor_creates_a_draft_with_a_unique_slug(instructor):
    client = client_for(instructor)
    first = client.post(LIST, {"title": "Intro to SQL", "level": "beginner", "tags": ["sql"]})
    second = client.post(LIST, {"title": "Intro to SQL"})
    assert first.status_code == second.status_code == 201
    assert first.json()["status"] == "draft"
    assert first.json()["tags"] == ["sql"]
    assert (first.json()["slug"], second.json()["slug"]) == ("intro-to-sql", "intro-to-sql-2")


def test_course_input_is_validated(instructor):
    response = client_for(instructor).post(LIST, {"title": "", "level": "expert", "language": "x"})
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"title", "level", "language"}


def test_publish_needs_a_lesson(instructor):
    client = client_for(instructor)
    slug = client.post(LIST, {"title": "Empty"}).json()["slug"]
    response = client.post(f"{LIST}{slug}/publish/")
    assert response.status_code == 400
    assert "lessons" in response.json()["error"]["details"]

    client.post(f"{LIST}{slug}/lessons/", {"title": "Welcome", "body_markdown": "Hi"})
    published = client.post(f"{LIST}{slug}/publish/")
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert published.json()["published_at"]
    # Publishing again changes nothing.
    assert client.post(f"{LIST}{slug}/publish/").json() == published.json()


def test_delete_archives_the_course(instructor, api_client):
    course = CourseFactory(instructor=instructor)
    LessonFactory(course=course)
    assert client_for(instructor).delete(f"{LIST}{course.slug}/").status_code == 204
    course.refresh_from_db()
    assert course.status == Course.Status.ARCHIVED
    assert api_client.get(LIST).json()["count"] == 0
    assert api_client.get(f"{LIST}{course.slug}/").status_code == 200


def test_lesson_body_is_sanitized(instructor):
    course = CourseFactory(instructor=instructor)
    body = (
        "# Title\n<script>alert('x')</script>\n"
        "[click](javascript:alert(1)) <img src=x onerror=alert(1)> "
        '<a href="https://example.com" onclick="steal()">ok</a>'
    )
    response = client_for(instructor).post(
        f"{LIST}{course.slug}/lessons/", {"title": "XSS", "body_markdown": body}
    )
    assert response.status_code == 201
    html = response.json()["body_html"]
    assert "<h1>Title</h1>" in html
    for dangerous in ("<script", "javascript:", "onerror", "onclick", "alert('x')"):
        assert dangerous not in html
    assert 'href="https://example.com"' in html


def test_lesson_with_quiz_is_created_and_answers_never_leak(instructor):
    course = CourseFactory(instructor=instructor)
    quiz = {
        "pass_mark": 50,
        "questions": [
            {
                "text": "2+2?",
                "kind": "single",
                "choices": [{"text": "4", "is_correct": True}, {"text": "5"}],
            }
        ],
    }
    response = client_for(instructor).post(
        f"{LIST}{course.slug}/lessons/", {"title": "Maths", "quiz": quiz}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["has_quiz"] and body["quiz"]["pass_mark"] == 50
    assert [c["text"] for c in body["quiz"]["questions"][0]["choices"]] == ["4", "5"]
    assert "is_correct" not in json.dumps(body)
    listing = client_for(instructor).get(f"{LIST}{course.slug}/lessons/")
    assert "is_correct" not in listing.content.decode()


def test_quiz_definitions_are_validated(instructor):
    course = CourseFactory(instructor=instructor)
    quiz = {
        "questions": [
            {"text": "?", "kind": "single", "choices": [{"text": "a"}, {"text": "b"}]},
        ]
    }
    response = client_for(instructor).post(
        f"{LIST}{course.slug}/lessons/", {"title": "Q", "quiz": quiz}, format="json"
    )
    assert response.status_code == 400
    assert "quiz" in response.json()["error"]["details"]
    assert not Lesson.objects.filter(course=course).exists()


def test_lessons_show_content_only_to_those_who_may_see_it(api_client, instructor):
    course = CourseFactory(instructor=instructor)
    preview = LessonFactory(course=course, is_preview=True, body_markdown="free")
    locked = LessonFactory(course=course, body_markdown="paid", video_url="https://v.example/1")
    add_quiz(locked)
    learner = UserFactory()

    def contents(client):
        lessons = client.get(f"{LIST}{course.slug}/lessons/").json()["results"]
        return {lesson["id"]: lesson["body_html"] for lesson in lessons}

    anonymous = contents(api_client)
    assert anonymous[preview.id] and anonymous[locked.id] is None
    locked_view = api_client.get(f"/api/v1/lessons/{locked.id}/").json()
    assert locked_view["content_available"] is False
    assert locked_view["video_url"] is None and locked_view["quiz"] is None
    assert locked_view["has_quiz"] is True

    assert contents(client_for(learner))[locked.id] is None
    enroll(learner, course)
    assert "paid" in contents(client_for(learner))[locked.id]
    assert "paid" in contents(client_for(instructor))[locked.id]


def test_reordering_and_deleting_lessons_keeps_counts(instructor):
    course = CourseFactory(instructor=instructor)
    first, second = LessonFactory(course=course), LessonFactory(course=course)
    client = client_for(instructor)
    assert client.patch(f"/api/v1/lessons/{second.id}/", {"position": 0}).status_code == 200
    client.patch(f"/api/v1/lessons/{first.id}/", {"position": 1})
    ordered = client.get(f"{LIST}{course.slug}/lessons/").json()["results"]
    assert [lesson["id"] for lesson in ordered] == [second.id, first.id]

    assert client.delete(f"/api/v1/lessons/{first.id}/").status_code == 204
    course.refresh_from_db()
    assert course.lesson_count == 1
    # The last lesson of a published course stays.
    last = client.delete(f"/api/v1/lessons/{second.id}/")
    assert last.status_code == 409
    assert last.json()["error"]["code"] == "conflict"


ROLES = ["anonymous", "student", "enrolled", "other_instructor", "owner", "admin"]


@pytest.fixture
def cast(api_client):
    owner = UserFactory(roles=["instructor"])
    course = CourseFactory(instructor=owner)
    LessonFactory(course=course)
    draft = CourseFactory(instructor=owner, status=Course.Status.DRAFT)
    LessonFactory(course=draft)
    enrolled = UserFactory()
    enroll(enrolled, course)
    clients = {
        "anonymous": api_client,
        "student": client_for(UserFactory()),
        "enrolled": client_for(enrolled),
        "other_instructor": client_for(UserFactory(roles=["instructor"])),
        "owner": client_for(owner),
        "admin": client_for(UserFactory(roles=["admin"])),
    }
    return course, draft, clients


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("view_draft", [404, 404, 404, 404, 200, 200]),
        ("edit", [401, 403, 403, 403, 200, 200]),
        ("publish_draft", [401, 404, 404, 404, 200, 200]),
        ("add_lesson", [401, 403, 403, 403, 201, 201]),
        ("stats", [401, 403, 403, 403, 200, 200]),
        ("review", [401, 403, 201, 403, 403, 403]),
    ],
)
def test_permission_matrix(cast, action, expected):
    course, draft, clients = cast
    requests = {
        "view_draft": lambda c: c.get(f"{LIST}{draft.slug}/"),
        "edit": lambda c: c.patch(f"{LIST}{course.slug}/", {"summary": "changed"}),
        "publish_draft": lambda c: c.post(f"{LIST}{draft.slug}/publish/"),
        "add_lesson": lambda c: c.post(f"{LIST}{course.slug}/lessons/", {"title": "More"}),
        "stats": lambda c: c.get(f"{LIST}{course.slug}/stats/"),
        "review": lambda c: c.post(f"{LIST}{course.slug}/reviews/", {"rating": 5}),
    }
    got = [requests[action](clients[role]).status_code for role in ROLES]
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, expected, strict=True))
