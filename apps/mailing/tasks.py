"""Celery tasks of the mailing domain: thin wrappers around services."""

import smtplib

from celery import shared_task
from django.conf import settings

from .services import email_deliver, email_requeue_stale


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,  # 1s, 2s, 4s, ... capped at retry_backoff_max, with full jitter
    retry_backoff_max=600,
    retry_jitter=True,
    # The first run plus retries makes MAILING_MAX_ATTEMPTS; the row's own attempt count is
    # what decides giving up (email_deliver raises EmailDeliveryFailed, which is not retried).
    max_retries=settings.MAILING_MAX_ATTEMPTS - 1,
    acks_late=True,
)
def deliver_email(email_id: str) -> None:
    email_deliver(email_id=email_id)


@shared_task
def requeue_stale_emails() -> int:
    return email_requeue_stale()
