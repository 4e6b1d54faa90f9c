"""Post images: a media file (purpose post_image) on a post, shown with a signed URL to whoever
may read the post, changed or removed by its author, released when the post goes."""

import pytest

from apps.media import services as media_services
from apps.media.models import MediaFile
from apps.social.models import Post
from tests.factories import UserFactory, client_for
from tests.media.factories import fetch, media_for, sha256
from tests.social.conftest import assert_error
from tests.social.factories import MembershipFactory, PostFactory, StudyGroupFactory

pytestmark = pytest.mark.django_db

POSTS = "/api/v1/posts/"


def detail(post_id: int) -> str:
    return f"/api/v1/posts/{post_id}/"


def media_url(media) -> str:
    return f"/api/v1/media/{media.pk}/"


def image(owner, purpose: str = "post_image") -> MediaFile:
    return media_for(owner, purpose=purpose)


def attached(media) -> bool:
    return MediaFile.objects.get(pk=media.pk).attached_at is not None


# --- Creating ---------------------------------------------------------------------------------


def test_a_post_with_an_image_attaches_it_and_renders_a_working_url(user, user_client):
    photo = image(user)
    response = user_client.post(POSTS, {"body": "Look", "media": str(photo.pk)})
    assert response.status_code == 201, response.content
    media = response.json()["media"]
    assert media["id"] == str(photo.pk)
    assert (media["content_type"], media["width"], media["height"]) == (
        "image/png",
        photo.width,
        photo.height,
    )
    status, _, content = fetch(media["url"])
    assert status == 200 and sha256(content) == photo.sha256
    assert attached(photo)
    assert Post.objects.get(pk=response.json()["id"]).media_id == photo.pk

    plain = user_client.post(POSTS, {"body": "No picture"})
    assert plain.json()["media"] is None
    explicit_null = user_client.post(POSTS, {"body": "None either", "media": None}, format="json")
    assert explicit_null.status_code == 201 and explicit_null.json()["media"] is None


def test_someone_elses_image_is_not_found_and_no_post_is_made(user_client):
    theirs = image(UserFactory())
    response = user_client.post(POSTS, {"body": "Borrowed", "media": str(theirs.pk)})
    assert_error(response, 404, "not_found")
    unknown = user_client.post(
        POSTS, {"body": "Nothing", "media": "00000000-0000-4000-8000-000000000000"}
    )
    assert_error(unknown, 404, "not_found")
    assert not Post.objects.exists()
    assert not attached(theirs)


@pytest.mark.parametrize("purpose", ["avatar", "course_cover", "lesson_attachment"])
def test_a_file_of_another_purpose_is_refused(user, user_client, purpose):
    other_use = image(user, purpose=purpose)
    response = user_client.post(POSTS, {"body": "Wrong", "media": str(other_use.pk)})
    error = assert_error(response, 400, "validation_error")
    assert "media" in error["details"]
    assert not Post.objects.exists() and not attached(other_use)


def test_an_image_already_in_use_is_a_conflict(user, user_client):
    photo = image(user)
    assert user_client.post(POSTS, {"body": "First", "media": str(photo.pk)}).status_code == 201
    again = user_client.post(POSTS, {"body": "Second", "media": str(photo.pk)})
    assert_error(again, 409, "media_already_attached")
    assert Post.objects.count() == 1


def test_a_malformed_media_id_is_a_validation_error(user_client):
    error = assert_error(
        user_client.post(POSTS, {"body": "x", "media": "not-a-uuid"}), 400, "validation_error"
    )
    assert "media" in error["details"]


def test_a_failed_post_leaves_the_image_free(user, user_client):
    """The group check fails after nothing was attached, or rolls the attachment back."""
    photo = image(user)
    private = StudyGroupFactory(is_private=True)
    response = user_client.post(
        POSTS, {"body": "Not a member", "group": private.pk, "media": str(photo.pk)}
    )
    assert response.status_code == 403
    assert not attached(photo)
    assert user_client.post(POSTS, {"body": "Later", "media": str(photo.pk)}).status_code == 201


# --- Who may fetch the image (GET /api/v1/media/{id}/) ----------------------------------------


def test_private_group_images_are_for_members_only(user, user_client):
    group = StudyGroupFactory(is_private=True, owner=user)
    member = MembershipFactory(group=group).user
    photo = image(user)
    response = user_client.post(POSTS, {"body": "Ours", "group": group.pk, "media": str(photo.pk)})
    assert response.status_code == 201, response.content

    allowed = client_for(member).get(media_url(photo))
    assert allowed.status_code == 200
    assert fetch(allowed.json()["url"])[0] == 200
    assert_error(client_for(UserFactory()).get(media_url(photo)), 404, "not_found")
    moderator = client_for(UserFactory(roles=["moderator"]))
    assert moderator.get(media_url(photo)).status_code == 200
    # Members see it, they do not get to delete it.
    assert_error(client_for(member).delete(media_url(photo)), 403, "permission_denied")


def test_public_post_images_follow_the_post_through_hiding(user, user_client):
    photo = image(user)
    post_id = user_client.post(POSTS, {"body": "Hi", "media": str(photo.pk)}).json()["id"]
    stranger = client_for(UserFactory())
    assert stranger.get(media_url(photo)).status_code == 200
    Post.objects.filter(pk=post_id).update(is_hidden=True)
    assert_error(stranger.get(media_url(photo)), 404, "not_found")
    assert user_client.get(media_url(photo)).status_code == 200  # the owner always


# --- Changing, removing, deleting -------------------------------------------------------------


def test_author_changes_and_removes_the_image_releasing_the_old_one(user, user_client):
    first, second = image(user), image(user)
    post_id = user_client.post(POSTS, {"body": "v1", "media": str(first.pk)}).json()["id"]

    untouched = user_client.patch(detail(post_id), {"body": "v2"})
    assert untouched.json()["media"]["id"] == str(first.pk)

    swapped = user_client.patch(detail(post_id), {"media": str(second.pk)})
    assert swapped.status_code == 200, swapped.content
    assert swapped.json()["media"]["id"] == str(second.pk)
    assert not attached(first) and attached(second)
    assert MediaFile.objects.get(pk=first.pk).detached_at is not None

    same = user_client.patch(detail(post_id), {"media": str(second.pk)})
    assert same.status_code == 200 and attached(second)

    cleared = user_client.patch(detail(post_id), {"media": None}, format="json")
    assert cleared.json()["media"] is None
    assert not attached(second)
    # Released files are left to the orphan cleanup.
    assert media_services.media_delete_orphans(older_than_hours=0) == 2
    assert not MediaFile.objects.filter(pk__in=[first.pk, second.pk]).exists()


def test_a_refused_change_keeps_the_current_image(user, user_client):
    photo = image(user)
    post_id = user_client.post(POSTS, {"body": "v1", "media": str(photo.pk)}).json()["id"]
    theirs = image(UserFactory())
    assert_error(user_client.patch(detail(post_id), {"media": str(theirs.pk)}), 404, "not_found")
    assert attached(photo)
    assert user_client.get(detail(post_id)).json()["media"]["id"] == str(photo.pk)


def test_only_the_author_changes_the_image(user):
    post = PostFactory(author=user)
    moderator = UserFactory(roles=["moderator"])
    theirs = image(moderator)
    response = client_for(moderator).patch(detail(post.pk), {"media": str(theirs.pk)})
    assert_error(response, 403, "permission_denied")
    stranger = UserFactory()
    response = client_for(stranger).patch(detail(post.pk), {"media": None}, format="json")
    assert_error(response, 403, "permission_denied")
    assert not attached(theirs)


def test_deleting_a_post_releases_its_image(user, user_client):
    photo = image(user)
    post_id = user_client.post(POSTS, {"body": "Bye", "media": str(photo.pk)}).json()["id"]
    reader = client_for(UserFactory())
    assert reader.get(media_url(photo)).status_code == 200
    assert user_client.delete(detail(post_id)).status_code == 204
    assert not attached(photo)
    assert Post.objects.get(pk=post_id).media_id is None
    assert_error(reader.get(media_url(photo)), 404, "not_found")
    assert media_services.media_delete_orphans(older_than_hours=0) == 1


def test_a_moderator_deleting_a_post_releases_its_image(user, user_client):
    photo = image(user)
    post_id = user_client.post(POSTS, {"body": "Spam", "media": str(photo.pk)}).json()["id"]
    moderator = client_for(UserFactory(roles=["moderator"]))
    assert moderator.delete(detail(post_id)).status_code == 204
    assert not attached(photo)


def test_deleting_the_file_removes_it_from_the_post(user, user_client):
    photo = image(user)
    post_id = user_client.post(POSTS, {"body": "Gone", "media": str(photo.pk)}).json()["id"]
    assert user_client.delete(media_url(photo)).status_code == 204
    assert user_client.get(detail(post_id)).json()["media"] is None
