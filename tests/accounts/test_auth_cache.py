"""The API's cached copy of the signed-in user and their permissions (apps.accounts.authentication)
never outlives a change made through the model: deactivation, profile and role changes are
seen by the very next request."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory, client_for

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def user_row_reads(client) -> int:
    # An endpoint that reads no user row itself (its own answer is cached after the first call).
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/me/gamification/").status_code == 200
    return sum('FROM "accounts_user"' in q["sql"] for q in captured.captured_queries)


def test_the_user_row_is_read_once_then_served_from_the_cache(user):
    client = client_for(user)
    assert user_row_reads(client) >= 1
    assert user_row_reads(client) == 0


def test_a_deactivated_account_is_refused_at_once(user):
    client = client_for(user)
    assert client.get(ME).status_code == 200  # now cached
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"user_inactive", "authentication_failed"}


def test_a_deleted_account_is_refused_at_once(user):
    client = client_for(user)
    assert client.get(ME).status_code == 200
    user.delete()
    assert client.get(ME).status_code == 401


def test_profile_changes_show_on_the_next_request(user):
    client = client_for(user)
    assert client.get(ME).status_code == 200
    user.display_name = "Renamed Elsewhere"
    user.save()
    assert client.get(ME).json()["display_name"] == "Renamed Elsewhere"


@pytest.mark.parametrize("side", ["user", "group"])
def test_role_changes_show_on_the_next_request(side):
    person, target = UserFactory(), UserFactory()
    client = client_for(person)

    def change_roles() -> int:
        url = f"/api/v1/users/{target.pk}/roles/"
        return client.put(url, {"roles": ["student"]}, format="json").status_code

    assert change_roles() == 403  # permissions now cached as a student's
    admin = Group.objects.get(name="admin")
    if side == "user":
        person.groups.add(admin)
    else:
        admin.user_set.add(person)
    assert change_roles() == 200
    person.groups.remove(admin)
    assert change_roles() == 403
