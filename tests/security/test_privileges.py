"""Privileges, secrets and tokens (issue 13, items 2, 6, 7, 8, 9 and 16).

Tokens are used as a client uses them (a bearer header on a real request) and forged, where a
test needs a token no release would write, with the test settings' real signing key. The
Django admin is driven through its own pages with the test client, CSRF checks included.
"""

import re

import jwt
import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.accounts.models import AuditEvent, User
from apps.accounts.tokens import RefreshToken
from tests.factories import DEFAULT_PASSWORD, UserFactory, client_for

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
TOKEN = "/api/v1/auth/token/"
LOGOUT = "/api/v1/auth/logout/"
CHANGE = "/api/v1/auth/password/change/"
RESET = "/api/v1/auth/password/reset/"
NEW_PASSWORD = "a fresh passphrase for 2026"


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def sign_in(email: str, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    response = APIClient().post(TOKEN, {"email": email, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def browser_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Item 7: a revoked access token stops at once ------------------------------------------------


def _logout(user, tokens):
    response = bearer(tokens["access"]).post(LOGOUT, {"refresh": tokens["refresh"]})
    assert response.status_code == 204


def _api_password_change(user, tokens):
    body = {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    assert bearer(tokens["access"]).post(CHANGE, body).status_code == 204


def _browser_password_change(user, tokens):
    browser = browser_for(user)
    response = browser.post(
        "/accounts/password/change/",
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def _browser_password_reset(user, tokens):
    with TestCase.captureOnCommitCallbacks(execute=True):  # the email leaves on commit
        assert APIClient().post(RESET, {"email": user.email}).status_code == 202
    (message,) = [m for m in mail.outbox if m.to == [user.email]]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", message.body)[1]
    browser = Client()
    form_page = browser.get(link, follow=True)
    assert form_page.status_code == 200
    response = browser.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def _admin_password_change(user, tokens):
    superuser = UserFactory(is_staff=True, is_superuser=True, roles=[])
    response = browser_for(superuser).post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def _admin_deactivation(user, tokens):
    superuser = UserFactory(is_staff=True, is_superuser=True, roles=[])
    admin = browser_for(superuser)
    url = f"/admin/accounts/user/{user.pk}/change/"
    form = admin.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        {"groups": [g.pk for g in user.groups.all()], "is_active": "", "timezone": user.timezone}
    )
    data.pop("password", None)
    data.pop("user_permissions", None)
    data.pop("last_login", None)
    data.pop("date_joined", None)
    response = admin.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert not user.is_active


def _account_deletion(user, tokens):
    assert bearer(tokens["access"]).delete(ME).status_code == 204


REVOKING_PATHS = {
    "logout": _logout,
    "api password change": _api_password_change,
    "browser password change": _browser_password_change,
    "browser password reset": _browser_password_reset,
    "admin password change": _admin_password_change,
    "admin deactivation": _admin_deactivation,
    "account deletion": _account_deletion,
}


@pytest.mark.parametrize("revoke", REVOKING_PATHS.values(), ids=REVOKING_PATHS.keys())
def test_item7_access_token_stops_at_once(revoke, django_capture_on_commit_callbacks):
    user = UserFactory()
    tokens = sign_in(user.email)
    other_device = sign_in(user.email)
    assert bearer(tokens["access"]).get(ME).status_code == 200  # the user copy is now cached

    with django_capture_on_commit_callbacks(execute=True):
        revoke(user, tokens)

    for access in (tokens["access"], other_device["access"]):
        response = bearer(access).get(ME)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "authentication_failed"
    user.refresh_from_db()
    if user.is_active:  # a new sign-in works, with whichever password is now the right one
        password = DEFAULT_PASSWORD if revoke in (_logout,) else NEW_PASSWORD
        assert bearer(sign_in(user.email, password)["access"]).get(ME).status_code == 200


def test_item7_after_logout_other_devices_refresh_and_go_on():
    user = UserFactory()
    phone, laptop = sign_in(user.email), sign_in(user.email)
    _logout(user, phone)
    assert bearer(laptop["access"]).get(ME).status_code == 401
    refreshed = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": laptop["refresh"]})
    assert refreshed.status_code == 200
    assert bearer(refreshed.json()["access"]).get(ME).status_code == 200
    again = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": phone["refresh"]})
    assert again.status_code == 401


def test_the_token_version_check_adds_no_query_to_an_authenticated_request():
    user = UserFactory()
    client = bearer(sign_in(user.email)["access"])
    endpoint = "/api/v1/me/gamification/"
    assert client.get(endpoint).status_code == 200  # user copy and answer cached
    with CaptureQueriesContext(connection) as captured:
        assert client.get(endpoint).status_code == 200
    assert not [q for q in captured.captured_queries if 'FROM "accounts_user"' in q["sql"]]


def test_tokens_of_the_previous_release_without_a_version_still_work():
    user = UserFactory()
    from rest_framework_simplejwt.tokens import AccessToken

    assert bearer(str(AccessToken.for_user(user))).get(ME).status_code == 200


# --- Item 16: a validly signed token with a malformed user id is a 401 -------------------------


def forged(**claims) -> str:
    # A real token's claims (audience and issuer included), changed and signed again.
    real = str(RefreshToken.for_user(UserFactory()).access_token)
    payload = jwt.decode(real, options={"verify_signature": False})
    for claim, value in claims.items():
        if value is _MISSING:
            payload.pop(claim)
        else:
            payload[claim] = value
    return jwt.encode(payload, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")


_MISSING = object()
MALFORMED_USER_IDS = {
    "not a number": "abc",
    "huge integer": 10**30,
    "huge integer as text": str(10**30),
    "just past bigint": str(2**63),
    "negative": -5,
    "negative as text": "-5",
    "zero": 0,
    "float": 1.5,
    "boolean": True,
    "list": [1],
    "object": {"id": 1},
    "null": None,
    "missing": _MISSING,
    "non-ASCII digits": "\u0661",
}


@pytest.mark.parametrize("user_id", MALFORMED_USER_IDS.values(), ids=MALFORMED_USER_IDS.keys())
def test_item16_malformed_user_id_claim_is_401_authentication_failed(user_id):
    response = bearer(forged(user_id=user_id)).get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize("version", ["abc", -1, [0], None, 10**30, True])
def test_item16_malformed_token_version_claim_is_401_authentication_failed(version):
    response = bearer(forged(token_version=version)).get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_forged_token_with_well_formed_claims_is_accepted():
    # The forging above is sound: unchanged claims sign in, so a 401 above is the claim's.
    assert bearer(forged()).get(ME).status_code == 200
    assert bearer(forged(user_id=str(2**63 - 1))).get(ME).status_code == 401  # no such account


def test_item7_a_deactivated_then_reactivated_account_has_no_old_token_back():
    user = UserFactory()
    tokens = sign_in(user.email)
    _admin_deactivation(user, tokens)
    user.is_active = True
    user.save(update_fields=["is_active"])
    assert bearer(tokens["access"]).get(ME).status_code == 401
    refreshed = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401


# --- Item 2: who may grant what in the Django admin and the roles API ---------------------------

ROLE_PEOPLE = {
    "learner": {"roles": ["student"]},
    "instructor": {"roles": ["instructor"]},
    "moderator": {"roles": ["moderator"]},
    "role admin": {"roles": ["admin"], "is_staff": True},
    "staff": {"roles": [], "is_staff": True},
    "superuser": {"roles": [], "is_staff": True, "is_superuser": True},
}


def person(kind: str) -> User:
    return UserFactory(**ROLE_PEOPLE[kind])


def change_url(user: User) -> str:
    return f"/admin/accounts/user/{user.pk}/change/"


def change_form_data(admin: Client, user: User, **changes) -> dict:
    """What the change form posts back unchanged, with `changes` applied (None unticks)."""
    page = admin.get(change_url(user))
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form.initial.get(name)
        if hasattr(field, "queryset"):
            data[name] = [getattr(item, "pk", item) for item in value or []]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def password_form_post(admin: Client, user: User, password: str = NEW_PASSWORD):
    return admin.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": password, "password2": password, "set_usable_password": "true"},
    )


def password_is(user: User, password: str) -> bool:
    user.refresh_from_db()
    return user.check_password(password)


@pytest.mark.parametrize(
    ("actor_kind", "expected"),
    [
        ("learner", 302),  # not staff: the admin sends them to its sign-in page
        ("instructor", 302),
        ("moderator", 302),
        ("staff", 403),  # staff without the role's permissions sees no one
        ("role admin", 200),
        ("superuser", 200),
    ],
)
def test_admin_change_form_of_a_learner_by_role(actor_kind, expected):
    learner = person("learner")
    response = browser_for(person(actor_kind)).get(change_url(learner))
    assert response.status_code == expected
    if expected == 302:
        assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(("actor_kind", "may_edit"), [("role admin", False), ("superuser", True)])
def test_item2_only_superusers_see_access_flags_as_inputs(actor_kind, may_edit):
    form = browser_for(person(actor_kind)).get(change_url(person("learner"))).context["adminform"]
    assert ("is_superuser" in form.form.fields) is may_edit
    assert ("is_staff" in form.form.fields) is may_edit


def test_item2_role_admin_cannot_grant_superuser():
    role_admin = person("role admin")
    admin = browser_for(role_admin)
    # On their own account (staff: not theirs to edit) ...
    own = admin.post(change_url(role_admin), {"email": role_admin.email, "is_superuser": "on"})
    assert own.status_code == 403
    # ... and on a learner's, whose form has no such input: the forged field is ignored.
    learner = person("learner")
    data = change_form_data(admin, learner, is_superuser="on", is_staff="on")
    assert admin.post(change_url(learner), data).status_code == 302
    for user in (role_admin, learner):
        user.refresh_from_db()
        assert not user.is_superuser
    assert not learner.is_staff


@pytest.mark.parametrize("target_kind", ["superuser", "staff", "role admin", "moderator"])
def test_item2_role_admin_cannot_set_a_staff_password_or_edit_their_account(target_kind):
    target = person(target_kind)
    admin = browser_for(person("role admin"))
    assert admin.get(f"/admin/accounts/user/{target.pk}/password/").status_code == 403
    assert password_form_post(admin, target).status_code == 403
    assert password_is(target, DEFAULT_PASSWORD)
    assert (
        APIClient().post(TOKEN, {"email": target.email, "password": NEW_PASSWORD}).status_code
        == 401
    )
    # Their change form is read-only, and a POST to it is refused.
    page = admin.get(change_url(target))
    assert page.status_code == 200 and "adminform" in page.context
    assert "email" not in page.context["adminform"].form.fields
    response = admin.post(change_url(target), {"email": "taken-over@example.com"})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.email != "taken-over@example.com"


def test_item2_role_admin_sets_a_learners_password_signing_them_out_and_it_is_audited():
    learner, role_admin = person("instructor"), person("role admin")
    tokens = sign_in(learner.email)
    assert password_form_post(browser_for(role_admin), learner).status_code == 302
    assert password_is(learner, NEW_PASSWORD)
    assert bearer(tokens["access"]).get(ME).status_code == 401
    refreshed = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401
    event = AuditEvent.objects.get(action="password.set_by_admin")
    assert (event.actor, event.target_id) == (role_admin, str(learner.pk))


@pytest.mark.parametrize(
    ("actor_kind", "allowed"),
    [("staff", False), ("role admin", False), ("superuser", True)],
)
def test_user_add_form_is_for_superusers(actor_kind, allowed):
    admin = browser_for(person(actor_kind))
    data = {"email": "added@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    data["usable_password"] = "true"
    assert admin.get("/admin/accounts/user/add/").status_code == (200 if allowed else 403)
    response = admin.post("/admin/accounts/user/add/", data)
    assert response.status_code == (302 if allowed else 403)
    added = User.objects.filter(email="added@example.com").first()
    assert (added is not None) is allowed
    if added is not None:
        assert not added.is_staff and not added.is_superuser


@pytest.mark.parametrize(("actor_kind", "allowed"), [("role admin", False), ("superuser", True)])
def test_group_editing_is_for_superusers(actor_kind, allowed):
    from django.contrib.auth.models import Group, Permission

    student = Group.objects.get(name="student")
    manage_roles = Permission.objects.get(codename="manage_roles")
    admin = browser_for(person(actor_kind))
    url = f"/admin/auth/group/{student.pk}/change/"
    assert admin.get("/admin/auth/group/").status_code == (200 if allowed else 403)
    response = admin.post(url, {"name": "student", "permissions": [manage_roles.pk]})
    assert response.status_code == (302 if allowed else 403)
    assert student.permissions.filter(pk=manage_roles.pk).exists() is allowed


def test_item2_staff_given_group_permissions_still_cannot_edit_roles():
    from django.contrib.auth.models import Group, Permission

    staff = person("staff")
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_group", "change_group", "add_group"])
    )
    admin_role = Group.objects.get(name="admin")
    delete_users = Permission.objects.get(codename="delete_user")
    admin = browser_for(staff)
    url = f"/admin/auth/group/{admin_role.pk}/change/"
    assert admin.get(url).status_code == 200  # may look
    response = admin.post(url, {"name": "admin", "permissions": [delete_users.pk]})
    assert response.status_code == 403
    assert admin.post("/admin/auth/group/add/", {"name": "escalate"}).status_code == 403
    assert not Group.objects.filter(name="escalate").exists()
    assert not admin_role.permissions.filter(pk=delete_users.pk).exists()


def test_item2_role_admin_groups_field_offers_only_learner_roles():
    from django.contrib.auth.models import Group

    admin = browser_for(person("role admin"))
    learner = person("learner")
    form = admin.get(change_url(learner)).context["adminform"].form
    assert {g.name for g in form.fields["groups"].queryset} == {"student", "instructor"}

    instructor = Group.objects.get(name="instructor")
    data = change_form_data(admin, learner, groups=[instructor.pk])
    assert admin.post(change_url(learner), data).status_code == 302
    assert set(learner.groups.values_list("name", flat=True)) == {"instructor"}

    forged = change_form_data(admin, learner, groups=[Group.objects.get(name="admin").pk])
    response = admin.post(change_url(learner), forged)
    assert response.status_code == 200  # the form refuses the choice
    assert "groups" in response.context["adminform"].form.errors
    assert not learner.groups.filter(name="admin").exists()


def test_item2_bulk_role_actions_stay_within_the_role_admins_reach():
    admin = browser_for(person("role admin"))
    learner, staff = person("learner"), person("staff")

    def act(action: str, *users: User):
        return admin.post(
            "/admin/accounts/user/",
            {"action": action, "_selected_action": [u.pk for u in users]},
            follow=True,
        )

    offered = act("grant_instructor", learner).context  # any changelist render lists them
    choices = {name for name, _ in offered["action_form"].fields["action"].choices}
    assert {"grant_student", "grant_instructor"} <= choices
    assert not {"grant_moderator", "grant_admin"} & choices

    act("grant_admin", learner)
    assert not learner.groups.filter(name="admin").exists()
    learner.refresh_from_db()
    assert not learner.is_staff

    other = person("learner")
    response = act("grant_instructor", other, staff)
    assert "Nothing changed" in response.content.decode()
    assert not other.groups.filter(name="instructor").exists()
    assert not staff.groups.filter(name="instructor").exists()
    assert AuditEvent.objects.filter(action="roles.change_denied", target_id=str(staff.pk)).exists()


@pytest.mark.parametrize(
    ("actor_kind", "target_kind", "wanted", "status"),
    [
        ("role admin", "learner", ["instructor"], 200),
        ("role admin", "instructor", ["student"], 200),
        ("role admin", "learner", ["admin"], 403),
        ("role admin", "learner", ["moderator"], 403),
        ("role admin", "moderator", ["student"], 403),
        ("role admin", "staff", ["instructor"], 403),
        ("role admin", "superuser", ["student"], 403),
        ("role admin", "role admin", ["student"], 403),
        ("moderator", "learner", ["instructor"], 403),
        ("superuser", "learner", ["admin"], 200),
        ("superuser", "role admin", ["student"], 200),
    ],
)
def test_item2_roles_api_grants_only_what_the_actor_may(actor_kind, target_kind, wanted, status):
    actor, target = person(actor_kind), person(target_kind)
    if actor_kind == target_kind == "role admin":
        target = actor  # their own account
    before = set(target.groups.values_list("name", flat=True))
    response = client_for(actor).put(f"/api/v1/users/{target.pk}/roles/", {"roles": wanted})
    assert response.status_code == status
    after = set(target.groups.values_list("name", flat=True))
    if status == 200:
        assert after == set(wanted)
        assert AuditEvent.objects.filter(action="roles.changed", actor=actor).exists()
    else:
        assert response.json()["error"]["code"] == "permission_denied"
        assert after == before
        if actor.has_perm("accounts.manage_roles"):  # got past the endpoint's own check
            assert AuditEvent.objects.filter(action="roles.change_denied", actor=actor).exists()


def test_item2_superuser_access_changes_in_the_admin_are_audited():
    superuser, learner = person("superuser"), person("learner")
    admin = browser_for(superuser)
    data = change_form_data(admin, learner, is_staff="on")
    assert admin.post(change_url(learner), data).status_code == 302
    learner.refresh_from_db()
    assert learner.is_staff
    event = AuditEvent.objects.get(action="access.changed")
    assert event.actor == superuser
    assert event.metadata["before"] == {"is_staff": False}
    assert event.metadata["after"] == {"is_staff": True}


# --- Item 6: production refuses placeholder and weak secrets ------------------------------------

GOOD_SECRET_KEY = "0f4c1e9a7b2d" * 6  # 72 characters, 12 distinct
GOOD_JWT_KEY = "9d8e7f6a5b4c3d2e1f0a" * 2  # 40 bytes
PRODUCTION = {
    "DJANGO_SECRET_KEY": GOOD_SECRET_KEY,
    "LYO_JWT_SIGNING_KEY": GOOD_JWT_KEY,
    "DJANGO_ALLOWED_HOSTS": "lyo.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "DJANGO_AWS_STORAGE_BUCKET_NAME": "lyo-media",
}
BAD_SECRETS = {
    "secret key from the example file": ({"DJANGO_SECRET_KEY": "CHANGE_ME"}, "lyo.E001"),
    "jwt key from the example file": ({"LYO_JWT_SIGNING_KEY": "CHANGE_ME"}, "lyo.E002"),
    "long placeholder secret key": (
        {"DJANGO_SECRET_KEY": "please-change-me-" + GOOD_SECRET_KEY},
        "lyo.E001",
    ),
    "short secret key": ({"DJANGO_SECRET_KEY": GOOD_SECRET_KEY[:49]}, "lyo.E001"),
    "low-variety secret key": ({"DJANGO_SECRET_KEY": "abcd" * 20}, "lyo.E001"),
    "django-insecure secret key": (
        {"DJANGO_SECRET_KEY": "django-insecure-" + GOOD_SECRET_KEY},
        "lyo.E001",
    ),
    "the local settings' default": (
        {"DJANGO_SECRET_KEY": "local-insecure-key-for-development-0123456789"},
        "lyo.E001",
    ),
    "6-character jwt key": ({"LYO_JWT_SIGNING_KEY": "s3cr3t"}, "lyo.E002"),
    "31-byte jwt key": ({"LYO_JWT_SIGNING_KEY": GOOD_JWT_KEY[:31]}, "lyo.E002"),
    "low-variety jwt key": ({"LYO_JWT_SIGNING_KEY": "ab" * 40}, "lyo.E002"),
    "jwt key equal to the secret key": ({"LYO_JWT_SIGNING_KEY": GOOD_SECRET_KEY}, "lyo.E003"),
    "placeholder fallback secret key": ({"DJANGO_SECRET_KEY_FALLBACKS": "CHANGE_ME"}, "lyo.E001"),
    "jwt key equal to a fallback secret key": (
        {"DJANGO_SECRET_KEY_FALLBACKS": GOOD_JWT_KEY},
        "lyo.E003",
    ),
}


def deploy_check(**overrides):
    from tests.deploy.conftest import manage

    env = {**PRODUCTION, **overrides}
    return manage(
        "check",
        "--deploy",
        "--fail-level",
        "ERROR",
        settings_module="lyo.settings.production",
        **env,
    )


@pytest.mark.parametrize(("overrides", "check_id"), BAD_SECRETS.values(), ids=BAD_SECRETS.keys())
def test_item6_deploy_check_refuses_placeholder_and_weak_secrets(overrides, check_id):
    result = deploy_check(**overrides)
    assert result.returncode != 0, result.stdout
    assert check_id in result.stderr
    for secret in overrides.values():  # a message names the setting, never its value
        assert secret not in result.stderr


def test_deploy_check_passes_good_secrets():
    result = deploy_check()
    assert result.returncode == 0, result.stderr
    assert "lyo.E00" not in result.stderr + result.stdout


def test_item6_the_container_entrypoint_does_not_start_on_a_placeholder_secret():
    import subprocess
    import sys
    from pathlib import Path

    from tests.deploy.conftest import ROOT, clean_env

    def entrypoint(**overrides):
        return subprocess.run(
            ["sh", str(ROOT / "docker" / "entrypoint.sh"), "sh", "-c", "echo command-ran"],
            env=clean_env(
                PATH=f"{Path(sys.executable).parent}:{clean_env()['PATH']}",
                DJANGO_SETTINGS_MODULE="lyo.settings.production",
                LYO_WAIT_FOR_DB="0",
                **{**PRODUCTION, **overrides},
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    refused = entrypoint(LYO_JWT_SIGNING_KEY="CHANGE_ME")
    assert refused.returncode != 0
    assert "command-ran" not in refused.stdout
    assert "lyo.E002" in refused.stderr
    started = entrypoint()
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "command-ran"


# --- Item 8: guessing the current password with a stolen access token --------------------------


def change_password(client: APIClient, old: str, new: str = NEW_PASSWORD):
    return client.post(CHANGE, {"old_password": old, "new_password": new})


def test_item8_wrong_old_passwords_lock_password_change_for_the_account(settings):
    user = UserFactory()
    stolen = bearer(sign_in(user.email)["access"])
    for attempt in range(settings.PASSWORD_CHANGE_MAX_FAILURES):
        response = change_password(stolen, f"guess number {attempt}")
        assert response.status_code == 400
        assert response.json()["error"]["details"]["old_password"]

    locked = change_password(stolen, DEFAULT_PASSWORD)  # even the right one, now
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "throttled"
    assert 0 < int(locked["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
    assert password_is(user, DEFAULT_PASSWORD)
    # Another access token of the same account is locked too; another account is not.
    assert (
        change_password(bearer(sign_in(user.email)["access"]), DEFAULT_PASSWORD).status_code == 429
    )
    other = UserFactory()
    assert (
        change_password(bearer(sign_in(other.email)["access"]), DEFAULT_PASSWORD).status_code == 204
    )

    failed = AuditEvent.objects.filter(action="password.change_failed", actor=user)
    assert failed.count() == settings.PASSWORD_CHANGE_MAX_FAILURES
    assert AuditEvent.objects.filter(action="password.change_locked_out", actor=user).count() == 1


def test_item8_a_successful_change_resets_the_count(settings):
    user = UserFactory()
    client = bearer(sign_in(user.email)["access"])
    for _ in range(settings.PASSWORD_CHANGE_MAX_FAILURES - 1):
        assert change_password(client, "not it at all").status_code == 400
    assert change_password(client, DEFAULT_PASSWORD).status_code == 204
    client = bearer(sign_in(user.email, NEW_PASSWORD)["access"])
    for _ in range(settings.PASSWORD_CHANGE_MAX_FAILURES - 1):
        assert change_password(client, "not it either").status_code == 400
    assert change_password(client, NEW_PASSWORD, DEFAULT_PASSWORD + "!").status_code == 204


# --- Item 9: trivially weak passwords are refused everywhere a password is set ------------------

WEAK_PASSWORDS = {
    "twelve spaces": " " * 12,
    "one letter repeated": "a" * 12,
    "a repeated group": "abcabcabcabc",
    "a keyboard row": "qwertyuiopas",
    "a sequence": "1234567890ab",
    "the person's own address": "fiona.kiss2026",
}
WEAK = pytest.mark.parametrize("password", WEAK_PASSWORDS.values(), ids=WEAK_PASSWORDS.keys())
GUESSABLE = "too easy to guess"


@WEAK
def test_item9_registration_refuses_low_entropy_passwords(password):
    response = APIClient().post(
        "/api/v1/auth/register/",
        {"email": "fiona.kiss@mail.test", "password": password, "display_name": "Fiona"},
    )
    assert response.status_code == 400
    assert any(GUESSABLE in m for m in response.json()["error"]["details"]["password"])
    assert not User.objects.filter(email="fiona.kiss@mail.test").exists()


@WEAK
def test_item9_password_change_refuses_low_entropy_passwords(password):
    user = UserFactory(email="fiona.kiss@mail.test")
    response = change_password(bearer(sign_in(user.email)["access"]), DEFAULT_PASSWORD, password)
    assert response.status_code == 400
    assert any(GUESSABLE in m for m in response.json()["error"]["details"]["new_password"])
    assert password_is(user, DEFAULT_PASSWORD)


def test_item9_the_browser_reset_page_and_the_admin_refuse_them_too():
    user = UserFactory()
    weak = "a" * 12
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert APIClient().post(RESET, {"email": user.email}).status_code == 202
    (message,) = [m for m in mail.outbox if m.to == [user.email]]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", message.body)[1]
    browser = Client()
    page = browser.get(link, follow=True)
    reset = browser.post(page.redirect_chain[-1][0], {"password1": weak, "password2": weak})
    assert reset.status_code == 200 and GUESSABLE in reset.content.decode()

    admin = browser_for(person("superuser"))
    assert password_form_post(admin, user, weak).status_code == 200
    added = admin.post(
        "/admin/accounts/user/add/",
        {
            "email": "added@example.com",
            "password1": weak,
            "password2": weak,
            "usable_password": "true",
        },
    )
    assert added.status_code == 200 and GUESSABLE in added.content.decode()
    assert password_is(user, DEFAULT_PASSWORD)
    assert not User.objects.filter(email="added@example.com").exists()


def test_passphrases_and_long_passwords_pass():
    from django.contrib.auth.password_validation import validate_password

    user = UserFactory()
    for password in (DEFAULT_PASSWORD, NEW_PASSWORD, "quiet mornings, strong coffee " * 5):
        validate_password(password, user)  # raises if refused
