"""Account identity: canonical emails, look-alikes, one lockout on every sign-in path, and
registration that tells nothing (issue 13, items 1, 3, 4, 5 and 18).

The owner of every scenario is `fiona.kiss@mail.test`: an address with the letters the
look-alikes below play on (f+i, i, k, s). Sign-in paths are exercised as clients use them: the
API token endpoint, allauth's browser login form (with its CSRF token) and the Django admin.
"""

import unicodedata

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.validators import validate_email
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.email_identity import canonical_email
from apps.accounts.models import AuditEvent, User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

OWNER = "fiona.kiss@mail.test"
WRONG = "wrong-password-123"
TOKEN = "/api/v1/auth/token/"
REGISTER = "/api/v1/auth/register/"
RESEND = "/api/v1/auth/email/resend/"
RESET = "/api/v1/auth/password/reset/"
NEW_PASSWORD = "a fresh passphrase for 2026"

# Spellings whose canonical form IS the owner's: the same account, the same lockout budget.
SAME_IDENTITY = {
    "upper and mixed case": "Fiona.KISS@Mail.Test",
    "long s (U+017F)": "fiona.ki\u017f\u017f@mail.test",
    "upper long s": "FIONA.KI\u017f\u017f@MAIL.TEST",
    "Kelvin sign (U+212A)": "fiona.\u212aiss@mail.test",
    "fullwidth letters": "\uff46\uff49\uff4f\uff4e\uff41.kiss@mail.test",
    "fullwidth domain": "fiona.kiss@\uff4d\uff41\uff49\uff4c.test",
    "fullwidth at sign": "fiona.kiss\uff20mail.test",
    "ligature fi (U+FB01)": "\ufb01ona.kiss@mail.test",
    "surrounding spaces": "  fiona.kiss@mail.test ",
}
# Spellings that look alike but are another canonical string: never the owner's account, never
# registrable (not ASCII once canonical), never a 500.
DISTINCT_LOOKALIKES = {
    "dotless i (U+0131)": "f\u0131ona.kiss@mail.test",
    "dotted capital I (U+0130)": "f\u0130ona.kiss@mail.test",
    "Cyrillic a (U+0430)": "fion\u0430.kiss@mail.test",
    "Greek omicron (U+03BF)": "fi\u03bfna.kiss@mail.test",
    "combining dot below": "fiona.kis\u0323s@mail.test",
}
# A domain with look-alike letters is another domain: registrable, stored and shown in its
# ASCII `xn--` form, and never the owner's account.
LOOKALIKE_DOMAINS = {
    "Cyrillic a in the domain": "fiona.kiss@m\u0430il.test",
    "Greek alpha in the domain": "fiona.kiss@m\u03b1il.test",
}
SAME = pytest.mark.parametrize("spelling", SAME_IDENTITY.values(), ids=SAME_IDENTITY.keys())
DISTINCT = pytest.mark.parametrize(
    "spelling", DISTINCT_LOOKALIKES.values(), ids=DISTINCT_LOOKALIKES.keys()
)


@pytest.fixture
def owner():
    return UserFactory(email=OWNER, is_staff=True, roles=["admin"])


# --- The three sign-in paths -------------------------------------------------------------------


def api_sign_in(email: str, password: str = DEFAULT_PASSWORD, **extra) -> int:
    return APIClient().post(TOKEN, {"email": email, "password": password}, **extra).status_code


def browser_sign_in(email: str, password: str = DEFAULT_PASSWORD) -> bool:
    """allauth's login form as a browser posts it, CSRF token included; True when signed in."""
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/accounts/login/", {"login": email, "password": password, "csrfmiddlewaretoken": token}
    )
    assert response.status_code in (200, 302), response.status_code
    return "_auth_user_id" in client.session


def admin_sign_in(email: str, password: str = DEFAULT_PASSWORD) -> int:
    return Client().post("/admin/login/", {"username": email, "password": password}).status_code


SIGNED_IN = {"api": 200, "admin": 302}


def signs_in(path: str, email: str, password: str = DEFAULT_PASSWORD) -> bool:
    if path == "browser":
        return browser_sign_in(email, password)
    status = api_sign_in(email, password) if path == "api" else admin_sign_in(email, password)
    assert status < 500
    return status == SIGNED_IN[path]


PATHS = pytest.mark.parametrize("path", ["api", "browser", "admin"])


def fail_once(path: str, email: str) -> None:
    assert not signs_in(path, email, WRONG)


# --- The canonical form ------------------------------------------------------------------------


@SAME
def test_every_same_identity_spelling_has_the_owners_canonical_form(spelling):
    assert canonical_email(spelling) == OWNER


@DISTINCT
def test_distinct_lookalikes_keep_another_canonical_form_that_is_not_ascii(spelling):
    assert canonical_email(spelling) != OWNER
    assert not canonical_email(spelling).isascii()


@pytest.mark.parametrize("spelling", LOOKALIKE_DOMAINS.values(), ids=LOOKALIKE_DOMAINS.keys())
def test_item1_lookalike_domain_is_another_visibly_different_account(
    owner, spelling, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(
            REGISTER, {"email": spelling, "password": NEW_PASSWORD, "display_name": "Mallory"}
        )
    assert response.status_code == 201
    stored = response.json()["email"]
    assert stored.isascii() and "xn--" in stored.split("@")[1]
    assert User.objects.get(email=stored).email_canonical == stored
    assert [m.to for m in mail.outbox] == [[stored]]
    for path in ("api", "browser", "admin"):
        assert signs_in(path, OWNER), path
        assert not signs_in(path, spelling, NEW_PASSWORD), path  # unverified, and not the owner


def test_an_international_domain_is_one_account_in_either_form():
    UserFactory(email="kiss@xn--caf-dma.test")
    assert canonical_email("KISS@CAF\u00c9.test") == "kiss@xn--caf-dma.test"
    assert api_sign_in("kiss@caf\u00e9.test") == 200


def test_composed_and_decomposed_accents_are_one_canonical_form():
    composed = "zo\u00e9@caf\u00e9.test"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert canonical_email(decomposed) == canonical_email(composed)
    assert canonical_email("STRASSE@x.test") == canonical_email("stra\u00dfe@x.test")


def test_the_database_refuses_a_second_account_with_the_same_canonical_form(owner):
    with pytest.raises(IntegrityError):
        User.objects.create_user(email="FIONA.KI\u017f\u017f@mail.test", password=WRONG)


def test_an_accent_spelled_either_way_signs_in_to_one_legacy_account():
    # Accounts from before the ASCII rule keep working with their address composed or not.
    UserFactory(email="kiss@caf\u00e9.test")
    assert api_sign_in(unicodedata.normalize("NFD", "kiss@caf\u00e9.test")) == 200


# --- Item 1: a look-alike never locks the owner out --------------------------------------------


@SAME
def test_item1_lookalike_email_does_not_lock_owner_out(
    owner, spelling, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(
            REGISTER, {"email": spelling, "password": NEW_PASSWORD, "display_name": "Mallory"}
        )
    assert response.status_code == 201, response.content
    assert User.objects.count() == 1
    # The "account already exists" note goes to the owner's own address, nowhere else.
    assert [m.to for m in mail.outbox] == [[OWNER]]
    for path in ("api", "browser", "admin"):
        assert signs_in(path, OWNER), path
        assert not signs_in(path, spelling, NEW_PASSWORD), path


@DISTINCT
def test_item1_distinct_lookalike_is_refused_at_registration(owner, spelling):
    response = APIClient().post(
        REGISTER, {"email": spelling, "password": NEW_PASSWORD, "display_name": "Mallory"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["email"]
    assert User.objects.count() == 1
    for path in ("api", "browser", "admin"):
        assert signs_in(path, OWNER), path


@SAME
@PATHS
def test_item1_every_spelling_of_the_address_signs_in_to_the_one_account(owner, spelling, path):
    # allauth's form takes only what Django's email validator takes (not fullwidth local
    # parts, for one); the API and the admin fold first. Neither way a 500 or another account.
    expected = path != "browser" or _email_form_accepts(spelling)
    assert signs_in(path, spelling) is expected


def _email_form_accepts(value: str) -> bool:
    try:
        validate_email(value.strip())
    except ValidationError:
        return False
    return True


@PATHS
def test_item1_a_legacy_colliding_row_never_breaks_the_owners_sign_in(owner, path):
    """Rows from before the canonical column: the migration leaves the look-alike without an
    identity (NULL); the owner signs in, the look-alike spelling reaches the owner's account."""
    legacy = UserFactory(email="legacy@mail.test")
    legacy.set_password(NEW_PASSWORD)
    legacy.save()
    User.objects.filter(pk=legacy.pk).update(
        email="fiona.ki\u017f\u017f@mail.test", email_canonical=None
    )
    assert signs_in(path, OWNER)
    assert not signs_in(path, "fiona.ki\u017f\u017f@mail.test", NEW_PASSWORD)
    assert signs_in(path, "fiona.ki\u017f\u017f@mail.test")  # the owner's password: the owner


def test_item1_reset_and_resend_for_a_lookalike_reach_only_the_owner(
    owner, django_capture_on_commit_callbacks
):
    pending = UserFactory(email="kim.fisk@mail.test", verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        reset = APIClient().post(RESET, {"email": "fiona.ki\u017f\u017f@mail.test"})
        resend = APIClient().post(RESEND, {"email": "\u212aim.fi\u017fk@mail.test"})
    assert reset.status_code == resend.status_code == 202
    by_recipient = {m.to[0]: m.body for m in mail.outbox}
    assert set(by_recipient) == {OWNER, pending.email}
    assert "/accounts/password/reset/key/" in by_recipient[OWNER]
    assert "/accounts/confirm-email/" in by_recipient[pending.email]


def test_item1_admin_form_refuses_an_address_another_account_holds(owner):
    other = UserFactory(email="other@mail.test")
    other.email = "FIONA.KI\u017f\u017f@mail.test"
    with pytest.raises(ValidationError) as refused:
        other.full_clean()
    assert "email" in refused.value.message_dict


# --- The data migration reports collisions instead of merging ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_the_verified_oldest_row_and_reports_the_others(capsys):
    executor = MigrationExecutor(connection)
    before, after = (
        ("accounts", "0005_user_timezone_changed_at"),
        ("accounts", "0006_user_email_canonical"),
    )
    allauth = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "account"]
    executor.migrate([before])
    try:
        old_apps = executor.loader.project_state([before, *allauth]).apps
        OldUser = old_apps.get_model("accounts", "User")
        OldEmailAddress = old_apps.get_model("account", "EmailAddress")
        owner = OldUser.objects.create(email=OWNER, password="x")
        OldEmailAddress.objects.create(user=owner, email=OWNER, verified=True, primary=True)
        lookalike = OldUser.objects.create(email="fiona.ki\u017f\u017f@mail.test", password="x")
        fullwidth = OldUser.objects.create(email="\uff46iona.kiss@mail.test", password="x")
        loner = OldUser.objects.create(email="Loner@Mail.test", password="x")

        executor = MigrationExecutor(connection)
        executor.migrate([after])
        output = capsys.readouterr().out
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())

    identities = dict(User.objects.values_list("pk", "email_canonical"))
    assert identities[owner.pk] == OWNER
    assert identities[lookalike.pk] is None and identities[fullwidth.pk] is None  # not merged
    assert identities[loner.pk] == "loner@mail.test"
    assert f"user {owner.pk} keeps it" in output
    assert str(lookalike.pk) in output and str(fullwidth.pk) in output

    call_command("email_collisions")
    listed = capsys.readouterr().out
    assert f"user {lookalike.pk} " in listed and f"held by user {owner.pk} " in listed
    assert "2 account(s) left without a canonical email" in listed


def test_a_row_written_during_a_rollout_signs_in_and_is_adopted(capsys):
    """The previous release's code (no canonical column) may register someone while the new
    release is rolling out: that row signs in, and the operator command gives it its identity."""
    window = UserFactory(email="window@mail.test")
    User.objects.filter(pk=window.pk).update(email_canonical=None)
    assert api_sign_in("WINDOW@mail.test") == 200
    call_command("email_collisions", "--adopt")
    assert f"user {window.pk} <window@mail.test> now holds" in capsys.readouterr().out
    window.refresh_from_db()
    assert window.email_canonical == "window@mail.test"


# --- Item 3: one budget per account, whatever the spelling -------------------------------------


def test_item3_lockout_counts_every_spelling_against_the_one_account(owner):
    for spelling in list(SAME_IDENTITY.values())[1:6]:  # five failures, five spellings
        assert api_sign_in(spelling, WRONG) == 401
    assert api_sign_in(OWNER) == 429


def test_item3_the_per_email_throttle_counts_every_spelling_too(owner, settings):
    settings.LOGIN_MAX_FAILURES = 1000  # the throttle alone, not the lockout
    spellings = list(SAME_IDENTITY.values())
    statuses = [
        api_sign_in(spellings[i % len(spellings)], WRONG, REMOTE_ADDR=f"10.0.0.{i}")
        for i in range(11)
    ]
    assert statuses == [401] * 10 + [429]


@pytest.mark.parametrize(
    "spelling",
    [*SAME_IDENTITY.values(), *DISTINCT_LOOKALIKES.values()],
    ids=[*SAME_IDENTITY, *DISTINCT_LOOKALIKES],
)
def test_item3_no_spelling_gets_a_fresh_budget_against_a_locked_account(owner, spelling):
    for _ in range(5):
        assert api_sign_in(OWNER, WRONG, REMOTE_ADDR="10.1.1.1") == 401
    # From another address (the per-IP lock is not what stops it) and with the right password.
    assert api_sign_in(spelling, REMOTE_ADDR="10.2.2.2") in (400, 401, 429)
    assert not browser_sign_in(spelling)
    assert AuditEvent.objects.filter(action="login.succeeded").count() == 0


# --- Item 4: one lockout across the API, the browser login and the admin -----------------------


@PATHS
def test_item4_browser_failures_lock_every_path(owner, path):
    for _ in range(5):
        fail_once("browser", OWNER)
    assert not signs_in(path, OWNER)


@PATHS
def test_item4_api_failures_lock_the_browser_and_the_admin_too(owner, path):
    for _ in range(5):
        fail_once("api", OWNER)
    assert not signs_in(path, OWNER)


def test_item4_failures_spread_over_the_paths_share_one_budget(owner):
    for path in ("api", "browser", "admin", "browser", "api"):
        fail_once(path, "FIONA.KI\u017f\u017f@mail.test")
    assert api_sign_in(OWNER) == 429
    assert admin_sign_in(OWNER) == 429
    assert not browser_sign_in(OWNER)


def test_item4_browser_sign_ins_are_audited_like_the_api(owner):
    fail_once("browser", OWNER)
    assert browser_sign_in(OWNER)
    failed = AuditEvent.objects.get(action="login.failed")
    assert failed.metadata == {"email": OWNER, "channel": "browser"}
    succeeded = AuditEvent.objects.get(action="login.succeeded")
    assert succeeded.actor == owner and succeeded.metadata == {"channel": "browser"}


def test_item4_a_browser_lockout_is_audited(owner):
    for _ in range(5):
        fail_once("browser", OWNER)
    event = AuditEvent.objects.get(action="login.locked_out")
    assert event.metadata["channel"] == "browser"


def test_item4_success_in_the_browser_resets_the_shared_failure_count(owner):
    for _ in range(4):
        fail_once("api", OWNER)
    assert browser_sign_in(OWNER)
    for _ in range(4):
        fail_once("admin", OWNER)
    assert api_sign_in(OWNER) == 200


# --- Item 5: registering a new or a taken address costs the same -------------------------------


class CountingHasher(MD5PasswordHasher):
    """The test settings' hasher, counting how often a password is hashed."""

    hashed = 0

    def encode(self, password, salt):
        type(self).hashed += 1
        return super().encode(password, salt)


def _hashes_while(callable_) -> int:
    CountingHasher.hashed = 0
    callable_()
    return CountingHasher.hashed


def _register_through(channel: str, email: str) -> None:
    if channel == "api":
        response = APIClient().post(
            REGISTER, {"email": email, "password": NEW_PASSWORD, "display_name": "Someone"}
        )
        assert response.status_code == 201
        return
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/signup/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/accounts/signup/",
        {"email": email, "password1": NEW_PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302, response.content


@pytest.mark.parametrize("channel", ["api", "browser"])
def test_item5_registration_hashes_alike_for_new_and_existing_addresses(owner, settings, channel):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    for_new = _hashes_while(lambda: _register_through(channel, "newcomer@mail.test"))
    for_existing = _hashes_while(lambda: _register_through(channel, OWNER))
    for_lookalike = _hashes_while(
        lambda: _register_through(channel, "fiona.ki\u017f\u017f@mail.test")
    )
    assert User.objects.count() == 2
    assert for_new >= 1
    assert for_existing == for_new == for_lookalike


# --- Item 18: registration over the API sets no cookie and says what happened ------------------


@pytest.mark.parametrize("email", ["newcomer@mail.test", OWNER], ids=["new", "existing"])
def test_item18_register_sets_no_cookies(owner, email, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(
            REGISTER, {"email": email, "password": NEW_PASSWORD, "display_name": "Someone"}
        )
    assert response.status_code == 201
    assert not response.cookies, dict(response.cookies)
    assert "Set-Cookie" not in response.headers
    assert len(mail.outbox) == 1


def test_item18_register_inside_the_cooldown_says_no_email_was_sent(
    django_capture_on_commit_callbacks,
):
    def register():
        with django_capture_on_commit_callbacks(execute=True):
            return APIClient().post(
                REGISTER,
                {"email": "newcomer@mail.test", "password": NEW_PASSWORD, "display_name": "N"},
            )

    first, again = register(), register()
    assert first.json()["verification_email_sent"] is True
    assert again.status_code == 201
    assert again.json()["verification_email_sent"] is False
    assert len(mail.outbox) == 1  # the answer matches what happened


@pytest.mark.parametrize(
    "email",
    ["nobody@mail.test", OWNER, "pending@mail.test"],
    ids=["unknown", "registered", "awaiting-verification"],
)
def test_item18_the_cooldown_answer_does_not_depend_on_the_account(
    owner, email, django_capture_on_commit_callbacks
):
    UserFactory(email="pending@mail.test", verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert APIClient().post(RESEND, {"email": email}).status_code == 202
        response = APIClient().post(
            REGISTER, {"email": email, "password": NEW_PASSWORD, "display_name": "N"}
        )
    assert response.status_code == 201
    assert response.json()["verification_email_sent"] is False
    assert all(m.to != [email] for m in mail.outbox[1:])  # nothing beyond the resend itself
