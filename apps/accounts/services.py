"""Account use cases: registration, tokens, passwords, profile, roles, deletion, audit."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.forms import ResetPasswordForm
from allauth.account.internal.flows.email_verification import (
    consume_email_verification_rate_limit,
    send_verification_email_to_address,
)
from allauth.account.models import EmailAddress
from allauth.account.utils import complete_signup
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import password_validation
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, update_last_login
from django.contrib.sessions.backends import signed_cookies
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions
from rest_framework_simplejwt.exceptions import InvalidToken, TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from apps.core import events
from apps.core.context import current_request_id
from apps.core.errors import ApplicationError
from apps.core.http import client_ip
from apps.media.policies import Purpose
from apps.media.services import media_attach, media_delete, media_detach

from . import privileges, roles
from .authentication import user_cache_forget
from .email_identity import canonical_email
from .forms import SignupForm
from .lockout import (
    lockout_seconds_remaining,
    login_failure_record,
    login_success_record,
    password_change_failure_record,
    password_change_seconds_remaining,
    password_change_success_record,
)
from .models import AuditEvent, User
from .selectors import user_by_email
from .tokens import RefreshToken, token_user_id


class EmailUnverified(ApplicationError):
    status_code = 403
    default_code = "email_unverified"
    default_detail = "Confirm your email address first: we sent you a link."


class LoginLockedOut(exceptions.Throttled):
    default_detail = "Too many failed sign-in attempts. Try again later."


# --- Audit ---------------------------------------------------------------------------------


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    target: Any = None,
    request: HttpRequest | None = None,
    metadata: dict | None = None,
) -> AuditEvent:
    http = getattr(request, "_request", request)  # DRF Request or Django HttpRequest
    ip = client_ip(http) if http is not None else ""
    user_agent = http.headers.get("User-Agent", "") if http is not None else ""
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        ip=ip or None,
        user_agent=user_agent[:300],
        request_id=current_request_id() or "",
        metadata=metadata or {},
    )


# --- Registration and email verification -----------------------------------------------------


def _as_validation_error(form) -> exceptions.ValidationError:
    renamed = {"password1": "password", "__all__": "non_field_errors"}
    return exceptions.ValidationError(
        {renamed.get(field, field): list(errors) for field, errors in form.errors.items()}
    )


@contextmanager
def _without_browser_state(request: HttpRequest) -> Iterator[None]:
    """allauth's flows keep state in the session and leave messages for its pages. An API call
    has neither: they get throwaways here, so the response sets no cookie."""
    session, kept_messages = request.session, getattr(request, "_messages", None)
    request.session = signed_cookies.SessionStore()  # in memory; never saved
    request._messages = messages.storage.default_storage(request)
    try:
        yield
    finally:
        request.session = session
        if kept_messages is None:
            del request._messages
        else:
            request._messages = kept_messages


@transaction.atomic
def user_register(*, request: HttpRequest, email: str, password: str, display_name: str) -> bool:
    """Create an account and send the verification email, through allauth's signup flow.

    For an address that already has an account (in any spelling of its canonical form) allauth
    sends an "account already exists" email instead and nothing is created. Both paths do the
    same work (the form hashes the password either way) and answer the same, so neither the
    response nor its timing tells whether the address is registered.

    Returns whether an email went out for this request. Both kinds of email share allauth's
    per-address cooldown (one per ACCOUNT_RATE_LIMITS["confirm_email"]), which the resend
    endpoint spends too whether or not an account awaits, so the answer depends on what was
    asked for the address recently, never on whether it has an account.
    """
    with _without_browser_state(request):
        form = SignupForm(data={"email": email, "password1": password})
        if not form.is_valid():
            raise _as_validation_error(form)
        sends = consume_email_verification_rate_limit(
            request, form.cleaned_data["email"], dry_run=True
        )
        try:
            with transaction.atomic():
                user, _ = form.try_save(request)
        except IntegrityError:  # the same identity registered concurrently: theirs stands
            return False
        if user is not None:
            user.display_name = display_name
            user.save(update_fields=["display_name"])
            user.groups.add(Group.objects.get(name=roles.DEFAULT_ROLE))
            complete_signup(request, user, settings.ACCOUNT_EMAIL_VERIFICATION, None)
            audit_record(action="account.registered", actor=user, target=user, request=request)
    return sends


def email_verification_resend(*, request: HttpRequest, email: str) -> None:
    """Send a fresh verification link if this address awaits one; silent otherwise. Every call
    spends the address's cooldown, known or not (see user_register)."""
    user = user_by_email(email=email)
    address = None
    if user is not None and user.is_active:
        address = EmailAddress.objects.filter(
            user=user, email__iexact=user.email, verified=False
        ).first()
    if address is not None:
        send_verification_email_to_address(request, address)
    else:
        consume_email_verification_rate_limit(request, canonical_email(email))


def user_email_identity_adopt(*, user: User) -> None:
    """Give an account without one its canonical email (an operator's repair, see
    `manage.py email_collisions`); IntegrityError if another account holds it."""
    user.save(update_fields=["email"])  # save() derives email_canonical from email


def email_is_verified(*, user: User) -> bool:
    return EmailAddress.objects.filter(user=user, verified=True).exists()


# --- Tokens ----------------------------------------------------------------------------------


def _issue_tokens(user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)  # recorded as an OutstandingToken
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


# --- Sign-in: one lockout for the API, the browser login and the admin -------------------------


def _client_ip(request: HttpRequest) -> str:
    return client_ip(getattr(request, "_request", request))


def login_lockout_check(*, request: HttpRequest, email: str) -> None:
    """Raise LoginLockedOut while this account (any spelling) or this client IP is locked."""
    wait = lockout_seconds_remaining(email=email, ip=_client_ip(request))
    if wait:
        raise LoginLockedOut(wait=wait)


def login_attempt_record(
    *, request: HttpRequest, email: str, user: User | None, channel: str
) -> None:
    """Count and audit one password sign-in, whichever path ("api", "browser", "admin")."""
    email = canonical_email(email)
    if user is None:
        metadata = {"email": email, "channel": channel}
        audit_record(action="login.failed", request=request, metadata=metadata)
        if login_failure_record(email=email, ip=_client_ip(request)):
            audit_record(action="login.locked_out", request=request, metadata=metadata)
        return
    login_success_record(email=email)
    audit_record(
        action="login.succeeded",
        actor=user,
        target=user,
        request=request,
        metadata={"channel": channel},
    )


def token_obtain(*, request: HttpRequest, email: str, password: str) -> dict[str, str]:
    """Exchange credentials for tokens. Runs outside the request transaction so that failed
    attempts stay recorded (audit rows, lockout counters) although the response is an error."""
    login_lockout_check(request=request, email=email)
    user = ModelBackend().authenticate(request, username=email, password=password)
    if user is None:
        login_attempt_record(request=request, email=email, user=None, channel="api")
        raise exceptions.AuthenticationFailed("Email or password is incorrect.")

    if not email_is_verified(user=user):
        raise EmailUnverified()
    with transaction.atomic():
        update_last_login(None, user)
        login_attempt_record(request=request, email=email, user=user, channel="api")
        return _issue_tokens(user)


@transaction.atomic
def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token. The old one is blacklisted; of two concurrent refreshes with the
    same token exactly one succeeds (the outstanding-token row is locked while we decide)."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise InvalidToken(str(exc)) from exc
    outstanding = (
        OutstandingToken.objects.select_for_update(of=("self",))
        .filter(jti=token[jwt_settings.JTI_CLAIM])
        .first()
    )
    if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
        raise InvalidToken("Token is blacklisted")
    user = User.objects.filter(pk=token_user_id(token.payload), is_active=True).first()
    if user is None:
        raise InvalidToken("User is inactive")
    if not email_is_verified(user=user):
        raise EmailUnverified()
    BlacklistedToken.objects.create(token=outstanding)
    return _issue_tokens(user)


def token_logout(*, request: HttpRequest, user: User, refresh: str) -> None:
    """Blacklist the caller's refresh token. Repeating it is harmless (idempotent)."""
    invalid = exceptions.ValidationError({"refresh": ["Token is invalid or expired."]})
    try:
        # Signature, expiry, audience and issuer; an already-blacklisted token is fine here.
        payload = token_backend.decode(refresh, verify=True)
    except TokenBackendError as exc:
        raise invalid from exc
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or str(
        payload.get(jwt_settings.USER_ID_CLAIM)
    ) != str(user.pk):
        raise invalid
    outstanding = OutstandingToken.objects.filter(jti=payload[jwt_settings.JTI_CLAIM]).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)
    # The access token in hand (and any stolen copy) stops now, not when it expires. Other
    # devices' access tokens stop too; their refresh tokens still work, so they just refresh.
    access_tokens_revoke(user=user)
    audit_record(action="logout", actor=user, target=user, request=request)


def access_tokens_revoke(*, user: User) -> None:
    """End every access token issued to the user so far: the next request with one is a 401.
    One UPDATE; the cached user copy goes with it (AUTH_USER_CACHE_SECONDS never delays it)."""
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])
    user_cache_forget(user.pk)


def tokens_revoke_all(*, user: User) -> int:
    """Sign the user out of the API everywhere: every access token ends now and every
    unexpired refresh token is blacklisted; returns how many refresh tokens were live."""
    access_tokens_revoke(user=user)
    live = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    return len(revoked)


# --- Passwords -------------------------------------------------------------------------------


class PasswordChangeLockedOut(exceptions.Throttled):
    default_detail = "Too many wrong current passwords. Try again later."


def password_change(
    *, request: HttpRequest, user: User, old_password: str, new_password: str
) -> None:
    """Change the caller's password, signing them out of the API everywhere. Wrong current
    passwords are audited and counted: after PASSWORD_CHANGE_MAX_FAILURES the endpoint is
    locked for the account (429) even for the right one. Runs outside the request
    transaction so that failed attempts stay recorded."""
    wait = password_change_seconds_remaining(user_id=user.pk)
    if wait:
        raise PasswordChangeLockedOut(wait=wait)
    if not user.check_password(old_password):
        audit_record(action="password.change_failed", actor=user, target=user, request=request)
        if password_change_failure_record(user_id=user.pk):
            audit_record(
                action="password.change_locked_out", actor=user, target=user, request=request
            )
        raise exceptions.ValidationError({"old_password": ["Your current password is wrong."]})
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise exceptions.ValidationError({"new_password": list(exc.messages)}) from exc
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        tokens_revoke_all(user=user)
        audit_record(action="password.changed", actor=user, target=user, request=request)
        get_adapter(getattr(request, "_request", request)).send_notification_mail(
            "account/email/password_changed", user
        )
    password_change_success_record(user_id=user.pk)


def password_reset_request(*, request: HttpRequest, email: str) -> None:
    """Email a reset link through allauth (or an "unknown account" note); always silent.
    The account is found by its canonical email and the link goes to its own address."""
    user = user_by_email(email=email)
    form = ResetPasswordForm(data={"email": user.email if user else canonical_email(email)})
    if form.is_valid():
        form.save(request)


# --- Profile, roles, deletion ----------------------------------------------------------------


TIMEZONE_CHANGE_INTERVAL = timedelta(hours=24)


def _timezone_change(*, user: User, zone: str) -> list[str]:
    """Set a new time zone, at most once per TIMEZONE_CHANGE_INTERVAL (daily XP caps and
    streaks are counted in it); the fields to save. The row is locked, so two concurrent
    changes cannot both pass the check."""
    current, changed_at = (
        User.objects.select_for_update()
        .filter(pk=user.pk)
        .values_list("timezone", "timezone_changed_at")
        .get()
    )
    if zone == current:
        return []
    now = timezone.now()
    if changed_at is not None and now < changed_at + TIMEZONE_CHANGE_INTERVAL:
        allowed_from = changed_at + TIMEZONE_CHANGE_INTERVAL
        raise exceptions.ValidationError(
            {
                "timezone": [
                    "Your time zone can change once every 24 hours; the next change is "
                    f"possible from {allowed_from.isoformat(timespec='seconds')}."
                ]
            }
        )
    user.timezone, user.timezone_changed_at = zone, now
    return ["timezone", "timezone_changed_at"]


@transaction.atomic
def user_update_profile(*, user: User, data: dict[str, Any]) -> User:
    fields = [name for name in ("display_name", "bio") if name in data]
    for name in fields:
        setattr(user, name, data[name])
    if "timezone" in data:
        fields += _timezone_change(user=user, zone=data["timezone"])
    if "avatar" in data and data["avatar"] != user.avatar_id:
        _avatar_replace(user=user, media_id=data["avatar"])
        fields.append("avatar")
    if fields:
        user.save(update_fields=fields)
    return user


def _avatar_replace(*, user: User, media_id) -> None:
    """Point the avatar at `media_id` (the user's own ready avatar upload) or at nothing; the
    previous file is detached, and deleted by the media cleanup unless used again."""
    previous = user.avatar_id
    if media_id is not None:
        media_attach(media_id=media_id, owner=user, purpose=Purpose.AVATAR, field="avatar")
    if previous is not None:
        media_detach(media_id=previous)
    user.avatar_id = media_id


class PrivilegeDenied(ApplicationError):
    status_code = 403
    default_code = "permission_denied"
    default_detail = "Your role does not allow changing this account's access."


def user_roles_change_check(*, request: HttpRequest, actor: User, user: User, role_names) -> None:
    """Raise PrivilegeDenied (and audit the attempt) unless `actor` may give `user` exactly
    these roles (apps.accounts.privileges). Call outside the transaction that would roll the
    audit row back with the refusal."""
    wanted = set(role_names)
    if privileges.may_manage(actor, user) and wanted <= privileges.grantable_roles(actor):
        return
    audit_record(
        action="roles.change_denied",
        actor=actor,
        target=user,
        request=request,
        metadata={"requested": sorted(wanted)},
    )
    raise PrivilegeDenied()


def user_set_roles(*, request: HttpRequest, actor: User, user: User, role_names: list[str]):
    """Give `user` exactly `role_names` (other groups stay); audited. Only what
    apps.accounts.privileges allows the actor: PrivilegeDenied (403, audited) otherwise."""
    user_roles_change_check(request=request, actor=actor, user=user, role_names=role_names)
    with transaction.atomic():
        before = sorted(user.groups.filter(name__in=roles.ALL_ROLES).values_list("name", flat=True))
        wanted = sorted(set(role_names))
        keep_other_groups = user.groups.exclude(name__in=roles.ALL_ROLES)
        user.groups.set([*keep_other_groups, *Group.objects.filter(name__in=wanted)])
        user.is_staff = user.is_superuser or bool(roles.STAFF_ROLES & set(wanted))
        user.save(update_fields=["is_staff"])
        audit_record(
            action="roles.changed",
            actor=actor,
            target=user,
            request=request,
            metadata={"before": before, "after": wanted},
        )
    return user


def user_password_set_by_admin_record(*, request: HttpRequest, actor: User, user: User) -> None:
    """A staff member set (or disabled) someone's password in the admin: that person is
    signed out of the API everywhere, and it is audited."""
    tokens_revoke_all(user=user)
    audit_record(action="password.set_by_admin", actor=actor, target=user, request=request)


def user_access_change_record(
    *, request: HttpRequest, actor: User, user: User, before: dict, after: dict
) -> None:
    """is_active / is_staff / is_superuser changed in the admin: audited; a deactivated
    account is signed out of the API everywhere (so reactivating it revives no token)."""
    if before.get("is_active") and not after.get("is_active", True):
        tokens_revoke_all(user=user)
    audit_record(
        action="access.changed",
        actor=actor,
        target=user,
        request=request,
        metadata={"before": before, "after": after, "channel": "admin"},
    )


@transaction.atomic
def user_delete(*, request: HttpRequest, user: User) -> None:
    """Deactivate and anonymise the account.

    Personal data (email, name, bio, avatar, time zone, password, email addresses, roles)
    is erased.
    Content the person published stays, attributed to a "Deleted user", so threads others
    replied to keep making sense. Audit events keep pointing at the (anonymised) row.
    Other apps drop what they show of the person on "account.deleted" (e.g. leaderboards).
    """
    tokens_revoke_all(user=user)
    EmailAddress.objects.filter(user=user).delete()
    avatar_id, user.avatar = user.avatar_id, None
    user.email = f"deleted-{user.pk}-{uuid.uuid4().hex[:12]}@deleted.invalid"
    user.display_name = ""
    user.bio = ""
    user.timezone = "UTC"
    user.is_active = False
    user.is_staff = False
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    if avatar_id is not None:  # a photo of the person is personal data: erase it now
        media_delete(media_id=avatar_id, user=user)
    audit_record(action="account.deleted", actor=user, target=user, request=request)
    events.publish("account.deleted", user_id=user.pk)


def audit_password_reset(sender, request: HttpRequest, user: User, **kwargs) -> None:
    audit_record(action="password.reset", actor=user, target=user, request=request)
