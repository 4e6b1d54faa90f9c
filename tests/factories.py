import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from apps.accounts import roles
from apps.accounts.models import User
from apps.accounts.tokens import RefreshToken

DEFAULT_PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    """A signed-up person whose email is verified, with the given roles (default: student)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"learner{n}@example.com")
    display_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        if create:
            verified = True if extracted is None else extracted
            EmailAddress.objects.create(user=obj, email=obj.email, primary=True, verified=verified)

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        if create:
            names = extracted if extracted is not None else [roles.DEFAULT_ROLE]
            obj.groups.add(*Group.objects.filter(name__in=names))


def client_for(user: User) -> APIClient:
    """An API client authenticated with a real access token for the user."""
    client = APIClient()
    user.refresh_from_db(fields=["token_version"])  # as a sign-in now would read it
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client
