"""Decode and re-encode uploaded images with Pillow.

Re-encoding keeps only pixels (and the colour profile): EXIF (GPS position, camera serials),
XMP, comments and anything appended to the file — such as an HTML payload in a PNG/HTML
polyglot — are gone from what is stored and served.
"""

import io
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework.exceptions import ValidationError

from apps.core.errors import UnsupportedMediaType

from . import policies
from .policies import MediaPolicy

_PILLOW_FORMATS = {
    policies.JPEG: "JPEG",
    policies.PNG: "PNG",
    policies.WEBP: "WEBP",
    policies.GIF: "GIF",
}


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    width: int
    height: int


def _invalid(message: str) -> ValidationError:
    return ValidationError({"file": [message]})


def reencode_image(source: BinaryIO, *, content_type: str, policy: MediaPolicy) -> EncodedImage:
    """Decode `source` (already sniffed as `content_type`) and encode it again, same format.

    400 for corrupt images and decompression bombs (too many pixels for the purpose), 415 for
    animated images.
    """
    pillow_format = _PILLOW_FORMATS[content_type]
    source.seek(0)
    try:
        # Image.open reads only the header. Pillow itself refuses (DecompressionBombError)
        # anything over 2 x Image.MAX_IMAGE_PIXELS; the purpose's own, lower limit is
        # checked here, before a single pixel is decoded.
        with Image.open(source, formats=[pillow_format]) as image:
            width, height = image.size
            if width * height > policy.max_pixels:
                raise _invalid(
                    f"The image is too large: {width}x{height} pixels "
                    f"(at most {policy.max_pixels:,} pixels)."
                )
            if getattr(image, "is_animated", False):
                raise UnsupportedMediaType(
                    "Animated images are not supported: upload a still image.",
                    details={"reason": "animated_image"},
                )
            if pillow_format == "JPEG" and policy.max_side:
                # Decode big photos at a reduced scale when they are to be scaled down anyway.
                image.draft(None, (policy.max_side, policy.max_side))
            image.load()
            return _encode(image, pillow_format=pillow_format, policy=policy)
    except Image.DecompressionBombError as exc:
        raise _invalid("The image is too large to be decoded safely.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _invalid("The file is not a valid image or is damaged.") from exc


def _encode(image: Image.Image, *, pillow_format: str, policy: MediaPolicy) -> EncodedImage:
    icc_profile = image.info.get("icc_profile")
    transparency = image.info.get("transparency")
    # Apply the EXIF orientation to the pixels, since the EXIF itself is dropped. Returns a copy.
    image = ImageOps.exif_transpose(image)
    if policy.max_side and max(image.size) > policy.max_side:
        image.thumbnail((policy.max_side, policy.max_side), Image.Resampling.LANCZOS)

    options: dict = {"icc_profile": icc_profile} if icc_profile else {}
    if pillow_format == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        options.update(quality=90, optimize=True)
    elif pillow_format == "WEBP":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if image.has_transparency_data else "RGB")
        options.update(quality=90)
    elif pillow_format == "PNG" and image.mode == "P" and transparency is not None:
        image = image.convert("RGBA")
    elif pillow_format in ("PNG", "GIF") and transparency is not None:
        options["transparency"] = transparency

    # Nothing of the source's metadata (EXIF, XMP, text chunks, comments) is written back.
    image.info = {}
    output = io.BytesIO()
    image.save(output, format=pillow_format, **options)
    return EncodedImage(data=output.getvalue(), width=image.width, height=image.height)
