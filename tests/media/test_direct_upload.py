"""Direct uploads: presigned POSTs to S3 (moto over real HTTP), verified on completion."""

import base64
import json

import pytest
import requests

from apps.media.models import MediaFile
from apps.media.policies import MB
from tests.factories import UserFactory, client_for
from tests.media.factories import HTML, PDF, fetch, image_bytes, jpeg_with_exif, sha256

pytestmark = pytest.mark.django_db


def start(client, *, content: bytes, content_type="image/png", purpose="post_image", **extra):
    body = {
        "purpose": purpose,
        "content_type": content_type,
        "size": len(content),
        "filename": "photo.png",
        **extra,
    }
    return client.post("/api/v1/media/uploads/", body)


def post_to_s3(upload: dict, content: bytes, content_type: str) -> requests.Response:
    return requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("photo", content, content_type)},
        timeout=10,
    )


def complete(client, media_id):
    return client.post(f"/api/v1/media/uploads/{media_id}/complete/")


@pytest.mark.usefixtures("s3_storage")
def test_presigned_upload_then_complete_makes_a_ready_file(
    user_client, user, stored_keys, django_capture_on_commit_callbacks
):
    content = jpeg_with_exif(size=(60, 20))
    started = start(user_client, content=content, content_type="image/jpeg")

    assert started.status_code == 201, started.content
    body = started.json()
    assert set(body) == {"id", "upload", "expires_at"}
    pending = MediaFile.objects.get(pk=body["id"])
    assert (pending.status, pending.owner, pending.size) == ("pending", user, len(content))
    assert user_client.get(f"/api/v1/media/{body['id']}/").json()["url"] is None

    s3_response = post_to_s3(body["upload"], content, "image/jpeg")
    assert s3_response.status_code in (200, 201, 204), s3_response.text

    with django_capture_on_commit_callbacks(execute=True):
        done = complete(user_client, body["id"])

    assert done.status_code == 200, done.content
    media = done.json()
    assert (media["status"], media["content_type"]) == ("ready", "image/jpeg")
    assert (media["width"], media["height"]) == (20, 60)  # re-encoded upright, EXIF gone
    status, _, served = fetch(media["url"])
    assert status == 200 and sha256(served) == media["checksum"] and len(served) == media["size"]
    row = MediaFile.objects.get(pk=body["id"])
    assert row.storage_key.startswith(f"media/post_image/{row.pk}/")
    assert stored_keys() == {row.storage_key}  # the staging object is gone


@pytest.mark.usefixtures("s3_storage")
def test_complete_is_idempotent(user_client):
    content = PDF
    body = start(
        user_client, content=content, content_type="application/pdf", purpose="lesson_attachment"
    ).json()
    post_to_s3(body["upload"], content, "application/pdf")

    first = complete(user_client, body["id"])
    second = complete(user_client, body["id"])

    assert first.status_code == second.status_code == 200
    assert first.json()["checksum"] == second.json()["checksum"] == sha256(PDF)
    assert MediaFile.objects.filter(status="ready").count() == 1


@pytest.mark.usefixtures("s3_storage")
def test_upload_lying_about_its_type_is_refused_and_removed(user_client, stored_keys):
    body = start(user_client, content=HTML, content_type="image/png").json()
    post_to_s3(body["upload"], HTML, "image/png")
    assert len(stored_keys()) == 1

    response = complete(user_client, body["id"])

    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert error["details"]["detected_type"] == "text/html"
    assert error["details"]["declared_type"] == "image/png"
    assert stored_keys() == set()
    assert not MediaFile.objects.filter(pk=body["id"]).exists()
    assert complete(user_client, body["id"]).status_code == 404


@pytest.mark.usefixtures("s3_storage")
def test_upload_of_another_size_than_announced_is_refused(user_client, stored_keys):
    # Real S3 enforces the content-length-range of the policy; moto does not, which shows
    # that completion checks it again.
    content = image_bytes()
    body = start(user_client, content=content).json()
    post_to_s3(body["upload"], content + b"\x00" * 100, "image/png")

    response = complete(user_client, body["id"])

    assert response.status_code == 400
    assert "size" in response.json()["error"]["details"]
    assert stored_keys() == set()


@pytest.mark.usefixtures("s3_storage")
def test_complete_before_uploading_is_a_409_and_keeps_the_upload_open(user_client):
    body = start(user_client, content=image_bytes()).json()

    response = complete(user_client, body["id"])

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "upload_missing"
    assert MediaFile.objects.get(pk=body["id"]).status == "pending"


@pytest.mark.usefixtures("s3_storage")
def test_expired_upload_that_never_came_is_voided(user_client):
    body = start(user_client, content=image_bytes()).json()
    MediaFile.objects.filter(pk=body["id"]).update(upload_expires_at="2000-01-01T00:00:00Z")

    response = complete(user_client, body["id"])

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "upload_expired"
    assert not MediaFile.objects.filter(pk=body["id"]).exists()


@pytest.mark.usefixtures("s3_storage")
def test_only_the_owner_can_complete(user_client):
    body = start(user_client, content=image_bytes()).json()
    response = complete(client_for(UserFactory()), body["id"])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.usefixtures("s3_storage")
def test_presigned_policy_pins_size_type_and_key(user_client, settings):
    content = image_bytes()
    body = start(user_client, content=content).json()
    fields = body["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", len(content), len(content)] in conditions
    assert {"Content-Type": "image/png"} in conditions
    key = MediaFile.objects.get(pk=body["id"]).storage_key
    assert fields["key"] == key and key.startswith(f"uploads/{body['id']}/")
    assert fields["Content-Type"] == "image/png"


@pytest.mark.usefixtures("s3_storage")
@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"content_type": "image/svg+xml"}, 415, "unsupported_media_type"),
        ({"content_type": "text/html"}, 415, "unsupported_media_type"),
        ({"size": 10 * MB + 1}, 413, "payload_too_large"),
        ({"size": 0}, 400, "validation_error"),
        ({"purpose": "wallpaper"}, 400, "validation_error"),
    ],
)
def test_direct_upload_requests_are_validated(user_client, payload, status, code):
    body = {"purpose": "post_image", "content_type": "image/png", "size": 100, **payload}
    response = user_client.post("/api/v1/media/uploads/", body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not MediaFile.objects.exists()


@pytest.mark.usefixtures("s3_storage")
def test_pending_uploads_count_towards_the_quota(user_client, settings):
    settings.MEDIA_USER_QUOTA_BYTES = 1000
    assert start(user_client, content=b"x" * 600).status_code == 201
    response = start(user_client, content=b"x" * 600)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "storage_quota_exceeded"


@pytest.mark.usefixtures("local_storage")
def test_direct_uploads_are_unavailable_without_s3(user_client):
    response = start(user_client, content=image_bytes())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "direct_upload_unavailable"
    assert not MediaFile.objects.exists()
