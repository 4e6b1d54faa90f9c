"""Django's EMAIL_BACKEND for Lyo: every email goes to the outbox, never straight to SMTP."""

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from .services import email_enqueue


class OutboxEmailBackend(BaseEmailBackend):
    """Store messages as OutboundEmail rows in the caller's transaction.

    Delivery (through MAILING_TRANSPORT_BACKEND) happens in a task enqueued on commit, so a
    rolled-back transaction sends nothing. Storage errors propagate even with fail_silently:
    that flag is about delivery, which no longer happens here.
    """

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if not email_messages:
            return 0
        stored = 0
        with transaction.atomic():  # a batch is stored whole or not at all
            for message in email_messages:
                if not message.recipients():
                    continue  # as Django's SMTP backend does
                email_enqueue(message=message)
                stored += 1
        return stored
