import pytest
from django.core.mail import send_mail
from django.urls import reverse

from apps.accounts.models import User
from apps.mailing.models import OutboundEmail

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:mailing_outboundemail_changelist"


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_superuser(email="admin@lyo.test", password="admin-pass-123")
    client.force_login(admin)
    return client


def _outbox_email(django_capture_on_commit_callbacks, **changes) -> OutboundEmail:
    with django_capture_on_commit_callbacks(execute=False):
        send_mail("Your receipt", "Thanks!", None, ["ada@example.com"])
    OutboundEmail.objects.update(**changes)
    return OutboundEmail.objects.get()


def test_resend_action_redelivers_a_failed_email_under_a_new_message_id(
    admin_client, smtp_server, django_capture_on_commit_callbacks
):
    email = _outbox_email(
        django_capture_on_commit_callbacks,
        status=OutboundEmail.Status.FAILED,
        attempts=8,
        last_error="SMTPDataError: (451, b'4.3.0 try again')",
    )
    old_message_id = email.message_id

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(CHANGELIST), {"action": "resend", "_selected_action": [str(email.pk)]}
        )

    assert response.status_code == 302
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.SENT, 1)
    assert email.message_id != old_message_id
    [received] = smtp_server.messages
    assert received.message["Subject"] == "Your receipt"
    assert received.message["Message-ID"] == email.message_id


def test_resend_action_skips_emails_still_on_their_way(
    admin_client, smtp_server, django_capture_on_commit_callbacks
):
    email = _outbox_email(django_capture_on_commit_callbacks)  # queued

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            reverse(CHANGELIST),
            {"action": "resend", "_selected_action": [str(email.pk)]},
            follow=True,
        )

    assert callbacks == []
    assert "only failed or sent emails can be resent" in response.content.decode().lower()
    assert smtp_server.messages == []


def test_outbox_admin_lists_filters_and_searches_but_never_edits(
    admin_client, django_capture_on_commit_callbacks
):
    email = _outbox_email(django_capture_on_commit_callbacks, status=OutboundEmail.Status.FAILED)

    listing = admin_client.get(reverse(CHANGELIST), {"status__exact": "failed", "q": "ada@"})
    assert listing.status_code == 200
    assert "Your receipt" in listing.content.decode()
    assert "Resend selected emails" in listing.content.decode()

    assert admin_client.get(reverse("admin:mailing_outboundemail_add")).status_code == 403
    detail_url = reverse("admin:mailing_outboundemail_change", args=[email.pk])
    assert admin_client.get(detail_url).status_code == 200  # view-only page
    admin_client.post(detail_url, {"subject": "changed"})
    email.refresh_from_db()
    assert email.subject == "Your receipt"
