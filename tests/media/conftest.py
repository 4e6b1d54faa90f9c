"""Media tests run twice: on local disk and on an S3-compatible server (moto, in server mode on
loopback), reached over real HTTP through django-storages and boto3."""

import logging
import os
import uuid
from pathlib import Path

import boto3
import pytest
from django.core.files.storage import default_storage
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

S3_REGION = "us-east-1"
S3_CREDENTIALS = {"access_key": "testing-access-key", "secret_key": "testing-secret-key"}


@pytest.fixture(scope="session")
def s3_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_CREDENTIALS["access_key"],
        aws_secret_access_key=S3_CREDENTIALS["secret_key"],
    )


def _use_s3(settings, endpoint: str) -> str:
    bucket = f"lyo-test-{uuid.uuid4().hex[:16]}"
    _s3_client(endpoint).create_bucket(Bucket=bucket)
    # Reassigning STORAGES (not mutating it) fires setting_changed, which makes Django drop
    # the cached default_storage (django.test.signals.storages_changed).
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint,
                "region_name": S3_REGION,
                **S3_CREDENTIALS,
                "file_overwrite": False,
                "default_acl": "private",
                "querystring_auth": True,
                "querystring_expire": 900,
                "signature_version": "s3v4",
            },
        },
    }
    return bucket


def _use_local(settings, root: Path) -> None:
    settings.MEDIA_ROOT = str(root)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }


@pytest.fixture(params=["local", "s3"])
def media_storage(request, settings, tmp_path):
    """The default storage for one test: local disk, then S3 (a fresh bucket)."""
    if request.param == "s3":
        _use_s3(settings, request.getfixturevalue("s3_endpoint"))
        assert isinstance(default_storage, S3Storage)
    else:
        _use_local(settings, tmp_path / "media")
        assert not isinstance(default_storage, S3Storage)
    return request.param


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    """S3 only (direct uploads)."""
    _use_s3(settings, s3_endpoint)
    return "s3"


@pytest.fixture
def local_storage(settings, tmp_path):
    _use_local(settings, tmp_path / "media")
    return "local"


@pytest.fixture
def stored_keys():
    """Every object key in the current default storage."""

    def list_keys() -> set[str]:
        if isinstance(default_storage, S3Storage):
            client = default_storage.connection.meta.client
            response = client.list_objects_v2(Bucket=default_storage.bucket_name)
            return {item["Key"] for item in response.get("Contents", [])}
        root = Path(default_storage.location)
        return {
            str(Path(directory, name).relative_to(root))
            for directory, _, names in os.walk(root)
            for name in names
        }

    return list_keys
