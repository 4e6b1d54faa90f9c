"""Celery tasks of the media domain: thin wrappers around services and storage."""

from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task

from . import storage
from .services import media_delete_orphans


@shared_task(
    autoretry_for=(OSError, BotoCoreError, ClientError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def delete_media_objects(keys: list[str]) -> None:
    """Delete stored objects whose rows are gone. Idempotent: a missing object is fine."""
    for key in keys:
        storage.object_delete(key)


@shared_task
def delete_orphaned_media() -> int:
    return media_delete_orphans()
