import smtplib
import threading
from datetime import timedelta

import pytest
import redis
from celery.exceptions import Retry
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, send_mail
from django.db import connection, transaction
from django.utils import timezone

from apps.mailing.models import OutboundEmail
from apps.mailing.services import EmailDeliveryFailed, email_deliver, email_requeue_stale
from apps.mailing.tasks import deliver_email, requeue_stale_emails
from tests.core.test_outbox import private_broker  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def _send_welcome() -> int:
    return send_mail(
        subject="Welcome to Lyo",
        message="Hello in plain text",
        from_email="Lyo <no-reply@lyo.test>",
        recipient_list=["ada@example.com"],
        html_message="<p>Hello in <b>HTML</b></p>",
    )


def _queue_welcome(django_capture_on_commit_callbacks) -> OutboundEmail:
    """Store an email without running its delivery (its on-commit callback is dropped)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _send_welcome()
    assert len(callbacks) == 1
    return OutboundEmail.objects.get()


def test_send_mail_stores_one_row_and_delivers_it_after_commit(
    smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert _send_welcome() == 1
        email = OutboundEmail.objects.get()
        assert email.status == OutboundEmail.Status.QUEUED
        assert smtp_server.messages == []  # nothing leaves before the commit

    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.SENT, 1)
    assert email.sent_at is not None
    assert email.message_id.startswith("<") and email.message_id.endswith("@lyo.test>")

    [received] = smtp_server.messages
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.message["Subject"] == "Welcome to Lyo"
    assert received.message["Message-ID"] == email.message_id
    assert received.message.get_body(("plain",)).get_content().strip() == "Hello in plain text"
    assert "<b>HTML</b>" in received.message.get_body(("html",)).get_content()


def test_stored_fields_round_trip_cc_bcc_reply_to_and_headers(
    smtp_server, django_capture_on_commit_callbacks
):
    message = EmailMultiAlternatives(
        subject="Report",
        body="text",
        to=["to@example.com"],
        cc=["cc@example.com"],
        bcc=["bcc@example.com"],
        reply_to=["help@lyo.test"],
        headers={"X-Lyo-Kind": "report", "Message-ID": "<caller-chosen@example.com>"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        message.send()

    email = OutboundEmail.objects.get()
    assert email.headers == {"X-Lyo-Kind": "report"}  # the outbox owns the Message-ID
    assert email.body_html == ""
    [received] = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["bcc@example.com", "cc@example.com", "to@example.com"]
    assert received.message["Cc"] == "cc@example.com"
    assert received.message["Bcc"] is None
    assert received.message["Reply-To"] == "help@lyo.test"
    assert received.message["X-Lyo-Kind"] == "report"
    assert received.message["Message-ID"] == email.message_id


def test_html_only_message_is_delivered_as_html(smtp_server, django_capture_on_commit_callbacks):
    message = EmailMessage(subject="Hi", body="<p>only html</p>", to=["ada@example.com"])
    message.content_subtype = "html"
    with django_capture_on_commit_callbacks(execute=True):
        message.send()

    [received] = smtp_server.messages
    assert received.message.get_content_type() == "text/html"


def test_attachments_are_refused_rather_than_dropped():
    message = EmailMessage(subject="Hi", body="see attached", to=["ada@example.com"])
    message.attach("notes.txt", "hello", "text/plain")
    with pytest.raises(ValueError, match="attachments"):
        message.send()
    assert not OutboundEmail.objects.exists()


def test_rolled_back_transaction_stores_and_sends_nothing(
    smtp_server, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _send_welcome()
        raise RuntimeError("the caller's work failed")

    assert callbacks == []
    assert not OutboundEmail.objects.exists()
    assert smtp_server.messages == []


def test_temporary_smtp_failure_is_recorded_then_retried_with_exactly_one_delivery(
    smtp_server, django_capture_on_commit_callbacks, caplog
):
    smtp_server.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        _send_welcome()

    # The first attempt got "451 4.3.0 try again": recorded and committed, task asks to retry.
    email = OutboundEmail.objects.get()
    assert (email.status, email.attempts) == (OutboundEmail.Status.QUEUED, 1)
    assert email.last_error == "SMTPDataError: (451, b'4.3.0 try again')"
    assert smtp_server.messages == []
    assert "Retry in" in caplog.text  # the robust on-commit hook logged the eager Retry

    deliver_email.delay(str(email.pk))  # what the worker runs when the countdown is over

    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.SENT, 2)
    assert email.last_error.startswith("SMTPDataError")  # the last failure stays visible
    [received] = smtp_server.messages
    assert received.message["Message-ID"] == email.message_id


def test_task_retries_temporary_failures_through_celery_with_backoff(
    smtp_server, django_capture_on_commit_callbacks
):
    # Eager Celery with CELERY_TASK_EAGER_PROPAGATES raises Retry instead of waiting out the
    # countdown; running Retry.sig is exactly what a worker does later, so this is deterministic.
    email = _queue_welcome(django_capture_on_commit_callbacks)
    smtp_server.fail_next(2)

    with pytest.raises(Retry) as first:
        deliver_email.delay(str(email.pk))
    assert 0 <= first.value.when <= 1  # 2**0 seconds, fully jittered
    with pytest.raises(Retry) as second:
        first.value.sig.apply()
    assert 0 <= second.value.when <= 2
    second.value.sig.apply()

    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.SENT, 3)
    assert len(smtp_server.messages) == 1


def test_delivery_task_retry_policy(settings):
    assert deliver_email.autoretry_for == (smtplib.SMTPException, OSError)
    assert deliver_email.max_retries == settings.MAILING_MAX_ATTEMPTS - 1
    assert (deliver_email.retry_backoff, deliver_email.retry_backoff_max) == (True, 600)
    assert deliver_email.retry_jitter is True
    assert deliver_email.acks_late is True


def test_delivering_the_same_email_twice_sends_it_once(
    smtp_server, django_capture_on_commit_callbacks
):
    email = _queue_welcome(django_capture_on_commit_callbacks)

    deliver_email.delay(str(email.pk))
    deliver_email.delay(str(email.pk))  # a duplicated or redelivered task
    email_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.SENT, 1)
    assert len(smtp_server.messages) == 1


def test_gives_up_as_failed_after_max_attempts(
    smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.MAILING_MAX_ATTEMPTS = 2
    email = _queue_welcome(django_capture_on_commit_callbacks)
    smtp_server.fail_next(10)

    with pytest.raises(Retry) as first:
        deliver_email.delay(str(email.pk))
    # The second attempt reaches MAILING_MAX_ATTEMPTS: the email is failed and the error
    # raised is one the task does not retry.
    with pytest.raises(EmailDeliveryFailed, match="451"):
        first.value.sig.apply()

    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.FAILED, 2)
    assert email.last_error.startswith("SMTPDataError: (451")

    smtp_server.fail_next(0)
    deliver_email.delay(str(email.pk))  # a stray task leaves a failed email alone
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.FAILED, 2)
    assert smtp_server.messages == []


def test_permanent_rejection_still_counts_against_max_attempts(
    smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.MAILING_MAX_ATTEMPTS = 1
    email = _queue_welcome(django_capture_on_commit_callbacks)
    smtp_server.fail_next(1, reply="554 5.7.1 rejected")

    with pytest.raises(EmailDeliveryFailed):
        deliver_email.delay(str(email.pk))

    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.FAILED, 1)
    assert "554" in email.last_error


def test_unreachable_smtp_server_counts_as_a_failed_attempt(
    settings, django_capture_on_commit_callbacks
):
    settings.MAILING_TRANSPORT_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", 9, False
    email = _queue_welcome(django_capture_on_commit_callbacks)

    with pytest.raises(OSError):
        email_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.QUEUED, 1)
    assert email.last_error.startswith("ConnectionRefusedError")


def test_sweeper_requeues_only_emails_stuck_in_the_queue(
    smtp_server, django_capture_on_commit_callbacks
):
    stuck = _queue_welcome(django_capture_on_commit_callbacks)
    OutboundEmail.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - timedelta(minutes=11)
    )
    with django_capture_on_commit_callbacks(execute=False):
        _send_welcome()  # queued just now: its own task is presumably still on the way
    fresh = OutboundEmail.objects.exclude(pk=stuck.pk).get()

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_emails.delay().get() == 1

    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == OutboundEmail.Status.SENT
    assert fresh.status == OutboundEmail.Status.QUEUED
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [stuck.message_id]


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_email_send_it_once(smtp_server):
    # Real commits and two database connections: the second worker must wait for the first
    # one's row lock and then find the email sent, instead of sending it again.
    email = OutboundEmail.objects.create(
        message_id="<concurrent@lyo.test>",
        from_email="no-reply@lyo.test",
        to=["ada@example.com"],
        subject="Only once",
        body_text="Hello",
    )
    smtp_server.handler.release = threading.Event()  # the SMTP server holds DATA until set

    results: list[str] = []

    def worker() -> None:
        try:
            results.append(email_deliver(email_id=email.pk).status)
        finally:
            connection.close()

    first, second = threading.Thread(target=worker), threading.Thread(target=worker)
    first.start()
    second.start()
    smtp_server.handler.release.wait(0.3)  # both are now either sending or waiting on the lock
    smtp_server.handler.release.set()
    first.join(5)
    second.join(5)

    assert results == [OutboundEmail.Status.SENT, OutboundEmail.Status.SENT]
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_an_email_the_broker_never_took_is_handed_off_by_the_next_sweep(private_broker):  # noqa: F811
    # The request commits its email while the broker is down: the row is safe, not handed off.
    _send_welcome()
    email = OutboundEmail.objects.get()
    assert (email.status, email.handed_off_at) == (OutboundEmail.Status.QUEUED, None)

    # Within the grace the sweeper leaves it to the request's own hand-off ...
    assert email_requeue_stale() == 0
    # ... after it, with the broker back, the sweep hands it off, once.
    private_broker.start()
    later = timezone.now() + timedelta(seconds=settings.OUTBOX_RELAY_AFTER_SECONDS + 1)
    assert email_requeue_stale(now=later) == 1
    email.refresh_from_db()
    assert email.handed_off_at is not None
    assert email_requeue_stale(now=later + timedelta(seconds=1)) == 0
    queued = redis.Redis.from_url(private_broker.url).llen("celery")
    assert queued == 1
