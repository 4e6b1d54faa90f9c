"""Writes of the mailing domain: put emails in the outbox, deliver them, resend them.

Every email is stored in the caller's transaction and delivered by a Celery task enqueued on
commit, so a rolled-back request sends nothing and a broker or SMTP outage loses nothing.
"""

import logging
import uuid
from datetime import timedelta
from email.utils import parseaddr
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.errors import Conflict
from apps.core.outbox import hand_off

from .models import OutboundEmail

logger = logging.getLogger("lyo.mailing")

LAST_ERROR_MAX_CHARS = 2000
# Rows queued longer than this without any activity have probably lost their task.
STALE_AFTER = timedelta(minutes=10)
STALE_BATCH_SIZE = 500


class EmailDeliveryFailed(Exception):
    """An email was marked failed after MAILING_MAX_ATTEMPTS; the task must stop retrying."""


def email_enqueue(*, message: EmailMessage) -> OutboundEmail:
    """Store `message` in the outbox and deliver it once the current transaction commits."""
    if message.attachments:
        raise ValueError("The outbox does not store attachments.")
    body_text, body_html = message.body, ""
    if message.content_subtype == "html":
        body_text, body_html = "", str(message.body)
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            body_html = str(content)
            break
    headers = {
        name: str(value)
        for name, value in message.extra_headers.items()
        if name.lower() != "message-id"  # the outbox owns the Message-ID
    }
    email = OutboundEmail.objects.create(
        message_id=_new_message_id(from_email=message.from_email),
        from_email=message.from_email,
        to=list(message.to),
        cc=list(message.cc),
        bcc=list(message.bcc),
        reply_to=list(message.reply_to),
        subject=str(message.subject),
        body_text=str(body_text),
        body_html=body_html,
        headers=headers,
    )
    _deliver_on_commit(email_id=email.pk)
    return email


def email_deliver(*, email_id: UUID | str) -> OutboundEmail:
    """Send one outbox email through MAILING_TRANSPORT_BACKEND unless it is sent or failed.

    The row stays locked for the whole SMTP exchange, so a duplicated or retried task waits,
    then finds it sent (or failed) and sends nothing. A failure is recorded and committed
    before the exception is re-raised for the task to retry; once MAILING_MAX_ATTEMPTS is
    reached the email is marked failed and EmailDeliveryFailed (not retried) is raised.
    """
    failure: Exception | None = None
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().get(pk=email_id)
        if email.status in (OutboundEmail.Status.SENT, OutboundEmail.Status.FAILED):
            return email
        email.attempts += 1
        try:
            _transport_send(email)
        # Anything the transport raises is an attempt: record it, commit, then re-raise below.
        except Exception as exc:  # noqa: BLE001
            failure = exc
            email.last_error = f"{type(exc).__name__}: {exc}"[:LAST_ERROR_MAX_CHARS]
            gave_up = email.attempts >= settings.MAILING_MAX_ATTEMPTS
            email.status = OutboundEmail.Status.FAILED if gave_up else OutboundEmail.Status.QUEUED
        else:
            email.status = OutboundEmail.Status.SENT
            email.sent_at = timezone.now()
        email.save(update_fields=["attempts", "last_error", "status", "sent_at", "updated_at"])

    if failure is None:
        return email
    if email.status == OutboundEmail.Status.FAILED:
        logger.error(
            "email delivery gave up",
            extra={"email_id": str(email.pk), "attempts": email.attempts},
        )
        raise EmailDeliveryFailed(f"Gave up on email {email.pk}: {email.last_error}") from failure
    logger.warning(
        "email delivery attempt failed",
        extra={"email_id": str(email.pk), "attempts": email.attempts},
    )
    raise failure


def email_resend(*, email_id: UUID | str) -> OutboundEmail:
    """Queue a failed or sent email again (staff asked for it) under a fresh Message-ID.

    The new Message-ID keeps receivers from discarding it as a duplicate of the first send.
    """
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().get(pk=email_id)
        if email.status not in (OutboundEmail.Status.FAILED, OutboundEmail.Status.SENT):
            raise Conflict("Only failed or sent emails can be resent; this one is on its way.")
        email.message_id = _new_message_id(from_email=email.from_email)
        email.status = OutboundEmail.Status.QUEUED
        email.attempts = 0
        email.sent_at = None
        email.save(update_fields=["message_id", "status", "attempts", "sent_at", "updated_at"])
        _deliver_on_commit(email_id=email.pk)
    return email


def email_requeue_stale(*, now=None) -> int:
    """Enqueue delivery again for queued emails the broker never took (their request found it
    down or frozen) and for those untouched for STALE_AFTER (their task was lost).

    Touching `updated_at` keeps the next sweep from piling up tasks while these wait in the
    queue; an extra task for an email that meanwhile got sent is harmless (see email_deliver).
    """
    now = now or timezone.now()
    # As for the event outbox: after OUTBOX_RELAY_AFTER_SECONDS the request's own hand-off,
    # if it was going to succeed, has.
    grace = timedelta(seconds=settings.OUTBOX_RELAY_AFTER_SECONDS)
    never_handed_off = Q(handed_off_at=None, created_at__lt=now - grace)
    lost = Q(updated_at__lt=now - STALE_AFTER)
    with transaction.atomic():
        stale_ids = list(
            OutboundEmail.objects.filter(
                never_handed_off | lost, status=OutboundEmail.Status.QUEUED
            )
            .order_by("created_at")
            .values_list("pk", flat=True)[:STALE_BATCH_SIZE]
        )
        OutboundEmail.objects.filter(pk__in=stale_ids).update(updated_at=now)
    handed_off = [email_id for email_id in stale_ids if _hand_off(email_id, patient=True)]
    if stale_ids:
        logger.warning(
            "requeued stale emails", extra={"count": len(stale_ids), "sent": len(handed_off)}
        )
    return len(handed_off)


def _deliver_on_commit(*, email_id: UUID) -> None:
    # The row is committed by then; if the broker is down the sweeper sends it later, and the
    # caller's (already committed) request must not fail or hang because of it.
    transaction.on_commit(lambda: _hand_off(email_id))


def _hand_off(email_id: UUID, *, patient: bool = False) -> bool:
    from .tasks import deliver_email  # tasks import this module

    if not hand_off(deliver_email, str(email_id), patient=patient):
        return False
    OutboundEmail.objects.filter(pk=email_id, handed_off_at=None).update(
        handed_off_at=timezone.now()
    )
    return True


def _transport_send(email: OutboundEmail) -> None:
    connection = get_connection(settings.MAILING_TRANSPORT_BACKEND, fail_silently=False)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email,
        to=email.to,
        cc=email.cc,
        bcc=email.bcc,
        reply_to=email.reply_to,
        headers={**email.headers, "Message-ID": email.message_id},
        connection=connection,
    )
    if email.body_html and email.body_text:
        message.attach_alternative(email.body_html, "text/html")
    elif email.body_html:
        message.body = email.body_html
        message.content_subtype = "html"
    message.send()


def _new_message_id(*, from_email: str) -> str:
    # The sender's domain on the right, as receivers' spam filters expect.
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "lyo"
    return f"<{uuid.uuid4()}@{domain}>"
