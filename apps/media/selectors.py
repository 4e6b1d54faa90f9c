"""Reads of the media domain."""

from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce

from . import storage
from .access import media_is_visible_to
from .models import MediaFile


def media_list_for_owner(
    *, owner, purpose: str | None = None, status: str | None = None
) -> QuerySet[MediaFile]:
    files = MediaFile.objects.filter(owner=owner)
    if purpose:
        files = files.filter(purpose=purpose)
    if status:
        files = files.filter(status=status)
    return files.order_by("-created_at", "-id")


def media_get_visible(*, media_id, user) -> MediaFile | None:
    """The file if `user` may see it (owner, or a visibility rule of its purpose), else None."""
    media = MediaFile.objects.filter(pk=media_id).first()
    if media is None or not media_is_visible_to(media=media, user=user):
        return None
    return media


def media_get_ready(*, media_id) -> MediaFile | None:
    return MediaFile.objects.filter(pk=media_id, status=MediaFile.Status.READY).first()


def media_url(*, media: MediaFile | None) -> str | None:
    """A fresh signed, expiring URL of the file (no query, no network: safe in list
    serializers). None for no file or a pending upload."""
    return storage.signed_url(media) if media is not None else None


# The columns media_url and MediaRefOutput read, for apps that fetch files in their own SQL.
REFERENCE_COLUMNS = (
    "id",
    "status",
    "storage_key",
    "content_type",
    "original_filename",
    "width",
    "height",
)


def media_from_columns(values) -> MediaFile | None:
    """A MediaFile (unsaved, for rendering only) from REFERENCE_COLUMNS' values in order;
    None when the id is None (no file)."""
    fields = dict(zip(REFERENCE_COLUMNS, values, strict=True))
    return None if fields["id"] is None else MediaFile(**fields)


def media_storage_used(*, owner) -> int:
    """Bytes the owner's files take (pending direct uploads count with their declared size)."""
    return MediaFile.objects.filter(owner=owner).aggregate(total=Coalesce(Sum("size"), 0))["total"]


def media_for_export(*, owner) -> list[dict]:
    """Metadata of every file the person uploaded (pending ones too), oldest first, for the
    personal-data export. The content itself is fetched through GET /media/{id}/."""
    return list(
        MediaFile.objects.filter(owner=owner)
        .order_by("created_at", "id")
        .values(
            "id",
            "purpose",
            "status",
            "original_filename",
            "content_type",
            "size",
            "sha256",
            "width",
            "height",
            "attached_at",
            "created_at",
        )
        .iterator(chunk_size=2000)
    )
