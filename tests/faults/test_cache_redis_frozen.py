"""Fault: the cache's Redis is frozen (SIGSTOP): connections are accepted by the kernel but
never answered, as a hung server. Every call to it must give up quickly (timeouts per
dependency) and the API answer, degraded, within seconds instead of hanging until gunicorn
kills the worker (30 s)."""

import time
from collections.abc import Iterator

import pytest

from tests.faults import harness
from tests.faults.harness import Expected, FaultStack


@pytest.fixture
def cache_frozen(stack: FaultStack) -> Iterator[float]:
    """The cache's Redis frozen; yields when (time.monotonic()); thawed afterwards."""
    stack.cache.freeze()
    try:
        yield time.monotonic()
    finally:
        stack.cache.thaw()


def test_api_answers_without_5xx_within_seconds_while_the_cache_hangs(
    stack: FaultStack, cache_frozen
):
    (learner,) = stack.learners(1)
    answers = harness.api_round(
        stack, learner, Expected(), timeout=harness.DEGRADED_LATENCY_SECONDS
    )
    report = "\n".join(map(str, answers))
    assert harness.server_errors(answers) == [], report
    slow = [str(a) for a in answers if a.seconds > harness.DEGRADED_LATENCY_SECONDS]
    assert slow == [], report
    assert all(a.ok for a in answers if a.what.startswith("POST")), report


def test_health_reports_the_hung_cache_within_2_seconds(stack: FaultStack, cache_frozen):
    answer = harness.health_reports(stack, "cache", since=cache_frozen)
    assert answer.status == 503, answer
    assert answer.body["checks"]["cache"]["status"] != "ok", answer.body
    assert answer.seconds <= harness.HEALTH_REPORT_SECONDS, answer
    assert answer.body["checks"]["database"]["status"] == "ok", answer.body


def test_everything_answers_again_once_the_cache_is_thawed(stack: FaultStack):
    stack.cache.freeze()
    try:
        time.sleep(0.5)
    finally:
        stack.cache.thaw()
    answer = harness.health_recovers(stack)
    assert answer.status == 200, answer
    (learner,) = stack.learners(1)
    expected = Expected()
    answers = harness.api_round(stack, learner, expected, timeout=10)
    assert all(a.ok for a in answers), "\n".join(map(str, answers))
    stack.wait_idle()
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected))
    assert problems == [], "\n".join(problems)
