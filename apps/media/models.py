"""Models of the media domain."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce

from .policies import Purpose


class MediaStatus(models.TextChoices):
    PENDING = "pending", "Pending (direct upload not completed)"
    READY = "ready", "Ready"


class MediaFile(models.Model):
    """One uploaded file and where it lives in the default storage.

    The storage key is chosen by the server; the uploader's filename is kept only as sanitized
    metadata. A file is *attached* once another app uses it (an avatar, a course cover, a post
    image, ...); files that stay unattached are deleted by the orphan cleanup.
    """

    Purpose = Purpose
    Status = MediaStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_files"
    )
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    status = models.CharField(max_length=16, choices=MediaStatus.choices, default=MediaStatus.READY)
    storage_key = models.CharField(max_length=255, unique=True)
    original_filename = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(help_text="Bytes stored (declared size while pending).")
    sha256 = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    attached_at = models.DateTimeField(null=True, blank=True)
    detached_at = models.DateTimeField(null=True, blank=True)
    upload_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Direct uploads: when the presigned upload expires."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The owner's library (newest first) and their storage usage.
            models.Index(fields=["owner", "-created_at", "-id"], name="media_owner_created_idx"),
            # Orphan cleanup: unattached files by the time they became unattached.
            models.Index(
                Coalesce("detached_at", "created_at"),
                condition=Q(attached_at__isnull=True),
                name="media_unattached_since_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(purpose__in=Purpose.values), name="media_purpose_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MediaStatus.values), name="media_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.id}"

    @property
    def is_attached(self) -> bool:
        return self.attached_at is not None

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY
