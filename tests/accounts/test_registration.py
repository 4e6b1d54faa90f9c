import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from apps.accounts.models import AuditEvent, User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
RESEND = "/api/v1/auth/email/resend/"
RESET = "/api/v1/auth/password/reset/"


def register(client, email="new@example.com", password=DEFAULT_PASSWORD, name="New Person"):
    return client.post(REGISTER, {"email": email, "password": password, "display_name": name})


def test_register_creates_an_unverified_student_and_sends_the_verification_link(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = register(api_client, email="New@Example.com")

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "email": "new@example.com",
        "display_name": "New Person",
        "verification_email_sent": True,
    }
    user = User.objects.get(email="new@example.com")
    assert user.display_name == "New Person"
    assert list(user.groups.values_list("name", flat=True)) == ["student"]
    assert not EmailAddress.objects.get(user=user).verified
    assert AuditEvent.objects.filter(action="account.registered", actor=user).exists()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.com"]
    assert re.search(r"/accounts/confirm-email/[^/\s]+/", message.body)


def test_token_is_refused_with_email_unverified_until_confirmed(api_client):
    register(api_client)
    response = api_client.post(TOKEN, {"email": "new@example.com", "password": DEFAULT_PASSWORD})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_unverified"

    EmailAddress.objects.filter(email="new@example.com").update(verified=True)
    response = api_client.post(TOKEN, {"email": "new@example.com", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_register_with_a_taken_email_answers_the_same_and_creates_nothing(
    api_client, django_capture_on_commit_callbacks
):
    existing = UserFactory(email="taken@example.com")
    fresh = register(api_client, email="fresh@example.com", name="Same Name")
    with django_capture_on_commit_callbacks(execute=True):
        taken = register(api_client, email="TAKEN@example.com", name="Same Name")

    assert taken.status_code == fresh.status_code == 201
    assert taken.json() | {"email": "x"} == fresh.json() | {"email": "x"}
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert existing.check_password(DEFAULT_PASSWORD)
    # The owner of the address is told, in their inbox only.
    assert [m.to for m in mail.outbox] == [["taken@example.com"]]
    assert "/accounts/confirm-email/" not in mail.outbox[0].body


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-1", "too short"),
        ("password123", "too common"),
        ("1234567890123", "entirely numeric"),
    ],
)
def test_register_refuses_weak_passwords(api_client, password, reason):
    response = register(api_client, password=password)
    assert response.status_code == 400, reason
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["password"]
    assert not User.objects.filter(email="new@example.com").exists()


def test_long_passphrases_are_welcome(api_client):
    passphrase = "a long passphrase about learning, coffee and quiet mornings " * 2
    assert len(passphrase) > 64
    assert register(api_client, password=passphrase).status_code == 201


@pytest.mark.parametrize("payload", [{}, {"email": "not-an-email", "password": "x"}])
def test_register_validates_input(api_client, payload):
    response = api_client.post(REGISTER, payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_resend_answers_202_alike_for_known_unknown_and_verified(
    api_client, django_capture_on_commit_callbacks
):
    UserFactory(email="pending@example.com", verified=False)
    UserFactory(email="done@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            api_client.post(RESEND, {"email": email})
            for email in ("pending@example.com", "nobody@example.com", "done@example.com")
        ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    # Only the address that awaits verification got a (new) link.
    assert [m.to for m in mail.outbox] == [["pending@example.com"]]
    assert "/accounts/confirm-email/" in mail.outbox[0].body

    # allauth's cooldown: asking again right away answers the same and sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = api_client.post(RESEND, {"email": "pending@example.com"})
    assert again.status_code == 202
    assert len(mail.outbox) == 1


def test_reset_answers_202_alike_and_emails_a_browser_link(
    api_client, django_capture_on_commit_callbacks
):
    UserFactory(email="forgetful@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        known = api_client.post(RESET, {"email": "forgetful@example.com"})
        unknown = api_client.post(RESET, {"email": "stranger@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert "/accounts/password/reset/key/" in by_recipient["forgetful@example.com"].body
    assert (
        "/accounts/password/reset/key/"
        not in by_recipient.get("stranger@example.com", mail.EmailMessage()).body
    )
