import pytest

from apps.media import access, services
from apps.media.models import MediaFile
from tests.factories import UserFactory, client_for
from tests.media.factories import PDF, fetch, media_for, sha256

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]


def set_avatar(user, media):
    services.media_attach(media_id=media.pk, owner=user, purpose="avatar")
    user.avatar = media
    user.save(update_fields=["avatar"])


def test_owner_gets_the_file_with_a_fresh_signed_url(user_client, user):
    media = media_for(user)
    body = user_client.get(f"/api/v1/media/{media.pk}/").json()
    assert body["id"] == str(media.pk) and body["checksum"] == media.sha256
    status, _, content = fetch(body["url"])
    assert status == 200 and sha256(content) == media.sha256


def test_others_get_404_for_files_they_may_not_see(user):
    media = media_for(user)
    other = client_for(UserFactory())
    for response in (
        other.get(f"/api/v1/media/{media.pk}/"),
        other.get("/api/v1/media/00000000-0000-4000-8000-000000000000/"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_anonymous_requests_are_refused(api_client, user):
    media = media_for(user)
    assert api_client.get(f"/api/v1/media/{media.pk}/").status_code == 401


def test_an_active_users_avatar_is_visible_to_signed_in_people(user):
    media = media_for(user)
    set_avatar(user, media)
    other = client_for(UserFactory())

    response = other.get(f"/api/v1/media/{media.pk}/")
    assert response.status_code == 200
    assert fetch(response.json()["url"])[0] == 200

    user.is_active = False
    user.save(update_fields=["is_active"])
    assert other.get(f"/api/v1/media/{media.pk}/").status_code == 404


def test_visibility_rules_registered_by_other_apps_apply_to_attached_files(user):
    media = media_for(user, purpose="post_image")
    viewer = UserFactory()
    seen = []

    def visible_to_viewer(who, media_file) -> bool:
        seen.append(media_file.pk)
        return who.pk == viewer.pk

    access.register_visibility_rule("post_image", visible_to_viewer)
    try:
        # Not attached to anything yet: nobody but the owner sees it, rule or not.
        assert client_for(viewer).get(f"/api/v1/media/{media.pk}/").status_code == 404
        services.media_attach(media_id=media.pk, owner=user, purpose="post_image")
        assert client_for(viewer).get(f"/api/v1/media/{media.pk}/").status_code == 200
        assert client_for(UserFactory()).get(f"/api/v1/media/{media.pk}/").status_code == 404
        assert seen == [media.pk, media.pk]
    finally:
        access.unregister_visibility_rule("post_image", visible_to_viewer)


def test_owner_deletes_and_the_object_goes_after_commit(
    user_client, user, stored_keys, django_capture_on_commit_callbacks
):
    media = media_for(user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = user_client.delete(f"/api/v1/media/{media.pk}/")
        assert response.status_code == 204
        assert not MediaFile.objects.filter(pk=media.pk).exists()
        assert stored_keys() == {media.storage_key}  # not before the commit
    for callback in callbacks:
        callback()
    assert stored_keys() == set()
    assert user_client.get(f"/api/v1/media/{media.pk}/").status_code == 404


def test_rolled_back_delete_keeps_the_object(user, stored_keys, django_capture_on_commit_callbacks):
    from django.db import transaction

    media = media_for(user)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.media_delete(media_id=media.pk, user=user)
        raise RuntimeError("rolled back")
    assert MediaFile.objects.filter(pk=media.pk).exists()
    assert stored_keys() == {media.storage_key}


def test_only_the_owner_deletes(user, stored_keys):
    media = media_for(user)
    stranger = client_for(UserFactory())
    assert stranger.delete(f"/api/v1/media/{media.pk}/").status_code == 404
    set_avatar(user, media)
    response = stranger.delete(f"/api/v1/media/{media.pk}/")  # can see it, may not delete it
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert MediaFile.objects.filter(pk=media.pk).exists()
    assert stored_keys() == {media.storage_key}


def test_deleting_an_avatar_file_clears_the_avatar(user_client, user):
    media = media_for(user)
    set_avatar(user, media)
    assert user_client.delete(f"/api/v1/media/{media.pk}/").status_code == 204
    user.refresh_from_db()
    assert user.avatar is None


def test_downloads_are_attachments_under_a_clean_name(user, media_storage):
    media = media_for(user, PDF, purpose="lesson_attachment", name="../Syllabus.pdf")
    url = services.storage.signed_url(media)
    status, headers, content = fetch(url)
    assert status == 200 and content == PDF
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == 'attachment; filename="Syllabus.pdf"'
    if media_storage == "local":  # served by Lyo itself: it must not run anything
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in headers["Content-Security-Policy"]
        assert fetch(url.split("?")[0])[0] == 404
