"""Lesson attachments: media files (purpose lesson_attachment) listed on a lesson, in order,
shown with signed URLs to whoever may open the lesson, and released when they leave it."""

import pytest

from apps.courses.models import Course, LessonAttachment
from apps.media import services as media_services
from apps.media.models import MediaFile
from tests.courses.factories import (
    CourseFactory,
    LessonFactory,
    add_quiz,
    course_with_lessons,
    enroll,
)
from tests.factories import UserFactory, client_for
from tests.media.factories import PDF, fetch, media_for, sha256

pytestmark = pytest.mark.django_db


def lessons_url(course) -> str:
    return f"/api/v1/courses/{course.slug}/lessons/"


def lesson_url(lesson) -> str:
    return f"/api/v1/lessons/{lesson.pk}/"


def media_url(media) -> str:
    return f"/api/v1/media/{media.pk}/"


def attachment(owner, content: bytes | None = None, name: str = "sheet.png") -> MediaFile:
    return media_for(owner, content, purpose="lesson_attachment", name=name)


def attached(media) -> bool:
    return MediaFile.objects.get(pk=media.pk).attached_at is not None


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["attachments"]]


@pytest.fixture
def instructor():
    return UserFactory(roles=["instructor"])


@pytest.fixture
def course(instructor):
    return CourseFactory(instructor=instructor)


def add_lesson(instructor, course, files, **fields):
    """A lesson with `files` attached, created through the API as the instructor."""
    body = {"title": "With files", **fields, "attachments": [str(f.pk) for f in files]}
    response = client_for(instructor).post(lessons_url(course), body, format="json")
    assert response.status_code == 201, response.json()
    return response


# --- Attaching and rendering -----------------------------------------------------------------


def test_attachments_are_attached_in_order_and_rendered_with_working_urls(instructor, course):
    pdf = attachment(instructor, PDF, name="notes.pdf")
    image = attachment(instructor)
    created = add_lesson(instructor, course, [pdf, image])

    items = created.json()["attachments"]
    assert [item["id"] for item in items] == [str(pdf.pk), str(image.pk)]
    assert items[0]["content_type"] == "application/pdf"
    assert items[1]["width"] == image.width
    status, _, content = fetch(items[0]["url"])
    assert status == 200 and sha256(content) == pdf.sha256
    assert attached(pdf) and attached(image)

    learner = UserFactory()
    enroll(learner, course)
    lesson_id = created.json()["id"]
    detail = client_for(learner).get(f"/api/v1/lessons/{lesson_id}/")
    assert ids(detail) == [str(pdf.pk), str(image.pk)]
    listed = client_for(learner).get(lessons_url(course)).json()["results"]
    assert [item["id"] for item in listed[0]["attachments"]] == [str(pdf.pk), str(image.pk)]


def test_attachments_are_content_hidden_until_the_lesson_can_be_opened(
    instructor, course, api_client
):
    locked_file, preview_file = attachment(instructor), attachment(instructor)
    locked = add_lesson(instructor, course, [locked_file]).json()["id"]
    preview = add_lesson(instructor, course, [preview_file], is_preview=True).json()["id"]

    stranger = client_for(UserFactory())
    body = stranger.get(f"/api/v1/lessons/{locked}/").json()
    assert body["content_available"] is False and body["attachments"] is None
    assert ids(api_client.get(f"/api/v1/lessons/{preview}/")) == [str(preview_file.pk)]
    by_id = {item["id"]: item for item in stranger.get(lessons_url(course)).json()["results"]}
    assert by_id[locked]["attachments"] is None
    assert [item["id"] for item in by_id[preview]["attachments"]] == [str(preview_file.pk)]


# --- Who may fetch the files (GET /api/v1/media/{id}/) ----------------------------------------


def test_enrolled_learners_fetch_attachments_others_get_404(instructor, course):
    file = attachment(instructor)
    add_lesson(instructor, course, [file])
    learner = UserFactory()
    client = client_for(learner)

    refused = client.get(media_url(file))
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    enroll(learner, course)
    allowed = client.get(media_url(file))
    assert allowed.status_code == 200
    status, _, content = fetch(allowed.json()["url"])
    assert status == 200 and sha256(content) == file.sha256

    # Unenrolled again: the file goes with the lesson.
    assert client.delete(f"/api/v1/courses/{course.slug}/enrollment/").status_code == 204
    assert client.get(media_url(file)).status_code == 404
    # Others who may see it still may not delete it.
    assert client_for(UserFactory(roles=["admin"])).delete(media_url(file)).status_code == 403
    assert attached(file)


def test_editors_fetch_attachments_and_preview_files_are_for_everyone_signed_in(instructor):
    draft = CourseFactory(instructor=instructor, status=Course.Status.DRAFT, published_at=None)
    draft_preview = attachment(instructor)
    add_lesson(instructor, draft, [draft_preview], is_preview=True)
    published = CourseFactory(instructor=instructor)
    preview = attachment(instructor)
    add_lesson(instructor, published, [preview], is_preview=True)

    stranger = client_for(UserFactory())
    assert stranger.get(media_url(preview)).status_code == 200
    assert stranger.get(media_url(draft_preview)).status_code == 404  # drafts stay hidden
    admin = client_for(UserFactory(roles=["admin"]))
    assert admin.get(media_url(draft_preview)).status_code == 200
    assert client_for(instructor).get(media_url(draft_preview)).status_code == 200


# --- Refusals ----------------------------------------------------------------------------------


def test_someone_elses_file_is_not_found_and_nothing_is_attached(instructor, course):
    mine = attachment(instructor)
    theirs = attachment(UserFactory())
    response = client_for(instructor).post(
        lessons_url(course),
        {"title": "Borrowed", "attachments": [str(mine.pk), str(theirs.pk)]},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not attached(mine) and not attached(theirs)
    assert not course.lessons.exists()


@pytest.mark.parametrize("purpose", ["course_cover", "post_image", "avatar"])
def test_a_file_of_another_purpose_is_refused(instructor, course, purpose):
    other_use = media_for(instructor, purpose=purpose)
    response = client_for(instructor).post(
        lessons_url(course), {"title": "Wrong", "attachments": [str(other_use.pk)]}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "attachments" in error["details"]
    assert not attached(other_use)


def test_a_file_already_in_use_is_a_conflict(instructor, course):
    file = attachment(instructor)
    add_lesson(instructor, course, [file])
    again = client_for(instructor).post(
        lessons_url(course), {"title": "Twice", "attachments": [str(file.pk)]}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "media_already_attached"


def test_duplicates_and_too_many_files_are_refused_before_anything_is_attached(instructor, course):
    file = attachment(instructor)
    client = client_for(instructor)
    twice = client.post(
        lessons_url(course),
        {"title": "Dup", "attachments": [str(file.pk), str(file.pk)]},
        format="json",
    )
    assert twice.status_code == 400
    assert "attachments" in twice.json()["error"]["details"]
    eleven = [str(attachment(instructor).pk) for _ in range(11)]
    too_many = client.post(
        lessons_url(course), {"title": "Many", "attachments": eleven}, format="json"
    )
    assert too_many.status_code == 400
    assert "attachments" in too_many.json()["error"]["details"]
    assert not MediaFile.objects.filter(attached_at__isnull=False).exists()


def test_others_cannot_attach_files_to_someone_elses_lesson(instructor, course):
    lesson = LessonFactory(course=course)
    intruder = UserFactory(roles=["instructor"])
    theirs = attachment(intruder)
    response = client_for(intruder).patch(
        lesson_url(lesson), {"attachments": [str(theirs.pk)]}, format="json"
    )
    assert response.status_code == 403
    assert not attached(theirs)


# --- Replacing, removing, deleting ---------------------------------------------------------------


def test_update_replaces_the_list_and_releases_removed_files_to_the_orphan_cleanup(
    instructor, course
):
    first, second, third = (attachment(instructor) for _ in range(3))
    lesson_id = add_lesson(instructor, course, [first, second]).json()["id"]
    client = client_for(instructor)
    url = f"/api/v1/lessons/{lesson_id}/"

    untouched = client.patch(url, {"title": "Renamed"}, format="json")
    assert ids(untouched) == [str(first.pk), str(second.pk)]

    replaced = client.patch(url, {"attachments": [str(third.pk), str(second.pk)]}, format="json")
    assert replaced.status_code == 200, replaced.json()
    assert ids(replaced) == [str(third.pk), str(second.pk)]
    assert not attached(first) and attached(second) and attached(third)
    assert MediaFile.objects.get(pk=first.pk).detached_at is not None

    # The cleanup deletes the released file only; the lesson keeps the others.
    assert media_services.media_delete_orphans(older_than_hours=0) == 1
    assert not MediaFile.objects.filter(pk=first.pk).exists()
    assert ids(client.get(url)) == [str(third.pk), str(second.pk)]

    cleared = client.patch(url, {"attachments": []}, format="json")
    assert cleared.json()["attachments"] == []
    assert not attached(second) and not attached(third)
    assert not LessonAttachment.objects.exists()


def test_a_released_file_can_be_attached_again(instructor, course):
    file = attachment(instructor)
    lesson_id = add_lesson(instructor, course, [file]).json()["id"]
    client = client_for(instructor)
    client.patch(f"/api/v1/lessons/{lesson_id}/", {"attachments": []}, format="json")
    other = add_lesson(instructor, course, [file]).json()
    assert [item["id"] for item in other["attachments"]] == [str(file.pk)]
    assert attached(file)


def test_deleting_a_lesson_releases_its_files(instructor, course):
    LessonFactory(course=course)  # a published course keeps at least one lesson
    file = attachment(instructor)
    lesson_id = add_lesson(instructor, course, [file]).json()["id"]
    response = client_for(instructor).delete(f"/api/v1/lessons/{lesson_id}/")
    assert response.status_code == 204
    assert not attached(file)
    assert media_services.media_delete_orphans(older_than_hours=0) == 1


def test_a_deleted_file_leaves_the_lesson(instructor, course):
    kept, deleted = attachment(instructor), attachment(instructor)
    lesson_id = add_lesson(instructor, course, [kept, deleted]).json()["id"]
    client = client_for(instructor)
    assert client.delete(media_url(deleted)).status_code == 204
    assert ids(client.get(f"/api/v1/lessons/{lesson_id}/")) == [str(kept.pk)]


# --- Query budgets -------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 12])
def test_lesson_list_query_count_does_not_grow_with_lessons_and_files(
    count, django_assert_max_num_queries
):
    course, lessons = course_with_lessons(count)
    add_quiz(lessons[0])
    for lesson in lessons:
        for position in range(2):
            file = attachment(course.instructor)
            media_services.media_attach(
                media_id=file.pk, owner=course.instructor, purpose="lesson_attachment"
            )
            LessonAttachment.objects.create(lesson=lesson, media=file, position=position)
    learner = UserFactory()
    enroll(learner, course)
    client = client_for(learner)
    # Savepoint and release, user, course and its tags, lessons with their quizzes, the
    # quizzes' questions and choices, attachments with their files, enrollment.
    with django_assert_max_num_queries(10):
        response = client.get(lessons_url(course))
    results = response.json()["results"]
    assert len(results) == count
    assert all(len(item["attachments"]) == 2 and item["content_available"] for item in results)
    with django_assert_max_num_queries(10):
        detail = client.get(lesson_url(lessons[0]))
    assert len(detail.json()["attachments"]) == 2
