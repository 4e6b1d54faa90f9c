import pytest
from django.contrib.auth.models import Group
from django.test import Client

from apps.accounts.models import AuditEvent, User
from tests.factories import DEFAULT_PASSWORD, UserFactory, client_for

pytestmark = pytest.mark.django_db


def test_me_shows_the_profile(user_client, user):
    body = user_client.get("/api/v1/me/").json()
    assert body["id"] == user.pk
    assert body["email"] == user.email
    assert body["roles"] == ["student"]
    assert body["timezone"] == "UTC"
    assert {"display_name", "bio", "date_joined", "last_login"} <= set(body)


def test_me_requires_a_token(api_client):
    assert api_client.get("/api/v1/me/").status_code == 401


def test_me_patch_updates_and_validates(user_client, user):
    response = user_client.patch(
        "/api/v1/me/", {"display_name": "Ada", "timezone": "Europe/Paris", "bio": "Hi"}
    )
    assert response.status_code == 200
    assert (response.json()["display_name"], response.json()["timezone"]) == (
        "Ada",
        "Europe/Paris",
    )
    bad = user_client.patch("/api/v1/me/", {"timezone": "Mars/Olympus"})
    assert bad.status_code == 400
    assert "timezone" in bad.json()["error"]["details"]
    # Email and roles are not writable here.
    user_client.patch("/api/v1/me/", {"email": "evil@example.com", "roles": ["admin"]})
    user.refresh_from_db()
    assert user.email != "evil@example.com"
    assert not user.groups.filter(name="admin").exists()


def test_delete_me_deactivates_anonymises_and_revokes(api_client, user):
    tokens = api_client.post(
        "/api/v1/auth/token/", {"email": user.email, "password": DEFAULT_PASSWORD}
    ).json()
    email = user.email
    assert client_for(user).delete("/api/v1/me/").status_code == 204

    user.refresh_from_db()
    assert not user.is_active
    assert email not in user.email and user.email.endswith("@deleted.invalid")
    assert user.display_name == "" and not user.has_usable_password()
    assert not user.groups.exists()
    refresh = {"refresh": tokens["refresh"]}
    assert api_client.post("/api/v1/auth/token/refresh/", refresh).status_code == 401
    assert (
        api_client.post(
            "/api/v1/auth/token/", {"email": email, "password": DEFAULT_PASSWORD}
        ).status_code
        == 401
    )
    assert AuditEvent.objects.filter(action="account.deleted", target_id=str(user.pk)).exists()
    # The address can sign up again as a new account.
    assert (
        api_client.post(
            "/api/v1/auth/register/",
            {"email": email, "password": DEFAULT_PASSWORD, "display_name": "Back"},
        ).status_code
        == 201
    )
    assert User.objects.filter(email=email, is_active=True).exists()


def test_access_token_of_a_deleted_account_stops_working(user):
    client = client_for(user)
    client.delete("/api/v1/me/")
    assert client.get("/api/v1/me/").status_code == 401


def test_export_contains_the_users_data(api_client, user):
    api_client.post("/api/v1/auth/token/", {"email": user.email, "password": DEFAULT_PASSWORD})
    body = client_for(user).get("/api/v1/me/export/").json()
    assert body["profile"]["email"] == user.email
    assert body["email_addresses"] == [{"email": user.email, "verified": True, "primary": True}]
    assert [event["action"] for event in body["security_events"]] == ["login.succeeded"]


def test_public_profile_and_hidden_inactive_users(user_client):
    other = UserFactory(display_name="Grace", roles=["instructor"])
    body = user_client.get(f"/api/v1/users/{other.pk}/").json()
    assert body["display_name"] == "Grace"
    assert body["roles"] == ["instructor"]
    assert "email" not in body
    assert (body["follower_count"], body["following_count"]) == (0, 0)
    assert (body["level"], body["xp"]) == (1, 0)

    from apps.gamification.services import xp_award
    from apps.social.models import Follow

    Follow.objects.create(follower=UserFactory(), followee=other)
    xp_award(user_id=other.pk, action="course.completed", source_key="c:profile")
    body = user_client.get(f"/api/v1/users/{other.pk}/").json()
    assert body["follower_count"] == 1
    assert body["level"] == 2 and body["xp"] >= 100

    other.is_active = False
    other.save()
    response = user_client.get(f"/api/v1/users/{other.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_roles_endpoint_is_403_for_students(user_client, user):
    target = UserFactory()
    response = user_client.put(f"/api/v1/users/{target.pk}/roles/", {"roles": ["admin"]})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not target.groups.filter(name="admin").exists()


def test_superuser_changes_roles_and_it_is_audited():
    # Role admins grant only student and instructor (tests/security/test_privileges.py).
    admin_user = UserFactory(is_staff=True, is_superuser=True, roles=[])
    target = UserFactory()
    response = client_for(admin_user).put(
        f"/api/v1/users/{target.pk}/roles/", {"roles": ["instructor", "moderator"]}
    )
    assert response.status_code == 200
    assert response.json() == {"id": target.pk, "roles": ["instructor", "moderator"]}
    target.refresh_from_db()
    assert target.has_perm("accounts.author_courses")
    assert target.has_perm("accounts.moderate_content")
    assert not target.has_perm("accounts.manage_roles")
    event = AuditEvent.objects.get(action="roles.changed")
    assert event.actor == admin_user
    assert event.metadata == {"before": ["student"], "after": ["instructor", "moderator"]}


@pytest.mark.parametrize("payload", [{"roles": ["wizard"]}, {"roles": []}, {}])
def test_roles_input_is_validated(admin_user, payload):
    target = UserFactory()
    response = client_for(admin_user).put(f"/api/v1/users/{target.pk}/roles/", payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_roles_are_groups_with_explicit_permissions():
    expected = {
        "student": set(),
        "instructor": {"author_courses"},
        "moderator": {"moderate_content", "view_audit_log"},
    }
    for role, codenames in expected.items():
        group = Group.objects.get(name=role)
        assert set(group.permissions.values_list("codename", flat=True)) == codenames
    admin_perms = set(
        Group.objects.get(name="admin").permissions.values_list("codename", flat=True)
    )
    assert {"manage_roles", "moderate_content", "author_courses", "view_audit_log"} <= admin_perms


def test_audit_events_are_append_only(user):
    event = AuditEvent.objects.create(action="test.event", actor=user)
    event.action = "tampered"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_admin_login_locks_out_after_repeated_failures():
    staff = UserFactory(is_staff=True, roles=["admin"])
    client = Client()
    for _ in range(5):
        response = client.post(
            "/admin/login/", {"username": staff.email, "password": "wrong-password-1"}
        )
        assert response.status_code == 200  # the form again, with an error
    response = client.post("/admin/login/", {"username": staff.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert AuditEvent.objects.filter(action="login.locked_out").exists()


def test_admin_login_works_for_staff():
    staff = UserFactory(is_staff=True, roles=["admin"])
    response = Client().post(
        "/admin/login/", {"username": staff.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="login.succeeded", actor=staff).exists()
