"""Files for media tests: real images built with Pillow, hand-made hostile ones, and helpers."""

import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Mapping

import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from apps.media import services

HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
)


def image_bytes(fmt: str = "PNG", size=(40, 30), color=(200, 30, 30), mode="RGB", **save) -> bytes:
    output = io.BytesIO()
    Image.new(mode, size, color).save(output, format=fmt, **save)
    return output.getvalue()


def jpeg_with_exif(size=(60, 20)) -> bytes:
    """A JPEG with GPS coordinates, a camera serial and orientation 6 (rotate 90° to view)."""
    image = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0xA431] = "CAMERA-SERIAL-123456"  # BodySerialNumber
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPS
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif)
    return output.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (20, 20), color) for color in ("red", "green", "blue")]
    output = io.BytesIO()
    frames[0].save(output, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return output.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels (a decompression bomb shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def png_html_polyglot() -> bytes:
    """A valid PNG carrying HTML in a text chunk and after its end."""
    png = image_bytes("PNG", size=(8, 8))
    end = png.rindex(b"IEND") - 4  # the IEND chunk starts with its length
    text = _png_chunk(b"tEXt", b"Comment\x00" + HTML)
    return png[:end] + text + png[end:] + HTML


def zip_bytes() -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return output.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def upload(client: APIClient, content: bytes, *, name: str, purpose: str, content_type=None):
    file = SimpleUploadedFile(name, content, content_type=content_type or "image/png")
    return client.post("/api/v1/media/", {"file": file, "purpose": purpose}, format="multipart")


def media_for(user, content: bytes | None = None, *, purpose="avatar", name="photo.png"):
    """A ready MediaFile of `user`, stored through the real upload service."""
    file = SimpleUploadedFile(name, content or image_bytes(), content_type="image/png")
    return services.media_upload(owner=user, purpose=purpose, file=file)


def fetch(url: str) -> tuple[int, Mapping[str, str], bytes]:
    """GET a media URL like a browser would: S3 URLs over HTTP, Lyo URLs through Django.
    Returns the status, the (case-insensitive) headers and the body."""
    if url.startswith("http"):
        response = requests.get(url, timeout=10)
        return response.status_code, response.headers, response.content
    response = APIClient().get(url, HTTP_ACCEPT="image/*")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, response.headers, body


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
