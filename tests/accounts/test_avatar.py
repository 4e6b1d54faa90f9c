"""The profile avatar: a media file of purpose avatar, attached through PATCH /me/."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.media.models import MediaFile
from tests.factories import UserFactory, client_for
from tests.media.factories import fetch, image_bytes, media_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_on_disk(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def test_set_and_show_the_avatar(user_client, user):
    assert user_client.get("/api/v1/me/").json()["avatar"] is None
    media = media_for(user, image_bytes(size=(64, 64)))

    response = user_client.patch("/api/v1/me/", {"avatar": str(media.pk)})

    assert response.status_code == 200, response.content
    avatar = response.json()["avatar"]
    assert avatar["id"] == str(media.pk)
    assert (avatar["width"], avatar["height"]) == (64, 64)
    assert fetch(avatar["url"])[0] == 200
    assert user_client.get("/api/v1/me/").json()["avatar"]["id"] == str(media.pk)
    media.refresh_from_db()
    assert media.is_attached


def test_replacing_or_removing_the_avatar_detaches_the_old_file(user_client, user):
    first, second = media_for(user), media_for(user)
    user_client.patch("/api/v1/me/", {"avatar": str(first.pk)})

    assert user_client.patch("/api/v1/me/", {"avatar": str(second.pk)}).status_code == 200
    first.refresh_from_db()
    assert not first.is_attached and first.detached_at is not None

    # Setting the same avatar again changes nothing.
    assert user_client.patch("/api/v1/me/", {"avatar": str(second.pk)}).status_code == 200

    response = user_client.patch("/api/v1/me/", {"avatar": None}, format="json")
    assert response.status_code == 200 and response.json()["avatar"] is None
    second.refresh_from_db()
    assert not second.is_attached
    user.refresh_from_db()
    assert user.avatar is None


def test_someone_elses_file_cannot_become_my_avatar(user_client, user):
    theirs = media_for(UserFactory())
    response = user_client.patch("/api/v1/me/", {"avatar": str(theirs.pk)})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    user.refresh_from_db()
    assert user.avatar is None
    theirs.refresh_from_db()
    assert not theirs.is_attached


def test_avatar_must_be_an_avatar_upload(user_client, user):
    cover = media_for(user, purpose="course_cover")
    response = user_client.patch("/api/v1/me/", {"avatar": str(cover.pk)})
    assert response.status_code == 400
    assert "avatar" in response.json()["error"]["details"]

    for value in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        response = user_client.patch("/api/v1/me/", {"avatar": value})
        assert response.status_code in (400, 404)


def test_me_with_an_avatar_costs_no_extra_query(user_client, user):
    def queries_of_get_me() -> int:
        with CaptureQueriesContext(connection) as context:
            assert user_client.get("/api/v1/me/").status_code == 200
        return len(context.captured_queries)

    without_avatar = queries_of_get_me()
    user_client.patch("/api/v1/me/", {"avatar": str(media_for(user).pk)})
    assert queries_of_get_me() == without_avatar


def test_others_see_my_avatar_on_my_profile(user_client, user):
    media = media_for(user)
    user_client.patch("/api/v1/me/", {"avatar": str(media.pk)})
    other = client_for(UserFactory())

    profile = other.get(f"/api/v1/users/{user.pk}/").json()

    assert profile["avatar"]["id"] == str(media.pk)
    assert other.get(f"/api/v1/media/{media.pk}/").status_code == 200


def test_deleting_the_account_erases_the_avatar(user, django_capture_on_commit_callbacks):
    client = client_for(user)
    media = media_for(user)
    client.patch("/api/v1/me/", {"avatar": str(media.pk)})

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/v1/me/").status_code == 204

    assert not MediaFile.objects.filter(pk=media.pk).exists()
    from django.core.files.storage import default_storage

    assert not default_storage.exists(media.storage_key)
