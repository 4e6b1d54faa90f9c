"""Where media bytes live: Django's default storage (STORAGES["default"]).

Local disk in development and tests, a private S3 bucket in production. URLs are always
signed and expiring: S3 presigned GET URLs (with the content type and disposition forced by
the signature), or, for other storages, a Lyo URL carrying a signed token
(`/api/v1/media/<id>/content/?token=...`, see MediaContentView).

Direct-to-storage uploads (presigned POST) exist only on S3.
"""

from typing import BinaryIO
from urllib.parse import urlencode

from botocore.exceptions import ClientError
from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from . import policies
from .filenames import download_filename
from .models import MediaFile

_CONTENT_TOKEN_SALT = "apps.media.content"  # noqa: S105 - a signing salt, not a secret


def _on_s3() -> bool:
    return isinstance(default_storage, S3Storage)


def direct_uploads_supported() -> bool:
    return _on_s3()


# --- Writing and deleting ----------------------------------------------------------------------


def object_save(*, key: str, content: BinaryIO, content_type: str) -> str:
    """Store `content` under `key`; returns the key actually used (never overwrites)."""
    wrapped = File(content)
    # S3 takes the object's Content-Type from here; never from what the client declared.
    wrapped.content_type = content_type
    return default_storage.save(
        key, wrapped, max_length=MediaFile._meta.get_field("storage_key").max_length
    )


def object_delete(key: str) -> None:
    """Delete the object; deleting one that does not exist is not an error."""
    default_storage.delete(key)


# --- Reading -----------------------------------------------------------------------------------


def content_disposition(media: MediaFile) -> str:
    filename = download_filename(
        original=media.original_filename,
        content_type=media.content_type,
        fallback_stem=str(media.pk),
    )
    return content_disposition_header(not policies.is_image(media.content_type), filename)


def signed_url(media: MediaFile) -> str | None:
    """A fresh signed, expiring URL of the file's content (None while an upload is pending)."""
    if not media.is_ready:
        return None
    if _on_s3():
        return default_storage.url(
            media.storage_key,
            parameters={
                "ResponseContentType": media.content_type,
                "ResponseContentDisposition": content_disposition(media),
            },
            expire=settings.MEDIA_URL_EXPIRY_SECONDS,
        )
    token = signing.TimestampSigner(salt=_CONTENT_TOKEN_SALT).sign(str(media.pk))
    path = reverse("media-content", kwargs={"media_id": media.pk})
    return f"{path}?{urlencode({'token': token})}"


def content_token_is_valid(*, media_id: str, token: str) -> bool:
    signer = signing.TimestampSigner(salt=_CONTENT_TOKEN_SALT)
    try:
        signed_id = signer.unsign(token, max_age=settings.MEDIA_URL_EXPIRY_SECONDS)
    except signing.BadSignature:  # also SignatureExpired
        return False
    return signed_id == str(media_id)


def object_open(key: str) -> BinaryIO:
    return default_storage.open(key, "rb")


# --- S3 direct uploads -------------------------------------------------------------------------


def _s3_object_call(operation: str, key: str, **params):
    """Call a boto3 S3 client operation on the object stored under `key` (the bucket key has
    AWS_LOCATION applied, as django-storages does)."""
    client = default_storage.connection.meta.client
    bucket_key = default_storage._normalize_name(clean_name(key))
    return getattr(client, operation)(Bucket=default_storage.bucket_name, Key=bucket_key, **params)


def presigned_post(*, key: str, content_type: str, size: int, expires_in: int) -> dict:
    """A form upload to S3 that only accepts exactly `size` bytes with this Content-Type."""
    return _s3_object_call(
        "generate_presigned_post",
        key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
        ExpiresIn=expires_in,
    )


def object_size(key: str) -> int | None:
    """The object's size from a HEAD request, or None when there is no such object."""
    try:
        return _s3_object_call("head_object", key)["ContentLength"]
    except ClientError as error:
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise


def object_read_range(key: str, *, start: int, end: int, into: BinaryIO) -> int:
    """Stream bytes start..end (inclusive) of the object into `into` with a ranged GET;
    returns how many bytes came."""
    body = _s3_object_call("get_object", key, Range=f"bytes={start}-{end}")["Body"]
    total = 0
    try:
        for chunk in body.iter_chunks(chunk_size=256 * 1024):
            into.write(chunk)
            total += len(chunk)
    finally:
        body.close()
    return total
