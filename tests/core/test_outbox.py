"""The event outbox: durable side effects across a broker outage (apps.core.outbox).

The end-to-end test stops nothing shared: the broker is a private redis-server on a free port,
down (nothing listening) while the requests run, then started; a real `celery worker` process
delivers from it into this test's database (a transactional test, so the worker sees the rows).
"""

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core import events, outbox
from apps.core.models import OutboxEvent
from apps.gamification.models import UserAchievement, UserStats, XPTransaction
from apps.social.models import Notification
from lyo.celery import app as celery_app
from tests.courses.factories import course_with_lessons, enroll
from tests.factories import UserFactory, client_for
from tests.processes import RedisServer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
OUTBOX_INSERT = f'INSERT INTO "{OutboxEvent._meta.db_table}"'


def _point_celery_at(url: str, *, eager: bool, close_current: bool = False) -> None:
    """Re-aim the Celery app of this process (its producer pools keep their old broker)."""
    if close_current:
        celery_app.pool.force_close_all()
    celery_app.conf.broker_url = url
    celery_app.conf.task_always_eager = eager
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def private_broker(tmp_path):
    """A broker URL on a free port with nothing behind it yet; `start()` brings up a real
    redis-server there (stopped at the end). This process publishes to it for real."""
    broker = RedisServer("broker", log_dir=tmp_path, start=False)
    previous = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
    _point_celery_at(broker.url, eager=False)
    try:
        yield broker
    finally:
        _point_celery_at(previous[0], eager=previous[1], close_current=True)
        broker.stop()


@contextmanager
def celery_worker(broker_url: str):
    """A real `celery -A lyo worker` on the private broker and this test's database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lyo.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PYTHONPATH": str(ROOT),
    }
    log = ROOT / ".test-media" / f"worker-{os.getpid()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "lyo",
                "-b",
                broker_url,
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            yield lambda: log.read_text()
        finally:
            worker.terminate()
            worker.wait(timeout=20)
            connection.close()  # the worker's sessions are gone; ours is reopened as needed


def _ledger(user) -> dict[str, int]:
    return dict(XPTransaction.objects.filter(user=user).values_list("source_key", "points"))


def test_broker_down_writes_commit_and_side_effects_arrive_once_it_returns(private_broker):
    learner = UserFactory()
    course, (lesson,) = course_with_lessons(1)
    enroll(learner, course)
    client = client_for(learner)

    # Broker down: both writes succeed and leave their events in the outbox, nothing else.
    started = time.perf_counter()
    completed = client.post(f"/api/v1/lessons/{lesson.id}/complete/")
    posted = client.post("/api/v1/posts/", {"body": "Finished my first course!"}, format="json")
    elapsed = time.perf_counter() - started
    assert completed.status_code == 200, completed.content
    assert posted.status_code == 201, posted.content
    assert elapsed < 5, f"a dead broker held the requests for {elapsed:.1f}s"
    pending = OutboxEvent.objects.filter(delivered_at__isnull=True)
    assert sorted(pending.values_list("name", flat=True)) == [
        "course.completed",
        "lesson.completed",
        "post.created",
    ]
    assert not XPTransaction.objects.filter(user=learner).exists()

    # The broker returns: the sweeper hands the events off, a real worker delivers them.
    private_broker.start()
    call_command("relay_outbox", "--all")
    assert OutboxEvent.objects.filter(relay_count=1).count() == 3
    with celery_worker(private_broker.url) as worker_log:
        wait_until(
            lambda: not OutboxEvent.objects.filter(delivered_at__isnull=True).exists(),
            timeout=60,
            what="the worker to deliver the outbox",
        )
        expected = {
            f"lesson.completed:{learner.pk}:{lesson.pk}": 10,
            f"course.completed:{learner.pk}:{course.pk}": 100,
            f"post.created:{learner.pk}:{posted.json()['id']}": 2,
            f"achievement:first-lesson:{learner.pk}": 10,
            f"achievement:first-course:{learner.pk}": 100,
        }
        assert _ledger(learner) == expected
        stats = UserStats.objects.get(user=learner)
        assert (stats.xp_total, stats.current_streak) == (sum(expected.values()), 1)
        codes = UserAchievement.objects.filter(user=learner).values_list(
            "achievement__code", flat=True
        )
        assert sorted(codes) == ["first-course", "first-lesson"]
        # The unlocks are events of their own, delivered by the worker too.
        wait_until(
            lambda: Notification.objects.filter(recipient=learner).count() == 2,
            timeout=30,
            what="the achievement notifications",
        )

        # The sweeper again, and the very same events handed off a second time: no change.
        assert outbox.relay_pending(everything=True) == 0
        ids = list(OutboxEvent.objects.values_list("pk", flat=True))
        assert outbox.relay(ids, patient=True)
        # Two messages in all (the sweeper's batch, then this one); unlocks published in the
        # worker are delivered there too.
        wait_until(
            lambda: worker_log().count("succeeded") >= 2,
            timeout=30,
            what="the worker to handle the repeated hand-off",
        )
    assert _ledger(learner) == expected
    assert UserStats.objects.get(user=learner).xp_total == sum(expected.values())
    assert UserAchievement.objects.filter(user=learner).count() == 2
    assert Notification.objects.filter(recipient=learner).count() == 2


def test_a_dead_broker_costs_the_request_one_refused_connection(private_broker):
    """The after-commit hand-off tries once (no retry loop) and never fails the request."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        assert outbox.relay([1]) is False
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.5, timings


@pytest.fixture
def frozen_broker():
    """A broker that accepts connections and never answers (a hung Redis, a half-open link)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    previous = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
    _point_celery_at(f"redis://127.0.0.1:{server.getsockname()[1]}/0", eager=False)
    try:
        yield
    finally:
        _point_celery_at(previous[0], eager=previous[1], close_current=True)
        stop.set()
        thread.join(timeout=5)
        for sock in [*held, server]:
            sock.close()


def test_a_frozen_broker_holds_the_request_half_a_second_at_most(frozen_broker):
    """Without socket timeouts kombu's Redis transport waits for the answer forever."""
    user = UserFactory()
    started = time.perf_counter()
    with transaction.atomic():
        events.publish("post.created", user_id=user.pk, post_id=1)
    elapsed = time.perf_counter() - started
    assert elapsed < 3, f"the hand-off waited {elapsed:.1f}s on a frozen broker"
    assert OutboxEvent.objects.get().delivered_at is None  # waiting for the sweeper


def test_a_rolled_back_transaction_writes_no_outbox_row(settings):
    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish("post.created", user_id=user.pk, post_id=1)
        raise RuntimeError("the write failed")
    with transaction.atomic():
        events.publish("post.created", user_id=user.pk, post_id=2)
        with pytest.raises(RuntimeError), transaction.atomic():
            events.publish("post.created", user_id=user.pk, post_id=3)
            raise RuntimeError("a savepoint rolled back")
    assert list(OutboxEvent.objects.values_list("payload__post_id", flat=True)) == [2]


def test_events_of_one_transaction_are_one_insert_before_the_commit():
    """Completing a course's last lesson publishes two events: one INSERT, inside the
    transaction (before its COMMIT), and the events are delivered after it (eager here)."""
    learner = UserFactory()
    course, (first, last) = course_with_lessons(2)
    enroll(learner, course)
    client = client_for(learner)
    assert client.post(f"/api/v1/lessons/{first.id}/complete/").status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert client.post(f"/api/v1/lessons/{last.id}/complete/").status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    request = statements[statements.index("BEGIN") + 1 : statements.index("COMMIT")]
    # The request's transaction: the outbox INSERT is its one extra statement, written last,
    # just before the COMMIT (today's five: lesson, enrollment lock, progress row, recount,
    # completion). The eager delivery after the COMMIT is the worker's work, not counted.
    assert [sql for sql in request if sql.startswith(OUTBOX_INSERT)] == [request[-1]]
    assert len(request) <= 6, request
    rows = OutboxEvent.objects.filter(payload__lesson_id=last.pk) | OutboxEvent.objects.filter(
        name="course.completed"
    )
    assert sorted(rows.values_list("name", flat=True)) == ["course.completed", "lesson.completed"]
    assert all(row.delivered_at is not None for row in rows)
    assert XPTransaction.objects.filter(source_key__startswith="course.completed").count() == 1


def test_a_row_delivered_twice_is_handled_once():
    learner = UserFactory()
    course, (lesson,) = course_with_lessons(1)
    enroll(learner, course)
    assert client_for(learner).post(f"/api/v1/lessons/{lesson.id}/complete/").status_code == 200
    ledger = _ledger(learner)
    assert ledger  # delivered after the commit (eager Celery in tests)
    ids = list(OutboxEvent.objects.values_list("pk", flat=True))
    assert outbox.deliver(ids) == 0  # all delivered already: nothing runs
    # Even with the delivered marks lost, the handlers themselves add nothing.
    OutboxEvent.objects.update(delivered_at=None)
    assert outbox.deliver(ids) == len(ids)
    assert _ledger(learner) == ledger
    assert UserAchievement.objects.filter(user=learner).count() == 2
    assert Notification.objects.filter(recipient=learner).count() == 2


def test_a_failing_handler_leaves_the_event_pending_for_the_sweeper():
    calls = []

    def flaky(event):
        calls.append(event.payload["n"])
        if len(calls) == 1:
            raise ConnectionError("the database hiccuped")

    events.subscribe("test.durable", flaky, durable=True)
    try:
        with transaction.atomic():
            events.publish("test.durable", n=1)
        row = OutboxEvent.objects.get(name="test.durable")
        assert (row.delivered_at, row.failures) == (None, 1)
        assert "the database hiccuped" in row.last_error
        assert outbox.relay_pending(everything=True) == 1
    finally:
        events.unsubscribe("test.durable", flaky)
    row.refresh_from_db()
    assert row.delivered_at is not None
    assert calls == [1, 1]


def test_the_sweeper_relays_only_what_is_due_and_prunes_old_deliveries(settings):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    fresh = OutboxEvent.objects.create(name="x", payload={}, occurred_at=now)
    stale = OutboxEvent.objects.create(name="x", payload={}, occurred_at=now - timedelta(minutes=1))
    old = OutboxEvent.objects.create(
        name="x",
        payload={},
        occurred_at=now - timedelta(days=5),
        delivered_at=now - timedelta(days=5),
    )
    assert outbox.relay_pending() == 1  # `stale` only: `fresh` may still be on its way
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {fresh.pk, stale.pk}
    assert OutboxEvent.objects.get(pk=stale.pk).delivered_at is not None  # eager delivery
    assert old.pk not in OutboxEvent.objects.values_list("pk", flat=True)


def test_the_sweeper_is_a_periodic_task_every_minute():
    from django_celery_beat.models import PeriodicTask

    call_command("setup_periodic_tasks", stdout=StringIO())
    beat = PeriodicTask.objects.get(name="lyo:core-relay-outbox")
    assert (beat.task, beat.enabled, beat.crontab.minute) == (
        "apps.core.tasks.relay_outbox",
        True,
        "*",
    )
    from apps.core.tasks import relay_outbox  # what the worker finds by autodiscovery

    assert relay_outbox.name == beat.task
    assert settings.OUTBOX_RELAY_AFTER_SECONDS < 60  # "a few seconds", below the beat interval
