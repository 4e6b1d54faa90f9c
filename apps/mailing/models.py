"""Models of the mailing domain: the outbox every email passes through."""

import uuid

from django.db import models


class OutboundEmail(models.Model):
    """One email written to the outbox in the sender's transaction and delivered by a task.

    Delivery is at-least-once: a worker that dies after the SMTP server accepted the message
    but before recording it leaves the row queued, and it is sent again. The stable
    `message_id` (the Message-ID header) lets receivers drop that duplicate.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        # Not written today: delivery holds the row lock for the whole SMTP exchange, so a row
        # moves from queued straight to sent, back to queued, or to failed. Reserved for a
        # delivery that claims rows before sending (e.g. batched sends).
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # gave up after MAILING_MAX_ATTEMPTS

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message_id = models.CharField(max_length=255, unique=True, editable=False)

    from_email = models.CharField(max_length=512)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True, help_text="Extra headers.")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the broker took its delivery task; null while the broker was down (the sweeper's cue).
    handed_off_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]
        verbose_name = "outbound email"

    def __str__(self) -> str:
        return f"{self.subject!r} to {', '.join(self.to)} ({self.status})"
