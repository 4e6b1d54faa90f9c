import threading

import pytest
from django.core import mail
from django.db import connection

from apps.accounts.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory, client_for

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
CHANGE = "/api/v1/auth/password/change/"


def obtain(client, email, password=DEFAULT_PASSWORD, **extra):
    return client.post(TOKEN, {"email": email, "password": password}, **extra)


def test_token_pair_works_for_the_api_and_carries_audience_and_issuer(api_client, user):
    import jwt

    response = obtain(api_client, user.email.upper())
    assert response.status_code == 200
    access = response.json()["access"]
    claims = jwt.decode(access, options={"verify_signature": False})
    assert (claims["aud"], claims["iss"]) == ("lyo-api", "lyo")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api_client.get("/api/v1/me/").json()["email"] == user.email
    assert AuditEvent.objects.filter(action="login.succeeded", actor=user).count() == 1


@pytest.mark.parametrize("claim", ["aud", "iss"])
def test_token_for_another_audience_or_issuer_is_refused(api_client, user, settings, claim):
    import jwt
    from rest_framework_simplejwt.tokens import AccessToken

    # The real token's claims (with its audience and issuer), one of them changed.
    real = jwt.decode(str(AccessToken.for_user(user)), options={"verify_signature": False})
    payload = dict(real, **{claim: "someone-else"})
    forged = jwt.encode(payload, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_bad_credentials_are_401_and_audited(api_client, user):
    response = obtain(api_client, user.email, "wrong-password-123")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert AuditEvent.objects.filter(action="login.failed").count() == 1


def test_inactive_users_get_no_tokens(api_client):
    user = UserFactory(is_active=False)
    assert obtain(api_client, user.email).status_code == 401


def test_lockout_after_repeated_failures_even_with_the_right_password(api_client, user, caplog):
    for _ in range(5):
        assert obtain(api_client, user.email, "wrong-password-123").status_code == 401
    response = obtain(api_client, user.email)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 60
    assert AuditEvent.objects.filter(action="login.locked_out").count() == 1
    assert any(r.getMessage() == "login_lockout_started" for r in caplog.records)
    # Another person signing in from elsewhere is not affected.
    other = UserFactory()
    assert obtain(api_client, other.email, REMOTE_ADDR="10.9.9.9").status_code == 200


def test_token_endpoint_is_throttled_per_email_across_ips(api_client, user, settings):
    settings.LOGIN_MAX_FAILURES = 1000  # isolate the throttle from the lockout
    statuses = [
        obtain(api_client, user.email, "wrong-password-123", REMOTE_ADDR=f"10.0.0.{i}").status_code
        for i in range(11)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_refresh_rotates_and_a_rotated_token_is_dead(api_client, user):
    first = obtain(api_client, user.email).json()
    rotated = api_client.post(REFRESH, {"refresh": first["refresh"]})
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    reused = api_client.post(REFRESH, {"refresh": first["refresh"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "authentication_failed"
    assert api_client.post(REFRESH, {"refresh": rotated.json()["refresh"]}).status_code == 200


def test_garbage_refresh_is_401(api_client):
    response = api_client.post(REFRESH, {"refresh": "nonsense"})
    assert response.status_code == 401


def test_logout_kills_the_refresh_token_and_is_idempotent(api_client, user):
    tokens = obtain(api_client, user.email).json()
    client = client_for(user)
    assert client.post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 204
    # The logout ended the access token it came with; a retry from a newer one is fine.
    assert client.post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 401
    again = client_for(user).post(LOGOUT, {"refresh": tokens["refresh"]})
    assert again.status_code == 204
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401
    assert AuditEvent.objects.filter(action="logout", actor=user).exists()


def test_logout_cannot_revoke_someone_elses_token(api_client, user):
    victim = UserFactory()
    tokens = obtain(api_client, victim.email).json()
    response = client_for(user).post(LOGOUT, {"refresh": tokens["refresh"]})
    assert response.status_code == 400
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 200


def test_password_change_revokes_every_refresh_token(
    api_client, user, django_capture_on_commit_callbacks
):
    phone = obtain(api_client, user.email).json()
    laptop = obtain(api_client, user.email).json()
    client = client_for(user)

    wrong = client.post(CHANGE, {"old_password": "nope-nope-1", "new_password": "n3w-passphrase!"})
    assert wrong.status_code == 400
    weak = client.post(CHANGE, {"old_password": DEFAULT_PASSWORD, "new_password": "short"})
    assert weak.status_code == 400
    assert set(weak.json()["error"]["details"]) == {"new_password"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            CHANGE, {"old_password": DEFAULT_PASSWORD, "new_password": "n3w-passphrase!"}
        )
    assert response.status_code == 204
    # The owner is told, in case it was not them.
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "password" in mail.outbox[0].subject.lower()
    for tokens in (phone, laptop):
        assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401
    assert obtain(api_client, user.email).status_code == 401
    assert obtain(api_client, user.email, "n3w-passphrase!").status_code == 200
    assert AuditEvent.objects.filter(action="password.changed", actor=user).exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_with_one_token_only_one_wins():
    from rest_framework.test import APIClient

    user = UserFactory()
    refresh = obtain(APIClient(), user.email).json()["refresh"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def attempt():
        try:
            barrier.wait(timeout=10)
            statuses.append(APIClient().post(REFRESH, {"refresh": refresh}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 401]
