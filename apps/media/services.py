"""Writes of the media domain: uploads (through Lyo or straight to S3), attaching files to what
uses them, deletion and the orphan cleanup.

Bytes and rows never disagree for long: an object is written first, then its row in a
transaction, and the object is deleted again if the row does not commit. Objects of deleted
rows are removed by a task enqueued after the deletion commits. The upload services open their
own transactions and expect to be called outside one (their views are NonAtomicAPIViews), so
that "committed" really means committed.
"""

import hashlib
import io
import logging
import secrets
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from apps.core.errors import ApplicationError, Conflict, PayloadTooLarge, UnsupportedMediaType

from . import storage
from .access import media_is_visible_to
from .filenames import sanitize_filename
from .images import reencode_image
from .models import MediaFile, MediaStatus
from .policies import EXTENSIONS, MediaPolicy, is_image, policy_for
from .selectors import media_storage_used
from .sniffing import SNIFF_BYTES, Utf8Validator, sniff_content_type

logger = logging.getLogger("lyo.media")

ORPHAN_BATCH_SIZE = 500
_CHUNK_BYTES = 256 * 1024
# Downloads of direct uploads stay in memory up to this size, then spill to a temporary file.
_SPOOL_MAX_BYTES = 2 * 1024 * 1024


class StorageQuotaExceeded(ApplicationError):
    status_code = 413
    default_code = "storage_quota_exceeded"
    default_detail = "This upload would exceed your storage quota. Delete some files first."


class DirectUploadUnavailable(Conflict):
    default_code = "direct_upload_unavailable"
    default_detail = "Direct uploads are not available here; upload through POST /api/v1/media/."


class UploadMissing(Conflict):
    default_code = "upload_missing"
    default_detail = "Nothing has been uploaded for this file yet; upload it, then complete."


class UploadExpired(Conflict):
    default_code = "upload_expired"
    default_detail = "The upload was never made and has expired; start a new one."


class MediaAlreadyAttached(Conflict):
    default_code = "media_already_attached"
    default_detail = "This file is already in use; upload it again to use it somewhere else."


# --- Checking and preparing content ------------------------------------------------------------


@dataclass
class PreparedContent:
    """What will be stored: the bytes (re-encoded for images) and their facts."""

    file: BinaryIO
    content_type: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None


def _too_large(policy: MediaPolicy, size: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is too large: at most {policy.max_bytes // (1024 * 1024)} MB for this use.",
        details={"max_bytes": policy.max_bytes, "size": size},
    )


def _not_allowed(policy: MediaPolicy, detected: str | None, **details) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        "This type of file is not accepted here.",
        details={
            "detected_type": detected or "unknown",
            "allowed_types": sorted(policy.allowed_types),
            **details,
        },
    )


def _check_size(policy: MediaPolicy, size: int) -> None:
    if size <= 0:
        raise ValidationError({"file": ["The file is empty."]})
    if size > policy.max_bytes:
        raise _too_large(policy, size)


def _prepare_content(*, source: BinaryIO, size: int, policy: MediaPolicy) -> PreparedContent:
    """Sniff the type from the bytes, refuse what the purpose does not allow, re-encode images,
    check text is really text, and hash what will be stored."""
    source.seek(0)
    content_type = sniff_content_type(source.read(SNIFF_BYTES))
    if content_type is None or not policy.allows(content_type):
        raise _not_allowed(policy, content_type)

    if is_image(content_type):
        image = reencode_image(source, content_type=content_type, policy=policy)
        return PreparedContent(
            file=io.BytesIO(image.data),
            content_type=content_type,
            size=len(image.data),
            sha256=hashlib.sha256(image.data).hexdigest(),
            width=image.width,
            height=image.height,
        )

    digest = hashlib.sha256()
    text = Utf8Validator() if content_type == "text/plain" else None
    source.seek(0)
    total = 0
    while chunk := source.read(_CHUNK_BYTES):
        digest.update(chunk)
        total += len(chunk)
        if text is not None:
            text.feed(chunk)
    if text is not None:
        text.feed(b"", final=True)
        if not text.valid:
            raise _not_allowed(policy, None, reason="not_utf8_text")
    if total != size:
        raise ValidationError({"file": ["The file changed while it was being read."]})
    source.seek(0)
    return PreparedContent(
        file=source, content_type=content_type, size=total, sha256=digest.hexdigest()
    )


def _final_key(*, purpose: str, media_id: uuid.UUID, content_type: str) -> str:
    # Server-chosen and unguessable; the extension follows the sniffed type.
    return f"media/{purpose}/{media_id}/{secrets.token_urlsafe(12)}.{EXTENSIONS[content_type]}"


# --- Quota -------------------------------------------------------------------------------------


def _check_quota(*, owner, adding: int, lock: bool = False) -> None:
    if lock:
        # One upload of a person at a time passes this point: concurrent uploads cannot
        # together overshoot the quota.
        get_user_model().objects.select_for_update().filter(pk=owner.pk).values("pk").first()
    used = media_storage_used(owner=owner)
    if used + adding > settings.MEDIA_USER_QUOTA_BYTES:
        raise StorageQuotaExceeded(
            details={
                "quota_bytes": settings.MEDIA_USER_QUOTA_BYTES,
                "used_bytes": used,
                "requested_bytes": adding,
            }
        )


# --- Upload through Lyo ------------------------------------------------------------------------


def media_upload(*, owner, purpose: str, file: UploadedFile) -> MediaFile:
    """Check, clean and store an uploaded file; returns the ready MediaFile.

    The declared size is checked before any byte is looked at; then the type is sniffed,
    images are re-encoded and the object is written; the row follows in a transaction that
    also re-checks the quota under a lock. If the row does not commit the object is deleted.
    """
    policy = policy_for(purpose)
    _check_size(policy, file.size)
    _check_quota(owner=owner, adding=file.size)
    prepared = _prepare_content(source=file, size=file.size, policy=policy)

    media_id = uuid.uuid4()
    key = storage.object_save(
        key=_final_key(purpose=purpose, media_id=media_id, content_type=prepared.content_type),
        content=prepared.file,
        content_type=prepared.content_type,
    )
    try:
        with transaction.atomic():
            _check_quota(owner=owner, adding=prepared.size, lock=True)
            media = MediaFile.objects.create(
                id=media_id,
                owner=owner,
                purpose=purpose,
                status=MediaStatus.READY,
                storage_key=key,
                original_filename=sanitize_filename(file.name),
                content_type=prepared.content_type,
                size=prepared.size,
                sha256=prepared.sha256,
                width=prepared.width,
                height=prepared.height,
            )
    except BaseException:
        storage.object_delete(key)
        raise
    logger.info(
        "media_uploaded",
        extra={"media_id": str(media.pk), "purpose": purpose, "size": media.size},
    )
    return media


# --- Direct upload to S3 -----------------------------------------------------------------------


@dataclass(frozen=True)
class DirectUpload:
    media: MediaFile
    url: str
    fields: dict[str, str]


def media_direct_upload_create(
    *, owner, purpose: str, content_type: str, size: int, filename: str = ""
) -> DirectUpload:
    """Reserve a pending MediaFile and a presigned S3 POST accepting exactly `size` bytes of
    `content_type`, valid for MEDIA_DIRECT_UPLOAD_EXPIRY_SECONDS."""
    if not storage.direct_uploads_supported():
        raise DirectUploadUnavailable()
    policy = policy_for(purpose)
    content_type = content_type.split(";", 1)[0].strip().lower()
    if not policy.allows(content_type):
        raise _not_allowed(policy, content_type)
    _check_size(policy, size)
    expires_in = settings.MEDIA_DIRECT_UPLOAD_EXPIRY_SECONDS
    with transaction.atomic():
        _check_quota(owner=owner, adding=size, lock=True)
        media_id = uuid.uuid4()
        media = MediaFile.objects.create(
            id=media_id,
            owner=owner,
            purpose=purpose,
            status=MediaStatus.PENDING,
            # A staging key: the checked (and, for images, re-encoded) file moves to its final
            # key on completion, where the uploader's presigned POST cannot write.
            storage_key=f"uploads/{media_id}/{secrets.token_urlsafe(12)}",
            original_filename=sanitize_filename(filename),
            content_type=content_type,
            size=size,
            upload_expires_at=timezone.now() + timedelta(seconds=expires_in),
        )
    post = storage.presigned_post(
        key=media.storage_key, content_type=content_type, size=size, expires_in=expires_in
    )
    return DirectUpload(media=media, url=post["url"], fields=post["fields"])


# Refusals of an uploaded object: the upload is void, its object and row are deleted.
_REJECTIONS = (UnsupportedMediaType, PayloadTooLarge, ValidationError, UploadExpired)


def media_direct_upload_complete(*, media_id: uuid.UUID, owner) -> MediaFile:
    """Verify what was uploaded for a pending direct upload and make it ready. Idempotent.

    HEAD for existence and size, a ranged GET of the first bytes to sniff the type (it must be
    the declared one), then the same checks as an upload through Lyo on the downloaded file;
    the result is stored under its final key and the staging object deleted. A refused upload
    loses its object and its row (and answers 415/413/400); a missing one answers 409 and can
    be completed once the object is there.
    """
    if not storage.direct_uploads_supported():
        raise DirectUploadUnavailable()
    rejection: Exception | None = None
    final_key: str | None = None
    try:
        with transaction.atomic():
            # Locked throughout: a concurrent completion waits, then finds the file ready.
            media = MediaFile.objects.select_for_update().filter(pk=media_id, owner=owner).first()
            if media is None:
                raise NotFound("Media file not found.")
            if media.is_ready:
                return media
            staging_key = media.storage_key
            with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MAX_BYTES) as download:
                try:
                    prepared = _fetch_direct_upload(media, into=download)
                except _REJECTIONS as exc:
                    rejection = exc
                    media.delete()
                else:
                    final_key = storage.object_save(
                        key=_final_key(
                            purpose=media.purpose,
                            media_id=media.pk,
                            content_type=prepared.content_type,
                        ),
                        content=prepared.file,
                        content_type=prepared.content_type,
                    )
                    media.status = MediaStatus.READY
                    media.storage_key = final_key
                    media.content_type = prepared.content_type
                    media.size = prepared.size
                    media.sha256 = prepared.sha256
                    media.width, media.height = prepared.width, prepared.height
                    media.upload_expires_at = None
                    media.save()
                    _delete_objects_on_commit([staging_key])
    except BaseException:
        if final_key is not None:
            storage.object_delete(final_key)
        raise
    if rejection is not None:
        storage.object_delete(staging_key)
        raise rejection
    return media


def _fetch_direct_upload(media: MediaFile, *, into: BinaryIO) -> PreparedContent:
    policy = policy_for(media.purpose)
    size = storage.object_size(media.storage_key)
    if size is None:
        if media.upload_expires_at and media.upload_expires_at < timezone.now():
            raise UploadExpired()
        raise UploadMissing()
    if size != media.size:
        if size > policy.max_bytes:
            raise _too_large(policy, size)
        raise ValidationError(
            {"size": [f"{media.size} bytes were announced but {size} were uploaded."]}
        )
    # Cheap first: the first bytes must be what was announced, before anything is downloaded.
    head = io.BytesIO()
    storage.object_read_range(media.storage_key, start=0, end=SNIFF_BYTES - 1, into=head)
    detected = sniff_content_type(head.getvalue())
    if detected != media.content_type:
        raise _not_allowed(
            policy, detected, declared_type=media.content_type, reason="type_mismatch"
        )
    # Never more than the purpose allows, even if the object were replaced meanwhile.
    downloaded = storage.object_read_range(
        media.storage_key, start=0, end=policy.max_bytes, into=into
    )
    if downloaded != size:
        raise ValidationError({"file": ["The uploaded file changed while it was being checked."]})
    return _prepare_content(source=into, size=downloaded, policy=policy)


# --- Attaching ---------------------------------------------------------------------------------


@transaction.atomic
def media_attach(*, media_id, owner, purpose: str, field: str = "media") -> MediaFile:
    """Mark `owner`'s ready file of `purpose` as used by something (call inside the caller's
    transaction, when saving what uses it). A file is used by one thing at a time.

    404 when the file does not exist or is someone else's (never revealing which), 400 (with
    `field` in the details) when it is of another purpose or not ready yet, 409 when it is
    already attached.
    """
    media = MediaFile.objects.select_for_update().filter(pk=media_id).first()
    if media is None or media.owner_id != owner.pk:
        raise NotFound("Media file not found.")
    if media.purpose != purpose:
        raise ValidationError(
            {field: [f"This file was uploaded as {media.purpose}, not {purpose}."]}
        )
    if not media.is_ready:
        raise ValidationError({field: ["This file's upload has not been completed."]})
    if media.is_attached:
        raise MediaAlreadyAttached()
    media.attached_at = timezone.now()
    media.detached_at = None
    media.save(update_fields=["attached_at", "detached_at", "updated_at"])
    return media


def media_detach(*, media_id) -> None:
    """The file is no longer used; unless attached again it is deleted by the orphan cleanup
    MEDIA_ORPHAN_MAX_AGE_HOURS later. Idempotent; a missing file is fine."""
    MediaFile.objects.filter(pk=media_id, attached_at__isnull=False).update(
        attached_at=None, detached_at=timezone.now(), updated_at=timezone.now()
    )


# --- Deleting ----------------------------------------------------------------------------------


def _delete_objects_on_commit(keys: Iterable[str]) -> None:
    from .tasks import delete_media_objects  # tasks import this module

    keys = list(keys)
    if keys:
        # robust: the rows are gone already; a broker outage must not fail the request.
        transaction.on_commit(lambda: delete_media_objects.delay(keys), robust=True)


@transaction.atomic
def media_files_delete(*, media_files: Iterable[MediaFile]) -> int:
    """Delete the rows now and their objects after commit (what uses them loses them:
    foreign keys to MediaFile are SET_NULL)."""
    media_files = list(media_files)
    MediaFile.objects.filter(pk__in=[media.pk for media in media_files]).delete()
    _delete_objects_on_commit(media.storage_key for media in media_files)
    return len(media_files)


@transaction.atomic
def media_delete(*, media_id, user) -> None:
    """The owner deletes a file. 403 for others who can see it, 404 for everyone else."""
    media = MediaFile.objects.select_for_update().filter(pk=media_id).first()
    if media is None:
        raise NotFound("Media file not found.")
    if media.owner_id != user.pk:
        if media_is_visible_to(media=media, user=user):
            raise PermissionDenied("Only the owner can delete this file.")
        raise NotFound("Media file not found.")
    media_files_delete(media_files=[media])


def media_delete_orphans(*, older_than_hours: int | None = None) -> int:
    """Delete files unattached for longer than `older_than_hours` (default
    MEDIA_ORPHAN_MAX_AGE_HOURS): never attached since upload, detached since, or direct
    uploads never completed. Returns how many were deleted. Safe to run concurrently."""
    if older_than_hours is None:
        older_than_hours = settings.MEDIA_ORPHAN_MAX_AGE_HOURS
    cutoff = timezone.now() - timedelta(hours=older_than_hours)
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(
                MediaFile.objects.alias(unattached_since=Coalesce("detached_at", "created_at"))
                .filter(attached_at__isnull=True, unattached_since__lt=cutoff)
                .order_by()
                .select_for_update(skip_locked=True)
                .only("pk", "storage_key")[:ORPHAN_BATCH_SIZE]
            )
            if batch:
                media_files_delete(media_files=batch)
        deleted += len(batch)
        if len(batch) < ORPHAN_BATCH_SIZE:
            break
    if deleted:
        logger.info("media_orphans_deleted", extra={"count": deleted})
    return deleted
