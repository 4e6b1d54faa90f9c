import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.core.management.commands.seed_demo import DEMO_PASSWORD
from apps.courses.models import Course, Enrollment

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_its_accounts_can_sign_in():
    call_command("seed_demo")
    call_command("seed_demo")
    assert User.objects.filter(email__endswith="@lyo.local").count() == 6
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": "learner1@lyo.local", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200
    assert Course.objects.filter(status="published").count() == 3
    assert Enrollment.objects.count() == 9
    admin = User.objects.get(email="admin@lyo.local")
    assert admin.has_perm("accounts.manage_roles") and admin.is_staff
