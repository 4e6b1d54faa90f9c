import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from apps.media import services
from apps.media.models import MediaFile
from apps.media.policies import MB
from tests.factories import UserFactory, client_for
from tests.media.factories import (
    HTML,
    PDF,
    SVG_WITH_SCRIPT,
    animated_gif,
    fetch,
    image_bytes,
    jpeg_with_exif,
    png_declaring,
    png_html_polyglot,
    sha256,
    upload,
    zip_bytes,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_storage")]


def stored_bytes(media_id) -> bytes:
    media = MediaFile.objects.get(pk=media_id)
    with default_storage.open(media.storage_key, "rb") as stored:
        return stored.read()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and error["request_id"]
    return error


def test_image_upload_answers_201_with_metadata_and_a_working_signed_url(user_client, user):
    content = image_bytes("PNG", size=(40, 30))
    response = upload(user_client, content, name="me.png", purpose="avatar")

    assert response.status_code == 201, response.content
    body = response.json()
    expected = {"id", "url", "purpose", "content_type", "size", "checksum", "width", "height"}
    assert expected <= set(body)
    assert (body["purpose"], body["content_type"]) == ("avatar", "image/png")
    assert body["status"] == "ready"
    assert (body["width"], body["height"]) == (40, 30)
    assert body["filename"] == "me.png" and body["attached"] is False
    data = stored_bytes(body["id"])
    assert body["size"] == len(data) and body["checksum"] == sha256(data)
    media = MediaFile.objects.get(pk=body["id"])
    assert media.owner == user
    assert media.storage_key.startswith(f"media/avatar/{media.pk}/")
    assert media.storage_key.endswith(".png")

    status, headers, content = fetch(body["url"])
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert sha256(content) == body["checksum"]


def test_signed_url_expires_and_cannot_be_forged(user_client, media_storage, settings):
    body = upload(user_client, image_bytes(), name="a.png", purpose="avatar").json()
    if media_storage == "s3":
        # S3 checks these (moto does not verify signatures, so only their presence is shown).
        assert "X-Amz-Signature=" in body["url"] and "X-Amz-Expires=900" in body["url"]
        return
    assert fetch(body["url"])[0] == 200
    assert fetch(body["url"][:-3] + "xyz")[0] == 404
    other = upload(user_client, image_bytes(), name="b.png", purpose="avatar").json()
    token = body["url"].split("?", 1)[1]
    assert fetch(other["url"].split("?", 1)[0] + "?" + token)[0] == 404  # bound to one file
    settings.MEDIA_URL_EXPIRY_SECONDS = -1
    assert fetch(body["url"])[0] == 404


def test_png_named_pdf_is_recognised_as_png(user_client):
    response = upload(
        user_client,
        image_bytes("PNG"),
        name="report.pdf",
        purpose="post_image",
        content_type="application/pdf",
    )
    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"
    assert MediaFile.objects.get(pk=response.json()["id"]).storage_key.endswith(".png")


@pytest.mark.parametrize("purpose", ["avatar", "post_image", "lesson_attachment"])
def test_html_named_png_is_refused_with_415(user_client, purpose, stored_keys):
    response = upload(user_client, HTML, name="cute-cat.png", purpose=purpose)
    error = assert_error(response, 415, "unsupported_media_type")
    assert error["details"]["detected_type"] == "text/html"
    assert not MediaFile.objects.exists()
    assert stored_keys() == set()


@pytest.mark.parametrize("purpose", ["post_image", "lesson_attachment"])
def test_svg_with_script_is_refused_with_415(user_client, purpose):
    response = upload(
        user_client, SVG_WITH_SCRIPT, name="logo.svg", purpose=purpose, content_type="image/svg+xml"
    )
    error = assert_error(response, 415, "unsupported_media_type")
    assert error["details"]["detected_type"] == "image/svg+xml"


def test_polyglot_png_loses_its_html_payload(user_client):
    polyglot = png_html_polyglot()
    assert b"<script>" in polyglot and Image.open(io.BytesIO(polyglot)).size == (8, 8)

    response = upload(user_client, polyglot, name="poly.png", purpose="post_image")

    assert response.status_code == 201
    stored = stored_bytes(response.json()["id"])
    assert b"<script" not in stored and b"<html" not in stored.lower()
    assert Image.open(io.BytesIO(stored)).size == (8, 8)


def test_exif_is_stripped_and_orientation_applied(user_client):
    original = jpeg_with_exif(size=(60, 20))
    assert Image.open(io.BytesIO(original)).getexif()

    response = upload(user_client, original, name="holiday.jpg", purpose="post_image")

    assert response.status_code == 201
    body = response.json()
    stored = stored_bytes(body["id"])
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif()
    assert b"CAMERA-SERIAL" not in stored
    assert image.size == (20, 60) == (body["width"], body["height"])  # rotated upright


@pytest.mark.parametrize("declared", [(30000, 30000), (6000, 6000)])
def test_decompression_bomb_is_refused_with_400(user_client, declared):
    # 30000x30000 trips Pillow's own bomb guard; 6000x6000 the avatar's 25 MP limit.
    response = upload(user_client, png_declaring(*declared), name="bomb.png", purpose="avatar")
    error = assert_error(response, 400, "validation_error")
    assert "file" in error["details"]
    assert not MediaFile.objects.exists()


def test_damaged_image_is_refused_with_400(user_client):
    damaged = image_bytes("PNG")[:60]
    error = assert_error(
        upload(user_client, damaged, name="x.png", purpose="avatar"), 400, "validation_error"
    )
    assert "file" in error["details"]


def test_animated_gif_is_refused_and_a_still_gif_accepted(user_client):
    error = assert_error(
        upload(user_client, animated_gif(), name="dance.gif", purpose="post_image"),
        415,
        "unsupported_media_type",
    )
    assert error["details"]["reason"] == "animated_image"

    still = image_bytes("GIF", mode="P", color=3)
    response = upload(user_client, still, name="still.gif", purpose="post_image")
    assert response.status_code == 201
    assert response.json()["content_type"] == "image/gif"


def test_gif_is_not_an_accepted_avatar(user_client):
    response = upload(user_client, image_bytes("GIF"), name="a.gif", purpose="avatar")
    error = assert_error(response, 415, "unsupported_media_type")
    assert "image/gif" not in error["details"]["allowed_types"]


def test_large_avatar_is_scaled_down(user_client):
    response = upload(
        user_client, image_bytes("PNG", size=(3000, 1500)), name="big.png", purpose="avatar"
    )
    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == (1024, 512)


def test_oversized_file_is_refused_with_413_before_its_content_is_looked_at(
    user_client, monkeypatch
):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the content of an oversized file was read")

    monkeypatch.setattr(services, "sniff_content_type", must_not_run)
    too_big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * MB)
    error = assert_error(
        upload(user_client, too_big, name="huge.png", purpose="avatar"), 413, "payload_too_large"
    )
    assert error["details"]["max_bytes"] == 5 * MB
    assert not MediaFile.objects.exists()


def test_body_declared_over_the_global_limit_is_refused_unread(user_client, settings):
    response = user_client.generic(
        "POST",
        "/api/v1/media/",
        b"never read",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(settings.MAX_REQUEST_BODY_BYTES + 1),
    )
    assert_error(response, 413, "payload_too_large")


def test_zero_byte_file_is_refused_with_400(user_client):
    error = assert_error(
        upload(user_client, b"", name="empty.png", purpose="avatar"), 400, "validation_error"
    )
    assert "file" in error["details"]


def test_missing_or_unknown_purpose_is_a_validation_error(user_client):
    response = upload(user_client, image_bytes(), name="a.png", purpose="wallpaper")
    assert "purpose" in assert_error(response, 400, "validation_error")["details"]


def test_path_traversal_in_the_filename_goes_nowhere(user_client, stored_keys):
    response = upload(user_client, image_bytes(), name="../../etc/passwd.png", purpose="avatar")

    assert response.status_code == 201
    body = response.json()
    assert body["filename"] == "passwd.png"
    key = MediaFile.objects.get(pk=body["id"]).storage_key
    assert key.startswith(f"media/avatar/{body['id']}/") and ".." not in key
    assert stored_keys() == {key}


def test_filename_is_cleaned_and_length_capped(user_client):
    name = "\u202egnp.exe\x00" + "a" * 300 + ".png"
    response = upload(user_client, image_bytes(), name=name, purpose="avatar")
    assert response.status_code == 201
    filename = response.json()["filename"]
    assert len(filename) <= 200 and filename.endswith(".png")
    assert "\u202e" not in filename and "\x00" not in filename


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (PDF, "syllabus.pdf", "application/pdf"),
        ("Notes — week 1\nBring a pencil.\n".encode(), "notes.txt", "text/plain"),
        (zip_bytes(), "exercises.zip", "application/zip"),
    ],
)
def test_lesson_attachments_are_served_as_downloads(user_client, content, name, content_type):
    response = upload(
        user_client,
        content,
        name=name,
        purpose="lesson_attachment",
        content_type="application/octet-stream",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == content_type
    assert body["checksum"] == sha256(content) and body["size"] == len(content)
    assert body["width"] is None
    status, headers, served = fetch(body["url"])
    assert status == 200 and served == content
    assert headers["Content-Type"].startswith(content_type)
    assert headers["Content-Disposition"].startswith("attachment;")
    assert name in headers["Content-Disposition"]


def test_text_that_is_not_utf8_after_its_first_bytes_is_refused(user_client):
    content = b"plain text\n" * 1000 + b"\xff\xfe binary tail"
    response = upload(user_client, content, name="log.txt", purpose="lesson_attachment")
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content",
    [b"\x7fELF\x02\x01\x01" + b"\x00" * 64, b"#!/bin/sh\nrm -rf ~\n", b"MZ\x90\x00" + b"\x00" * 60],
)
def test_executables_and_scripts_are_refused(user_client, content):
    response = upload(user_client, content, name="tool.txt", purpose="lesson_attachment")
    assert_error(response, 415, "unsupported_media_type")


def test_pdf_is_not_an_image(user_client):
    assert_error(
        upload(user_client, PDF, name="x.pdf", purpose="post_image"), 415, "unsupported_media_type"
    )


def test_storage_quota_is_enforced(user_client, settings, stored_keys):
    first = upload(user_client, image_bytes(size=(50, 50)), name="a.png", purpose="post_image")
    assert first.status_code == 201
    settings.MEDIA_USER_QUOTA_BYTES = first.json()["size"] + 10

    response = upload(user_client, image_bytes(size=(60, 60)), name="b.png", purpose="post_image")

    error = assert_error(response, 413, "storage_quota_exceeded")
    assert error["details"]["used_bytes"] == first.json()["size"]
    assert error["details"]["quota_bytes"] == settings.MEDIA_USER_QUOTA_BYTES
    assert MediaFile.objects.count() == 1
    assert len(stored_keys()) == 1
    # Others have their own quota.
    other = client_for(UserFactory())
    assert upload(other, image_bytes(), name="c.png", purpose="post_image").status_code == 201


def test_object_is_deleted_when_the_row_cannot_be_written(user, monkeypatch, stored_keys):
    from django.core.files.uploadedfile import SimpleUploadedFile

    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(MediaFile.objects, "create", fail)
    file = SimpleUploadedFile("a.png", image_bytes(), content_type="image/png")
    with pytest.raises(RuntimeError):
        services.media_upload(owner=user, purpose="avatar", file=file)
    assert stored_keys() == set()


def test_upload_needs_authentication(api_client):
    response = upload(api_client, image_bytes(), name="a.png", purpose="avatar")
    assert_error(response, 401, "not_authenticated")


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_cannot_together_overshoot_the_quota(settings, stored_keys):
    import threading

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    owner = UserFactory()
    content = b"lecture notes\n" * 100
    settings.MEDIA_USER_QUOTA_BYTES = len(content) * 3 // 2  # room for one, not two
    barrier = threading.Barrier(2)
    outcomes = []

    def upload_notes():
        try:
            barrier.wait(timeout=5)
            file = SimpleUploadedFile("notes.txt", content, content_type="text/plain")
            services.media_upload(owner=owner, purpose="lesson_attachment", file=file)
            outcomes.append("stored")
        except services.StorageQuotaExceeded:
            outcomes.append("over quota")
        finally:
            connection.close()

    threads = [threading.Thread(target=upload_notes) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["over quota", "stored"]
    assert MediaFile.objects.filter(owner=owner).count() == 1
    assert stored_keys() == {MediaFile.objects.get(owner=owner).storage_key}
