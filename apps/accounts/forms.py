"""allauth's browser forms, fitted to Lyo's one canonical email."""

from allauth.account.forms import LoginForm as AllauthLoginForm

from .email_identity import canonical_email


class LoginForm(AllauthLoginForm):
    def clean_login(self) -> str:
        # Any spelling of the address signs in to its account, and allauth's later steps (is
        # this address verified?) look up the account's own stored spelling.
        from .selectors import user_by_email

        login = super().clean_login()
        user = user_by_email(email=login)
        return user.email if user is not None else canonical_email(login)
