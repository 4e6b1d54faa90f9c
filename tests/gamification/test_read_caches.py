"""The read caches of GET /me/gamification/ and the leaderboards: fast, and never wrong about
what the reader just did."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.gamification import services
from apps.gamification.models import Achievement
from tests.factories import UserFactory, client_for

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/gamification/"
WEEKLY = "/api/v1/leaderboards/weekly/"


@pytest.fixture(autouse=True)
def _plain_awards():
    Achievement.objects.update(active=False)


def award(user, n, points=None):
    return services.xp_award(
        user_id=user.pk,
        action="lesson.completed",
        source_key=f"cache-test:{user.pk}:{n}",
        points=points,
    )


def sql_statements(client, url) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    # Transaction control (the request's transaction; a savepoint inside the test's) aside.
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(control)]


def test_me_is_served_without_sql_once_cached(user):
    client = client_for(user)
    assert sql_statements(client, ME)
    assert sql_statements(client, ME) == []


def test_me_shows_new_xp_and_settings_at_once(user, django_capture_on_commit_callbacks):
    client = client_for(user)
    assert client.get(ME).json()["xp"] == 0
    award(user, 1)
    body = client.get(ME).json()
    assert body["xp"] > 0
    assert body["current_streak"] == 1

    assert client.patch(ME, {"streak_reminders": False}, format="json").status_code == 200
    assert client.get(ME).json()["streak_reminders"] is False


def test_me_shows_a_new_achievement_at_once(user):
    client = client_for(user)
    assert client.get(ME).json()["achievements"] == []
    first = Achievement.objects.order_by("id").first()
    services.achievement_grant(user_id=user.pk, achievement=first)
    codes = [a["code"] for a in client.get(ME).json()["achievements"]]
    assert codes == [first.code]


def test_the_board_page_is_shared_for_a_few_seconds_but_my_rank_is_live(
    settings, django_capture_on_commit_callbacks
):
    settings.LEADERBOARD_CACHE_SECONDS = 30
    leader, me = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        award(leader, 1, points=50)
        award(me, 1, points=10)
    client = client_for(me)
    first = client.get(WEEKLY).json()
    assert [row["user"]["id"] for row in first["results"]] == [leader.pk, me.pk]
    assert first["me"] == {"rank": 2, "xp": 10}

    with django_capture_on_commit_callbacks(execute=True):
        award(me, 2, points=100)
    second = client.get(WEEKLY).json()
    assert second["results"] == first["results"]  # the shared page, up to 30 s old
    assert second["me"] == {"rank": 1, "xp": 110}  # but my own standing is live
    # A cached page costs no SQL at all.
    assert sql_statements(client, WEEKLY) == []


def test_without_the_page_cache_the_board_is_live(settings, django_capture_on_commit_callbacks):
    settings.LEADERBOARD_CACHE_SECONDS = 0
    leader, me = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        award(leader, 1, points=50)
    client = client_for(me)
    assert [row["user"]["id"] for row in client.get(WEEKLY).json()["results"]] == [leader.pk]
    with django_capture_on_commit_callbacks(execute=True):
        award(me, 1, points=100)
    body = client.get(WEEKLY).json()
    assert [row["user"]["id"] for row in body["results"]] == [me.pk, leader.pk]
