import pytest
from django.contrib.auth import authenticate
from django.db import IntegrityError

from apps.accounts.models import User
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_email_is_the_login_and_is_stored_lower_case():
    user = User.objects.create_user(email="  Ada@Example.COM ", password=DEFAULT_PASSWORD)
    assert user.email == "ada@example.com"
    assert not hasattr(user, "username")
    assert authenticate(email="ADA@example.com", password=DEFAULT_PASSWORD) == user


def test_emails_are_unique_regardless_of_case():
    User.objects.create_user(email="grace@example.com", password=DEFAULT_PASSWORD)
    with pytest.raises(IntegrityError):
        # Bypass the manager's normalisation: the database constraint must still hold.
        User.objects.bulk_create([User(email="GRACE@example.com")])


def test_superuser_is_staff():
    admin = User.objects.create_superuser(email="root@example.com", password=DEFAULT_PASSWORD)
    assert admin.is_staff and admin.is_superuser
