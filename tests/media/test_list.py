import pytest

from apps.media.models import MediaFile
from tests.factories import UserFactory
from tests.media.factories import media_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]


def make_files(owner, count: int, *, purpose="post_image") -> list[MediaFile]:
    # Rows only: listing never touches the stored objects (URLs are signed locally).
    return MediaFile.objects.bulk_create(
        MediaFile(
            owner=owner,
            purpose=purpose,
            storage_key=f"media/{purpose}/{owner.pk}-{n}-{purpose}.png",
            content_type="image/png",
            size=100,
            sha256="0" * 64,
            width=1,
            height=1,
        )
        for n in range(count)
    )


def test_lists_only_my_files_newest_first(user_client, user):
    first = media_for(user, purpose="post_image")
    second = media_for(user, purpose="avatar")
    media_for(UserFactory(), purpose="post_image")

    body = user_client.get("/api/v1/media/").json()

    assert [item["id"] for item in body["results"]] == [str(second.pk), str(first.pk)]
    assert body["results"][0]["url"]
    assert {"next", "previous"} <= set(body)


def test_list_filters_by_purpose_and_status(user_client, user):
    make_files(user, 2, purpose="avatar")
    make_files(user, 3, purpose="post_image")
    body = user_client.get("/api/v1/media/", {"purpose": "avatar", "status": "ready"}).json()
    assert len(body["results"]) == 2
    bad = user_client.get("/api/v1/media/", {"purpose": "wallpaper"})
    assert bad.status_code == 400 and "purpose" in bad.json()["error"]["details"]


def test_list_is_cursor_paginated(user_client, user):
    make_files(user, 5)
    first = user_client.get("/api/v1/media/", {"page_size": 2}).json()
    second = user_client.get(first["next"]).json()
    ids = [item["id"] for item in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 4


@pytest.mark.parametrize("count", [3, 40])
def test_list_query_count_does_not_grow_with_the_page(
    user_client, user, count, django_assert_max_num_queries
):
    make_files(user, count)
    # Authentication (user), the page; nothing per file.
    with django_assert_max_num_queries(3):
        response = user_client.get("/api/v1/media/", {"page_size": 100})
    assert len(response.json()["results"]) == count
