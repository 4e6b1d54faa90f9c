"""allauth's forms fitted to Lyo (browser pages and services.user_register alike): the login
folds the address to its account, the signup costs the same for a taken address."""

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django.contrib.auth.hashers import make_password

from .email_identity import canonical_email


class LoginForm(AllauthLoginForm):
    def clean_login(self) -> str:
        # Any spelling of the address signs in to its account, and allauth's later steps (is
        # this address verified?) look up the account's own stored spelling.
        from .selectors import user_by_email

        login = super().clean_login()
        user = user_by_email(email=login)
        return user.email if user is not None else canonical_email(login)


class SignupForm(AllauthSignupForm):
    def try_save(self, request):
        # A taken address creates nothing, which would answer faster than a new account (whose
        # password is hashed): do that work either way, so timing does not tell them apart.
        if self.account_already_exists:
            make_password(self.cleaned_data["password1"])
        return super().try_save(request)
