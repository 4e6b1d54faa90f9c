from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from apps.media import services
from apps.media.models import MediaFile
from apps.media.tasks import delete_orphaned_media
from tests.factories import UserFactory
from tests.media.factories import media_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]


def age(media: MediaFile, *, hours: int, detached: bool = False) -> None:
    past = timezone.now() - timedelta(hours=hours)
    MediaFile.objects.filter(pk=media.pk).update(
        created_at=past, **({"detached_at": past} if detached else {})
    )


def test_attach_marks_the_file_used(user):
    media = media_for(user, purpose="course_cover")
    attached = services.media_attach(media_id=media.pk, owner=user, purpose="course_cover")
    assert attached.is_attached and attached.attached_at is not None
    media.refresh_from_db()
    assert media.is_attached


def test_attach_refuses_others_files_wrong_purposes_and_second_uses(user):
    media = media_for(user, purpose="post_image")
    with pytest.raises(NotFound):
        services.media_attach(media_id=media.pk, owner=UserFactory(), purpose="post_image")
    with pytest.raises(NotFound):
        services.media_attach(
            media_id="00000000-0000-4000-8000-000000000000", owner=user, purpose="post_image"
        )
    with pytest.raises(ValidationError) as wrong_purpose:
        services.media_attach(media_id=media.pk, owner=user, purpose="avatar", field="avatar")
    assert "avatar" in wrong_purpose.value.detail

    services.media_attach(media_id=media.pk, owner=user, purpose="post_image")
    with pytest.raises(services.MediaAlreadyAttached) as again:
        services.media_attach(media_id=media.pk, owner=user, purpose="post_image")
    assert again.value.status_code == 409


def test_attach_refuses_pending_uploads(user):
    media = media_for(user, purpose="post_image")
    MediaFile.objects.filter(pk=media.pk).update(status="pending")
    with pytest.raises(ValidationError):
        services.media_attach(media_id=media.pk, owner=user, purpose="post_image")


def test_detach_is_idempotent(user):
    media = media_for(user, purpose="post_image")
    services.media_attach(media_id=media.pk, owner=user, purpose="post_image")
    services.media_detach(media_id=media.pk)
    services.media_detach(media_id=media.pk)
    media.refresh_from_db()
    assert not media.is_attached and media.detached_at is not None
    # Free to be attached again.
    services.media_attach(media_id=media.pk, owner=user, purpose="post_image")


def test_orphan_cleanup_deletes_old_unused_files_and_their_objects(
    user, stored_keys, django_capture_on_commit_callbacks
):
    never_attached = media_for(user, purpose="post_image")
    age(never_attached, hours=25)
    detached_long_ago = media_for(user, purpose="post_image")
    services.media_attach(media_id=detached_long_ago.pk, owner=user, purpose="post_image")
    services.media_detach(media_id=detached_long_ago.pk)
    age(detached_long_ago, hours=30, detached=True)
    abandoned_upload = MediaFile.objects.create(
        owner=user,
        purpose="post_image",
        status="pending",
        storage_key="uploads/x/never-came",
        content_type="image/png",
        size=10,
    )
    age(abandoned_upload, hours=48)

    old_but_attached = media_for(user, purpose="post_image")
    services.media_attach(media_id=old_but_attached.pk, owner=user, purpose="post_image")
    age(old_but_attached, hours=100)
    new_unattached = media_for(user, purpose="post_image")
    recently_detached = media_for(user, purpose="post_image")
    services.media_attach(media_id=recently_detached.pk, owner=user, purpose="post_image")
    age(recently_detached, hours=100)
    services.media_detach(media_id=recently_detached.pk)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = services.media_delete_orphans(older_than_hours=24)

    assert deleted == 3
    kept = {old_but_attached.pk, new_unattached.pk, recently_detached.pk}
    assert set(MediaFile.objects.values_list("pk", flat=True)) == kept
    assert stored_keys() == {
        media.storage_key for media in (old_but_attached, new_unattached, recently_detached)
    }


def test_orphan_cleanup_task_uses_the_configured_age(user, settings):
    media = media_for(user, purpose="post_image")
    age(media, hours=5)
    settings.MEDIA_ORPHAN_MAX_AGE_HOURS = 6
    assert delete_orphaned_media.delay().get() == 0
    settings.MEDIA_ORPHAN_MAX_AGE_HOURS = 4
    assert delete_orphaned_media.delay().get() == 1
    assert not MediaFile.objects.exists()


def test_orphan_cleanup_is_scheduled():
    task = django_settings.PERIODIC_TASKS["media-delete-orphans"]
    assert task["task"] == delete_orphaned_media.name
