import pytest

from apps.media.models import MediaFile
from tests.courses.factories import LessonFactory
from tests.factories import UserFactory, client_for
from tests.media.factories import media_for

pytestmark = pytest.mark.django_db

LIST = "/api/v1/courses/"


def test_course_cover_is_attached_shown_and_public_once_published(api_client):
    instructor = UserFactory(roles=["instructor"])
    cover = media_for(instructor, purpose="course_cover")
    client = client_for(instructor)
    created = client.post(LIST, {"title": "Covered", "cover": str(cover.pk)})
    assert created.status_code == 201, created.json()
    assert created.json()["cover"]["id"] == str(cover.pk)
    assert created.json()["cover"]["url"]
    assert MediaFile.objects.get(pk=cover.pk).attached_at is not None

    stranger = client_for(UserFactory())
    assert stranger.get(f"/api/v1/media/{cover.pk}/").status_code == 404  # draft
    slug = created.json()["slug"]
    from apps.courses.models import Course

    LessonFactory(course=Course.objects.get(slug=slug))
    client.post(f"{LIST}{slug}/publish/")
    assert stranger.get(f"/api/v1/media/{cover.pk}/").status_code == 200
    assert api_client.get(LIST).json()["results"][0]["cover"]["id"] == str(cover.pk)


def test_someone_elses_media_cannot_be_a_cover_and_replacing_detaches():
    instructor = UserFactory(roles=["instructor"])
    other = UserFactory()
    theirs = media_for(other, purpose="course_cover")
    client = client_for(instructor)
    refused = client.post(LIST, {"title": "Nope", "cover": str(theirs.pk)})
    assert refused.status_code == 404

    first = media_for(instructor, purpose="course_cover")
    second = media_for(instructor, purpose="course_cover")
    slug = client.post(LIST, {"title": "Swap", "cover": str(first.pk)}).json()["slug"]
    swapped = client.patch(f"{LIST}{slug}/", {"cover": str(second.pk)}, format="json")
    assert swapped.json()["cover"]["id"] == str(second.pk)
    assert MediaFile.objects.get(pk=first.pk).attached_at is None
    cleared = client.patch(f"{LIST}{slug}/", {"cover": None}, format="json")
    assert cleared.json()["cover"] is None
    assert MediaFile.objects.get(pk=second.pk).attached_at is None
