"""What each kind of upload may be: size, types and image limits, in one place.

Types are the ones `apps.media.sniffing` recognises from the bytes; the client's filename and
Content-Type header are never trusted. Images are always decoded and re-encoded (EXIF and other
metadata stripped); animated images (GIF, APNG, WebP) are refused rather than silently
flattened, so the person knows their animation was not kept. Markup (HTML, SVG, XML) and
scripts are never accepted. Anything that is not an image is served as a download
(`Content-Disposition: attachment`).
"""

from dataclasses import dataclass

from django.db import models

MB = 1024 * 1024

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
GIF = "image/gif"
PDF = "application/pdf"
ZIP = "application/zip"
TEXT = "text/plain"

IMAGE_TYPES = frozenset({JPEG, PNG, WEBP, GIF})

# The file extension of the storage key follows the sniffed type, never the upload's name.
EXTENSIONS = {
    JPEG: "jpg",
    PNG: "png",
    WEBP: "webp",
    GIF: "gif",
    PDF: "pdf",
    ZIP: "zip",
    TEXT: "txt",
}


class Purpose(models.TextChoices):
    AVATAR = "avatar"
    COURSE_COVER = "course_cover"
    LESSON_ATTACHMENT = "lesson_attachment"
    POST_IMAGE = "post_image"


@dataclass(frozen=True)
class MediaPolicy:
    max_bytes: int
    allowed_types: frozenset[str]
    # Decoded size limit (decompression bombs); checked from the header before decoding.
    # Below Pillow's own MAX_IMAGE_PIXELS (~89 MP), which stays as a second line of defence.
    max_pixels: int = 40_000_000
    # Stored images are scaled down to fit this box (None: kept at their size).
    max_side: int | None = None

    def allows(self, content_type: str) -> bool:
        return content_type in self.allowed_types


POLICIES: dict[str, MediaPolicy] = {
    Purpose.AVATAR: MediaPolicy(
        max_bytes=5 * MB,
        allowed_types=frozenset({JPEG, PNG, WEBP}),
        max_pixels=25_000_000,
        max_side=1024,
    ),
    Purpose.COURSE_COVER: MediaPolicy(max_bytes=10 * MB, allowed_types=IMAGE_TYPES, max_side=2560),
    Purpose.POST_IMAGE: MediaPolicy(max_bytes=10 * MB, allowed_types=IMAGE_TYPES, max_side=4096),
    Purpose.LESSON_ATTACHMENT: MediaPolicy(
        max_bytes=25 * MB, allowed_types=IMAGE_TYPES | {PDF, TEXT, ZIP}
    ),
}

LARGEST_UPLOAD_BYTES = max(policy.max_bytes for policy in POLICIES.values())


def policy_for(purpose: str) -> MediaPolicy:
    return POLICIES[Purpose(purpose)]


def is_image(content_type: str) -> bool:
    return content_type in IMAGE_TYPES
