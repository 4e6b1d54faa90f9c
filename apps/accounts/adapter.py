"""How allauth's flows fit Lyo: where the browser lands, and what a new password revokes."""

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_email_verification_redirect_url(self, email_address) -> str:
        # People arrive from an email on their phone: tell them to go back to the app.
        return reverse("account_email_confirmed")

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
