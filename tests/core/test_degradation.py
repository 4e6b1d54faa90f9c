"""Redis stopped or frozen, PostgreSQL out of reach: the API degrades, it does not fail.

Redis here is a private redis-server (tests/processes.py) that the tests stop (SIGTERM:
connections refused) and freeze (SIGSTOP: connections accepted, never answered), with the
cache configured as in production (apps.core.redis_cache.ResilientRedisCache, short socket
timeouts). README: "Redis, PostgreSQL and the web processes".
"""

import copy
import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from apps.core import redis_cache
from apps.gamification.models import Achievement, XPTransaction
from tests.courses.factories import course_with_lessons, enroll
from tests.factories import DEFAULT_PASSWORD, UserFactory, client_for
from tests.processes import private_redis

pytestmark = pytest.mark.django_db

OUTAGES = ("stopped", "frozen")
SOCKET_TIMEOUT = 0.25
RETRY_SECONDS = 1.0
# Budget for one request while Redis is out: its own work (cold on first use, on a loaded
# machine) and at most one socket timeout; the tight bound is measured against a baseline in
# test_a_frozen_redis_costs_one_timeout_per_retry_period_not_one_per_call.
REQUEST_BUDGET = 2.5


@pytest.fixture
def redis_server(settings):
    with private_redis() as server:
        settings.CACHES = {
            "default": {
                "BACKEND": "apps.core.redis_cache.ResilientRedisCache",
                "LOCATION": server.url,
                "KEY_PREFIX": "lyo-degradation",
                "OPTIONS": {
                    "CLIENT_CLASS": "django_redis.client.DefaultClient",
                    "SOCKET_CONNECT_TIMEOUT": SOCKET_TIMEOUT,
                    "SOCKET_TIMEOUT": SOCKET_TIMEOUT,
                    "COUNTER_PREFIXES": settings.CACHE_COUNTER_PREFIXES,
                    "RETRY_SECONDS": RETRY_SECONDS,
                },
            }
        }
        yield server
        server.thaw()
        redis_cache._breakers.pop(server.url, None)


def cut(server, outage: str) -> None:
    if outage == "stopped":
        server.stop()
    else:
        server.freeze()


def restore(server, outage: str) -> None:
    if outage == "stopped":
        server.start()
    else:
        server.thaw()
    time.sleep(RETRY_SECONDS + 0.1)  # the circuit breaker lets the next call try again


def timed(call):
    started = time.monotonic()
    response = call()
    elapsed = time.monotonic() - started
    assert response.status_code < 500, response.content
    assert elapsed < REQUEST_BUDGET, f"{elapsed:.2f}s"
    return response


@pytest.fixture
def learner(db):
    Achievement.objects.update(active=False)  # plain XP arithmetic
    course, lessons = course_with_lessons(3)
    user = UserFactory()
    enroll(user, course)
    return user, course, lessons


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outage", OUTAGES)
def test_every_kind_of_request_keeps_serving_from_postgresql_while_redis_is_out(
    redis_server, learner, outage
):
    user, course, lessons = learner
    anonymous = APIClient()
    # Cached copies exist before the outage (catalog, the user's row).
    assert anonymous.get("/api/v1/courses/").status_code == 200
    assert client_for(user).get("/api/v1/me/").status_code == 200

    cut(redis_server, outage)

    catalog = timed(lambda: anonymous.get("/api/v1/courses/"))
    assert [c["slug"] for c in catalog.json()["results"]] == [course.slug]

    signed_in = timed(
        lambda: APIClient().post(
            "/api/v1/auth/token/", {"email": user.email, "password": DEFAULT_PASSWORD}
        )
    )
    assert signed_in.status_code == 200
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {signed_in.json()['access']}")

    me = timed(lambda: api.get("/api/v1/me/"))
    assert me.json()["email"] == user.email

    completed = timed(lambda: api.post(f"/api/v1/lessons/{lessons[0].id}/complete/"))
    assert completed.status_code == 200
    enrollments = timed(lambda: api.get("/api/v1/me/enrollments/")).json()["results"]
    assert enrollments[0]["progress_percent"] == pytest.approx(100 / 3, abs=1)

    posted = timed(lambda: api.post("/api/v1/posts/", {"body": "Still here."}))
    assert posted.status_code == 201
    post_id = posted.json()["id"]
    liked = timed(lambda: client_for(UserFactory()).post(f"/api/v1/posts/{post_id}/like/"))
    assert (liked.status_code, liked.json()) == (201, {"liked": True, "like_count": 1})

    # The lesson's XP is in the ledger; the board is answered from it.
    xp = sum(XPTransaction.objects.filter(user=user).values_list("points", flat=True))
    assert xp > 0
    for period in ("daily", "weekly", "all-time"):
        board = timed(lambda period=period: api.get(f"/api/v1/leaderboards/{period}/")).json()
        assert board["me"] == {"rank": 1, "xp": xp}
        assert [(row["user"]["id"], row["xp"]) for row in board["results"]] == [(user.pk, xp)]
    in_course = XPTransaction.objects.filter(user=user, course_id=course.pk).values_list(
        "points", flat=True
    )
    course_board = timed(
        lambda: api.get(f"/api/v1/leaderboards/weekly/?scope=course:{course.slug}")
    )
    assert sum(in_course) > 0
    assert course_board.json()["me"] == {"rank": 1, "xp": sum(in_course)}


@pytest.mark.parametrize("outage", OUTAGES)
def test_ready_is_503_within_two_seconds_while_redis_is_out_and_200_once_it_is_back(
    redis_server, outage
):
    assert APIClient().get("/health/ready/").status_code == 200
    cut(redis_server, outage)

    started = time.monotonic()
    response = APIClient().get("/health/ready/")
    assert time.monotonic() - started < 2.0
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["cache"]["status"] in ("error", "timeout")
    assert {name: c["status"] for name, c in checks.items() if name != "cache"} == {
        "database": "ok",
        "broker": "ok",
        "storage": "ok",
    }

    # Readiness asks Redis itself, past the circuit breaker: no waiting for the retry period.
    if outage == "stopped":
        redis_server.start()
    else:
        redis_server.thaw()
    assert APIClient().get("/health/ready/").status_code == 200


def test_ready_is_503_within_two_seconds_even_when_the_cache_client_would_wait_longer(
    redis_server, settings
):
    """The deadline holds whatever the client's own timeout (redis-py's default is 5 s)."""
    slow = copy.deepcopy(settings.CACHES)
    slow["default"]["OPTIONS"].update(SOCKET_CONNECT_TIMEOUT=5, SOCKET_TIMEOUT=5)
    settings.CACHES = slow
    redis_server.freeze()
    started = time.monotonic()
    response = APIClient().get("/health/ready/")
    assert time.monotonic() - started < 2.0
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["status"] == "timeout"


def test_ready_answers_in_time_even_when_a_check_hangs(redis_server, monkeypatch):
    """Any dependency that never answers (here the storage) makes its check "timeout"."""
    from apps.core import health

    release = threading.Event()
    monkeypatch.setitem(health.CHECKS, "storage", lambda: release.wait(5))
    try:
        started = time.monotonic()
        response = APIClient().get("/health/ready/")
        assert time.monotonic() - started < 2.0
        assert response.status_code == 503
        assert response.json()["checks"]["storage"]["status"] == "timeout"
        # The hung check is not started a second time while it still runs.
        again = APIClient().get("/health/ready/")
        assert again.json()["checks"]["storage"]["status"] == "timeout"
        hung = [t for t in threading.enumerate() if t.name == "health-storage"]
        assert len(hung) == 1
    finally:
        # Let the hung check end before the next test probes readiness in this process.
        release.set()
    hung[0].join(5)


@pytest.mark.parametrize("outage", OUTAGES)
def test_throttles_still_refuse_past_the_limit_while_redis_is_out(
    redis_server, learner, outage, monkeypatch
):
    from apps.core.throttling import SimpleRateThrottle

    for scope in ("anon", "user"):  # the catalog applies the per-user rate (per IP: anonymous)
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "3/min")
    cut(redis_server, outage)
    anonymous = APIClient()
    statuses = [timed(lambda: anonymous.get("/api/v1/courses/")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = anonymous.get("/api/v1/courses/")
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    # Another client has its own budget.
    assert APIClient(REMOTE_ADDR="10.7.7.7").get("/api/v1/courses/").status_code == 200


@pytest.mark.parametrize("outage", OUTAGES)
def test_sign_in_lockout_holds_while_redis_is_out(redis_server, user, outage):
    cut(redis_server, outage)
    sign_in = "/api/v1/auth/token/"
    for _ in range(5):
        failed = timed(
            lambda: APIClient().post(sign_in, {"email": user.email, "password": "nope-x"})
        )
        assert failed.status_code == 401
    locked = APIClient().post(sign_in, {"email": user.email, "password": DEFAULT_PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "throttled"

    # The lock begun in memory keeps holding once Redis is back (which never heard of it).
    restore(redis_server, outage)
    again = APIClient().post(sign_in, {"email": user.email, "password": DEFAULT_PASSWORD})
    assert again.status_code == 429


def test_copies_invalidated_during_the_outage_are_not_served_after_it(redis_server, user):
    """A frozen Redis keeps its data: the change made meanwhile must still win afterwards."""
    api = client_for(user)
    assert api.get("/api/v1/me/").json()["display_name"] == user.display_name  # cached now
    redis_server.freeze()
    renamed = timed(lambda: api.patch("/api/v1/me/", {"display_name": "Renamed Meanwhile"}))
    assert renamed.status_code == 200
    restore(redis_server, "frozen")
    assert api.get("/api/v1/me/").json()["display_name"] == "Renamed Meanwhile"
    # ...and the cache is used again (the copy is back in Redis).
    keys = redis_server.client().keys("lyo-degradation:*auth:user:*")
    assert len(keys) == 1


@pytest.mark.django_db(transaction=True)
def test_awards_made_while_redis_was_frozen_reach_the_boards_after_it(redis_server, learner):
    user, course, lessons = learner
    api = client_for(user)
    assert api.post(f"/api/v1/lessons/{lessons[0].id}/complete/").status_code == 200
    redis_server.freeze()
    assert timed(lambda: api.post(f"/api/v1/lessons/{lessons[1].id}/complete/")).status_code == 200
    xp = sum(XPTransaction.objects.filter(user=user).values_list("points", flat=True))
    restore(redis_server, "frozen")

    board = api.get("/api/v1/leaderboards/all-time/").json()  # first call: the recovery
    assert board["me"] == {"rank": 1, "xp": xp}
    sets = redis_server.client()
    assert int(sets.zscore("lb:all-time:all:global", user.pk)) == xp
    assert int(sets.zscore(f"lb:all-time:all:course:{course.pk}", user.pk)) == xp


def test_a_frozen_redis_costs_one_timeout_per_retry_period_not_one_per_call(redis_server, user):
    api = client_for(user)

    def ten_requests() -> float:
        started = time.monotonic()
        for _ in range(10):
            assert api.get("/api/v1/me/").status_code == 200
        return time.monotonic() - started

    ten_requests()  # warm
    healthy = ten_requests()
    redis_server.freeze()
    frozen = ten_requests()
    # Ten requests, each with several cache and throttle calls: about one timeout in all
    # (the run is shorter than RETRY_SECONDS), where every call waiting would be 20 or more.
    assert frozen < healthy + 2 * SOCKET_TIMEOUT + 0.5, (healthy, frozen)


def test_publishing_to_a_frozen_redis_broker_gives_up_instead_of_hanging(redis_server, settings):
    """With production's broker options (loaded as a server loads them): a bounded wait, not
    gunicorn's 30 s kill. Keeping the publish off the request is the event outbox's part."""
    from celery import Celery
    from kombu.exceptions import OperationalError as BrokerError

    from tests.core.test_settings import PRODUCTION_ENV, run_python

    code = (
        "import django, json; django.setup(); from django.conf import settings as s;"
        "print(json.dumps([s.CELERY_BROKER_TRANSPORT_OPTIONS, s.CELERY_TASK_PUBLISH_RETRY_POLICY]))"
    )
    result = run_python(code, PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    transport, retry = json.loads(result.stdout.strip().splitlines()[-1])
    assert transport["socket_timeout"] > 1  # above kombu's 1 s BRPOP in the workers

    publisher = Celery("publisher", broker=redis_server.url, set_as_current=False)
    publisher.conf.update(broker_transport_options=transport, task_publish_retry_policy=retry)
    publisher.send_task("apps.gamification.tasks.rebuild_leaderboards")  # a healthy broker
    redis_server.freeze()
    started = time.monotonic()
    with pytest.raises(BrokerError):
        publisher.send_task("apps.gamification.tasks.rebuild_leaderboards")
    assert time.monotonic() - started < 8
    publisher.close()


# --- PostgreSQL out of reach -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_database_out_of_reach_is_a_quick_503_in_the_error_envelope(user):
    api = client_for(user)
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        started = time.monotonic()
        catalog = APIClient().get("/api/v1/courses/")  # the request transaction cannot begin
        me = api.get("/api/v1/me/")  # inside DRF: authentication reads the user's row
        elapsed = time.monotonic() - started
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    for response in (catalog, me):
        assert response.status_code == 503
        error = response.json()["error"]
        assert set(error) == {"code", "message", "details", "request_id"}
        assert error["code"] == "service_unavailable"
        assert error["request_id"] == response["X-Request-ID"]
        assert "127.0.0.1" not in response.content.decode()
    assert elapsed < 5


def test_production_settings_bound_every_wait_on_redis_and_postgresql():
    """Loaded in a separate process as a server loads them."""
    from tests.core.test_settings import PRODUCTION_ENV, run_python

    code = (
        "import django, json; django.setup(); from django.conf import settings as s;"
        "print(json.dumps({'cache': s.CACHES['default'],"
        " 'db': s.DATABASES['default']['OPTIONS'], 'health': s.HEALTH_CHECK_TIMEOUT_SECONDS}))"
    )
    result = run_python(code, PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    cache = loaded["cache"]
    assert cache["BACKEND"] == "apps.core.redis_cache.ResilientRedisCache"
    assert cache["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"] <= 0.5
    assert cache["OPTIONS"]["SOCKET_TIMEOUT"] <= 0.5
    assert set(cache["OPTIONS"]["COUNTER_PREFIXES"]) == {"throttle_", "lockout:", "allauth:rl:"}
    assert "IGNORE_EXCEPTIONS" not in cache["OPTIONS"]  # the backend decides, per kind of key
    assert loaded["db"]["connect_timeout"] <= 5
    assert loaded["health"] < 2


@pytest.mark.parametrize("outage", OUTAGES)
def test_allauths_flows_and_browser_sessions_work_while_redis_is_out(redis_server, user, outage):
    """allauth's rate limits and the cached_db sessions both live in the cache."""
    cut(redis_server, outage)
    registered = timed(
        lambda: APIClient().post(
            "/api/v1/auth/register/",
            {"email": "newcomer@example.com", "password": DEFAULT_PASSWORD, "display_name": "New"},
        )
    )
    assert registered.status_code == 201
    reset = timed(lambda: APIClient().post("/api/v1/auth/password/reset/", {"email": user.email}))
    assert reset.status_code == 202

    browser = Client()
    login = timed(
        lambda: browser.post(
            "/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD}
        )
    )
    assert login.status_code == 302
    assert timed(lambda: browser.get("/accounts/email/")).status_code == 200  # session kept
