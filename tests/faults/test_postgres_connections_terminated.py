"""Fault: PostgreSQL ends the app's sessions (pg_terminate_backend, as a failover or an admin
does), and then refuses the app's database for a while. Persistent connections
(CONN_MAX_AGE) are checked before reuse (CONN_HEALTH_CHECKS), so the next request reconnects
instead of failing on a dead socket; while the database refuses, health says so at once."""

import time
from collections.abc import Iterator

import pytest
from psycopg import sql

from tests.faults import harness
from tests.faults.harness import Expected, FaultStack

# A task whose database session was ended under it fails; what it was delivering stays in the
# event outbox for the sweeper (beat, every minute), which relays rows older than this (10 s by
# default). The tests run the sweeper as beat would, right after the fault.
RELAY_AFTER_SECONDS = 1
STACK_ENV = {"LYO_OUTBOX_RELAY_AFTER_SECONDS": str(RELAY_AFTER_SECONDS)}


def _warm_every_web_worker(stack: FaultStack) -> None:
    """Enough requests that both gunicorn workers (and the Celery worker) hold a connection."""
    for _ in range(6):
        assert stack.call("GET /courses/", "GET", "/api/v1/courses/").ok


def test_requests_right_after_sessions_are_terminated_succeed(stack: FaultStack):
    (learner,) = stack.learners(1)
    _warm_every_web_worker(stack)
    # At least one persistent session ended under a web worker (which of the two gunicorn
    # workers took the warm-up requests is the kernel's choice, so not necessarily both).
    assert harness.terminate_app_connections(stack) >= 1
    expected = Expected()
    answers = harness.api_round(stack, learner, expected, timeout=10)
    assert all(a.ok for a in answers), "\n".join(map(str, answers))
    # The Celery worker's connection was ended too: its next tasks reconnect.
    stack.wait_idle()
    time.sleep(RELAY_AFTER_SECONDS + 0.2)  # every event of these writes is due for the sweeper
    harness.run_outbox_sweeper(stack)
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected))
    assert problems == [], "\n".join(problems)


def test_sessions_terminated_while_tasks_run_lose_no_award(stack: FaultStack):
    learners = stack.learners(2)
    expected = Expected()
    writes = []
    for learner in learners:
        writes += harness.complete_course(stack, learner, expected)
        harness.terminate_app_connections(stack)
    assert all(w.ok for w in writes), "\n".join(map(str, writes))
    stack.wait_idle()
    time.sleep(RELAY_AFTER_SECONDS + 0.2)  # every event of these writes is due for the sweeper
    harness.run_outbox_sweeper(stack)
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected))
    assert problems == [], "\n".join(problems)


@pytest.fixture
def database_refused(stack: FaultStack) -> Iterator[float]:
    """The app's database refuses new sessions and its sessions are ended; yields when
    (time.monotonic()); accepted again afterwards."""

    def allow(allowed: bool) -> None:
        with stack.pg.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                    sql.Identifier(stack.database), sql.Literal(allowed)
                )
            )

    _warm_every_web_worker(stack)
    allow(False)
    try:
        harness.terminate_app_connections(stack)
        yield time.monotonic()
    finally:
        allow(True)


def test_health_reports_the_database_down_within_2_seconds(stack: FaultStack, database_refused):
    answer = harness.health_reports(stack, "database", since=database_refused)
    assert answer.status == 503, answer
    assert answer.body["checks"]["database"]["status"] != "ok", answer.body
    assert answer.seconds <= harness.HEALTH_REPORT_SECONDS, answer
    assert stack.call("GET /health/live/", "GET", "/health/live/").status == 200


def test_api_answers_in_the_error_shape_while_the_database_is_down(
    stack: FaultStack, database_refused
):
    answers = [
        stack.call("GET /courses/", "GET", "/api/v1/courses/", timeout=10),
        stack.call("GET /me/", "GET", "/api/v1/me/", headers=stack.learners(1)[0].auth, timeout=10),
    ]
    for answer in answers:
        assert answer.status is not None and answer.seconds < harness.DEGRADED_LATENCY_SECONDS
        if answer.status >= 500:  # no traceback, the contract's envelope
            assert isinstance(answer.body, dict) and "code" in answer.body["error"], answer


def test_everything_answers_again_once_the_database_accepts_sessions(stack: FaultStack):
    # (after database_refused of the tests above, or on its own)
    (learner,) = stack.learners(1)
    assert harness.health_recovers(stack).status == 200
    expected = Expected()
    answers = harness.api_round(stack, learner, expected, timeout=10)
    assert all(a.ok for a in answers), "\n".join(map(str, answers))
    stack.wait_idle()
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected))
    assert problems == [], "\n".join(problems)
