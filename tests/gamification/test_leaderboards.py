from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_redis import get_redis_connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from apps.gamification import leaderboards, services
from apps.gamification.models import Achievement, UserStats, XPTransaction
from tests.courses.factories import CourseFactory
from tests.factories import UserFactory, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plain_awards():
    # Achievement rewards would blur the arithmetic these tests check.
    Achievement.objects.update(active=False)


def award(user, n, action="lesson.completed", course_id=None, when=None):
    return services.xp_award(
        user_id=user.pk,
        action=action,
        source_key=f"{action}:{user.pk}:{n}",
        course_id=course_id,
        occurred_at=when,
    )


def ranking(period, scope, source, when):
    if source == "redis":
        scores = leaderboards.redis_scores(period=period, scope=scope, when=when)
    else:
        scores = leaderboards.sql_scores(period=period, scope=scope, when=when)
    return [(s.user_id, s.xp, s.rank) for s in leaderboards.ranked(scores)]


@hsettings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    awards=st.lists(
        st.tuples(
            st.integers(0, 5),  # which user
            st.sampled_from(["lesson.completed", "quiz.passed", "post.created", "comment.created"]),
            st.booleans(),  # inside the course?
        ),
        max_size=30,
    )
)
def test_redis_boards_equal_the_ledger_and_survive_a_rebuild(
    awards, django_capture_on_commit_callbacks
):
    XPTransaction.objects.all().delete()
    UserStats.objects.all().delete()
    get_redis_connection("default").flushdb()
    users = [UserFactory() for _ in range(6)]
    course = CourseFactory(instructor=users[0])
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        for n, (who, action, in_course) in enumerate(awards):
            award(
                users[who], n, action=action, course_id=course.pk if in_course else None, when=now
            )

    boards = [(p, s) for p in leaderboards.PERIODS for s in ("global", f"course:{course.pk}")]
    for period, scope in boards:
        assert ranking(period, scope, "redis", now) == ranking(period, scope, "sql", now)

    get_redis_connection("default").flushdb()
    leaderboards.rebuild(when=now)
    for period, scope in boards:
        assert ranking(period, scope, "redis", now) == ranking(period, scope, "sql", now)


def test_rebuild_command_restores_an_emptied_redis(django_capture_on_commit_callbacks):
    alice, bob = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        award(alice, 1)
        award(alice, 2)
        award(bob, 1)
    before = ranking("weekly", "global", "redis", timezone.now())
    get_redis_connection("default").flushdb()
    assert ranking("weekly", "global", "redis", timezone.now()) == []
    call_command("rebuild_leaderboards")
    assert ranking("weekly", "global", "redis", timezone.now()) == before
    assert before[0][:2] == (alice.pk, 20)


def test_daily_sets_expire(django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        award(user, 1)
    client = get_redis_connection("default")
    now = timezone.now()
    assert 0 < client.ttl(leaderboards.key("daily", "global", now)) <= 4 * 86400
    assert 0 < client.ttl(leaderboards.key("weekly", "global", now)) <= 22 * 86400
    assert client.ttl(leaderboards.key("all-time", "global", now)) == -1


def test_periods_are_separate(django_capture_on_commit_callbacks):
    user = UserFactory()
    last_week = timezone.now() - timedelta(days=8)
    with django_capture_on_commit_callbacks(execute=True):
        award(user, 1, when=last_week)
        award(user, 2)
    now = timezone.now()
    assert ranking("daily", "global", "redis", now) == [(user.pk, 10, 1)]
    assert ranking("all-time", "global", "redis", now) == [(user.pk, 20, 1)]


def test_api_top_n_with_own_rank_outside_it(django_capture_on_commit_callbacks):
    users = [UserFactory() for _ in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        for i, user in enumerate(users):
            for n in range(i + 1):
                award(user, n)
    client = client_for(users[0])
    body = client.get("/api/v1/leaderboards/weekly/", {"limit": 2}).json()
    assert [e["user"]["id"] for e in body["results"]] == [users[4].pk, users[3].pk]
    assert [e["rank"] for e in body["results"]] == [1, 2]
    assert body["results"][0]["xp"] == 50
    assert body["me"] == {"rank": 5, "xp": 10}


def test_api_scopes(django_capture_on_commit_callbacks):
    me, friend, stranger = UserFactory(), UserFactory(), UserFactory()
    course = CourseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        award(me, 1, course_id=course.pk)
        award(friend, 1)
        award(friend, 2)
        award(stranger, 1, course_id=course.pk)
        award(stranger, 2, course_id=course.pk)
        award(stranger, 3, course_id=course.pk)
    client = client_for(me)
    url = "/api/v1/leaderboards/all-time/"
    by_course = client.get(url, {"scope": f"course:{course.slug}"}).json()
    assert [e["user"]["id"] for e in by_course["results"]] == [stranger.pk, me.pk]
    assert client.get(url, {"scope": "course:no-such-course"}).status_code == 404
    assert client.get(url, {"scope": "everyone"}).status_code == 400
    assert client.get(url, {"limit": 0}).status_code == 400
    assert client.get("/api/v1/leaderboards/monthly/").status_code == 404
    assert client.get(url).json()["me"]["rank"] == 3


def test_sql_fallback_answers_the_same_without_redis(settings, django_capture_on_commit_callbacks):
    users = [UserFactory() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for i, user in enumerate(users):
            for n in range(3 - i):
                award(user, n)
    client = client_for(users[2])
    with_redis = client.get("/api/v1/leaderboards/daily/").json()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert not leaderboards.redis_enabled()
    assert client.get("/api/v1/leaderboards/daily/").json() == with_redis


@pytest.mark.parametrize("count", [1, 50])
def test_leaderboard_query_count_is_constant(django_assert_max_num_queries, count):
    users = [UserFactory() for _ in range(count)]
    for user in users:
        award(user, 1)
    leaderboards.rebuild()
    client = client_for(users[0])
    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/leaderboards/all-time/", {"limit": 100})
    assert len(response.json()["results"]) == count


def test_week_close_snapshots_and_crowns_once(django_capture_on_commit_callbacks):
    Achievement.objects.filter(code="weekly-champion").update(active=True)
    champion, runner_up = UserFactory(), UserFactory()
    last_week = datetime.now(UTC) - timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        award(champion, 1, when=last_week)
        award(champion, 2, when=last_week)
        award(runner_up, 1, when=last_week)
    XPTransaction.objects.update(created_at=last_week)
    week_start = leaderboards.period_start("weekly", last_week)
    first = services.week_close(week_start=week_start)
    services.week_close(week_start=week_start)
    assert [(s.user_id, s.rank) for s in first] == [(champion.pk, 1), (runner_up.pk, 2)]
    assert champion.achievements.filter(achievement__code="weekly-champion").count() == 1
    assert not runner_up.achievements.exists()


# --- Deleted (inactive) accounts never appear ----------------------------------------------


def _board_ids(client, period, **params):
    return [
        e["user"]["id"]
        for e in client.get(f"/api/v1/leaderboards/{period}/", params).json()["results"]
    ]


def test_a_deleted_account_leaves_every_board(settings, django_capture_on_commit_callbacks):
    leaver, stayer = UserFactory(), UserFactory()
    course = CourseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        award(leaver, 1, course_id=course.pk)
        award(leaver, 2)
        award(stayer, 1)
    viewer = client_for(stayer)
    for period in ("weekly", "all-time"):
        assert _board_ids(viewer, period) == [leaver.pk, stayer.pk]

    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(leaver).delete("/api/v1/me/").status_code == 204

    now = timezone.now()
    for period in leaderboards.PERIODS:
        for scope in ("global", f"course:{course.pk}"):
            assert leaver.pk not in leaderboards.redis_scores(period=period, scope=scope, when=now)
        assert _board_ids(viewer, period) == [stayer.pk]
    assert viewer.get("/api/v1/leaderboards/weekly/").json()["me"]["rank"] == 1

    # Rebuilding from the ledger (which keeps the deleted account's rows) does not re-add them.
    leaderboards.rebuild()
    for period in leaderboards.PERIODS:
        assert ranking(period, "global", "redis", now) == [(stayer.pk, 10, 1)]
        assert ranking(period, f"course:{course.pk}", "redis", now) == []
        assert _board_ids(viewer, period) == [stayer.pk]

    # Nor does the SQL fallback list them.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for period in leaderboards.PERIODS:
        assert ranking(period, "global", "sql", now) == [(stayer.pk, 10, 1)]
        assert _board_ids(viewer, period) == [stayer.pk]
        assert _board_ids(viewer, period, scope=f"course:{course.slug}") == []


def test_sql_fallback_skips_a_deleted_account(settings, django_capture_on_commit_callbacks):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    leaver, stayer = UserFactory(), UserFactory()
    award(leaver, 1)
    award(leaver, 2)
    award(stayer, 1)
    viewer = client_for(stayer)
    assert _board_ids(viewer, "weekly") == [leaver.pk, stayer.pk]
    assert _board_ids(viewer, "all-time") == [leaver.pk, stayer.pk]

    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(leaver).delete("/api/v1/me/").status_code == 204

    for period in leaderboards.PERIODS:
        assert _board_ids(viewer, period) == [stayer.pk]
    assert viewer.get("/api/v1/leaderboards/all-time/").json()["me"] == {"rank": 1, "xp": 10}
    assert leaderboards.rebuild() == 0  # nothing to rebuild without Redis


def test_an_inactive_user_still_in_redis_is_not_shown(django_capture_on_commit_callbacks):
    # E.g. a moderator suspended them (no deletion event): the board does not show them.
    suspended, viewer = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        award(suspended, 1)
        award(suspended, 2)
        award(viewer, 1)
    suspended.is_active = False
    suspended.save(update_fields=["is_active"])
    assert suspended.pk in leaderboards.redis_scores(
        period="weekly", scope="global", when=timezone.now()
    )
    assert _board_ids(client_for(viewer), "weekly") == [viewer.pk]


def test_week_close_skips_inactive_users(django_capture_on_commit_callbacks):
    gone, champion = UserFactory(), UserFactory()
    last_week = datetime.now(UTC) - timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        award(gone, 1, when=last_week)
        award(gone, 2, when=last_week)
        award(champion, 1, when=last_week)
    XPTransaction.objects.update(created_at=last_week)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    snapshots = services.week_close(week_start=leaderboards.period_start("weekly", last_week))
    assert [(s.user_id, s.rank) for s in snapshots] == [(champion.pk, 1)]
