"""How allauth's flows fit Lyo: where the browser lands, which addresses a new account may
use, the browser login's share of the one sign-in lockout, and what a new password revokes."""

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from .email_identity import registrable_email


def _login_of(credentials: dict) -> str:
    return credentials.get("email") or credentials.get("username") or ""


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request) -> str:
        """allauth's rate limits count per client the way Lyo's own limits do (behind nginx,
        allauth's default would see nginx's address for everyone)."""
        from django.core.exceptions import PermissionDenied

        from apps.core.http import client_ip

        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def get_email_verification_redirect_url(self, email_address) -> str:
        # People arrive from an email on their phone: tell them to go back to the app.
        return reverse("account_email_confirmed")

    def clean_email(self, email: str) -> str:
        # Canonical and ASCII (apps.accounts.email_identity). allauth's duplicate check compares
        # stored spellings, so an address some account holds comes back in that account's own
        # spelling: allauth then takes the "account already exists" path (no new row, no leak).
        from .selectors import user_by_email

        email = registrable_email(email)
        holder = user_by_email(email=email)
        return holder.email if holder is not None else email

    def pre_authenticate(self, request, **credentials) -> None:
        # The one lockout of apps.accounts.lockout instead of allauth's own login_failed limit.
        from .services import LoginLockedOut, login_lockout_check

        try:
            login_lockout_check(request=request, email=_login_of(credentials))
        except LoginLockedOut as locked:
            raise self.validation_error("too_many_login_attempts") from locked

    def authenticate(self, request, **credentials):
        from .services import login_attempt_record

        user = super().authenticate(request, **credentials)
        login_attempt_record(
            request=request, email=_login_of(credentials), user=user, channel="browser"
        )
        return user

    def confirm_email(self, request, email_address) -> bool:
        from .services import audit_record

        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            audit_record(
                action="email.confirmed",
                actor=email_address.user,
                target=email_address.user,
                request=request,
            )
        return confirmed

    def set_password(self, user, password: str) -> None:
        # Used by the browser's reset-from-key page: a new password ends every API session.
        from .services import tokens_revoke_all

        super().set_password(user, password)
        tokens_revoke_all(user=user)
