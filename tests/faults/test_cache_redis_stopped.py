"""Fault: the cache's Redis is stopped (the port refuses connections), then started again
empty. The cache, sessions, throttles and leaderboards live there; the broker does not."""

import time
from collections.abc import Iterator

import pytest

from tests.faults import harness
from tests.faults.harness import Expected, FaultStack


@pytest.fixture
def cache_down(stack: FaultStack) -> Iterator[float]:
    """The cache's Redis stopped; yields when (time.monotonic()); started again afterwards."""
    stack.cache.stop()
    try:
        yield time.monotonic()
    finally:
        stack.cache.start()


def test_api_answers_without_5xx_while_the_cache_is_down(stack: FaultStack, cache_down):
    (learner,) = stack.learners(1)
    answers = harness.api_round(stack, learner, Expected(), timeout=15)
    assert harness.server_errors(answers) == [], "\n".join(map(str, answers))
    # The writes were real: accepted and stored, not only answered.
    assert all(a.ok for a in answers if a.what.startswith("POST")), "\n".join(map(str, answers))


def test_health_reports_the_cache_down_within_2_seconds(stack: FaultStack, cache_down):
    answer = harness.health_reports(stack, "cache", since=cache_down)
    assert answer.status == 503, answer
    assert answer.body["checks"]["cache"]["status"] != "ok", answer.body
    assert answer.seconds <= harness.HEALTH_REPORT_SECONDS, answer
    # Only the cache is named: the database and the broker still answer.
    assert answer.body["checks"]["database"]["status"] == "ok", answer.body
    assert answer.body["checks"]["broker"]["status"] == "ok", answer.body


def test_health_is_ready_again_once_the_cache_is_back(stack: FaultStack):
    stack.cache.stop()
    assert stack.health(timeout=15).status == 503
    stack.cache.start()
    answer = harness.health_recovers(stack)
    assert answer.status == 200, answer


def test_writes_during_the_outage_have_their_side_effects_once_it_is_over(stack: FaultStack):
    learners = stack.learners(2)
    expected = Expected()
    stack.cache.stop()
    try:
        writes = []
        for learner in learners:
            writes += harness.complete_course(stack, learner, expected)
            writes.append(harness.create_post(stack, learner, "During the outage", expected))
            writes.append(harness.like_seed_post(stack, learner, expected))
        stack.wait_idle()
    finally:
        stack.cache.start()
    assert all(w.ok for w in writes), "\n".join(map(str, writes))
    harness.health_recovers(stack)
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected))
    assert problems == [], "\n".join(problems)
