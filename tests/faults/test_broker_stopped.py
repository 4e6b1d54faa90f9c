"""Fault: the Celery broker (its own Redis) is stopped while people write, then started again
empty. Writes commit and answer; what they must cause beyond their own rows (XP, achievements
and their notifications, verification emails) leaves through the broker, so it must wait for
it (an outbox written in the write's transaction) and arrive exactly once when it is back."""

import time
from collections.abc import Iterator

import pytest

from tests.faults import harness
from tests.faults.harness import Expected, FaultStack

STACK_LEARNERS = 6
# The outbox sweeper relays events the requests could not hand off once they are this old (10 s
# by default, beat runs it every minute): here it is run right after the broker is back.
STACK_ENV = {"LYO_OUTBOX_RELAY_AFTER_SECONDS": "1"}


@pytest.fixture
def broker_down(stack: FaultStack) -> Iterator[float]:
    """The broker stopped (after the worker ran everything queued, so no queued task is lost
    with it); yields when (time.monotonic()); started again afterwards, empty."""
    stack.wait_idle()
    stack.broker.stop()
    try:
        yield time.monotonic()
    finally:
        if stack.broker.process is None:
            stack.broker.start()


def writes_of(stack: FaultStack, learners, expected: Expected, tag: str) -> list:
    """Each learner completes the course (XP, achievements and their notifications), posts
    (XP) and likes the instructor's post (a notification, a counter)."""
    answers = []
    for number, learner in enumerate(learners):
        answers += harness.complete_course(stack, learner, expected)
        answers.append(harness.create_post(stack, learner, f"Broker {tag} {number}", expected))
        answers.append(harness.like_seed_post(stack, learner, expected))
    return answers


def sign_ups(stack: FaultStack, expected: Expected, tag: str, count: int = 2) -> list:
    """New accounts: each must get its verification email once."""
    return [
        harness.register(stack, f"new-{tag}-{number}@faults.example.com", expected)
        for number in range(count)
    ]


def recover(stack: FaultStack) -> list[str]:
    """Start the broker again and let the system catch up: the worker reconnects by itself,
    the outbox sweeper runs as beat would (twice: the second relays nothing again). Returns
    what kept the recovery from being complete."""
    stack.broker.start()
    assert harness.health_recovers(stack).status == 200
    swept = harness.run_outbox_sweeper(stack)
    swept = harness.run_outbox_sweeper(stack) and swept
    stack.wait_idle()
    if swept:
        return []
    return [
        "no outbox sweeper declared in settings.PERIODIC_TASKS (a name containing "
        f"{harness.OUTBOX_SWEEPER_NAME!r}): nothing relays what the outage kept back"
    ]


def test_writes_answer_2xx_while_the_broker_is_down(stack: FaultStack, broker_down):
    expected = Expected()
    answers = writes_of(stack, stack.learners(1), expected, "answers")
    answers += sign_ups(stack, expected, "answers")
    report = "\n".join(map(str, answers))
    assert all(a.ok for a in answers), report
    slow = [str(a) for a in answers if a.seconds > harness.DEGRADED_LATENCY_SECONDS]
    assert slow == [], report


def test_health_reports_the_broker_down_within_2_seconds(stack: FaultStack, broker_down):
    answer = harness.health_reports(stack, "broker", since=broker_down)
    assert answer.status == 503, answer
    assert answer.body["checks"]["broker"]["status"] != "ok", answer.body
    assert answer.seconds <= harness.HEALTH_REPORT_SECONDS, answer
    assert answer.body["checks"]["cache"]["status"] == "ok", answer.body


def test_side_effects_of_writes_during_the_outage_arrive_exactly_once_after_it(
    stack: FaultStack, broker_down
):
    expected = Expected()
    writes = writes_of(stack, stack.learners(2), expected, "outage")
    assert all(w.ok for w in writes), "\n".join(map(str, writes))
    not_recovered = recover(stack)
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected), timeout=20)
    assert problems + not_recovered == [], "\n".join(problems + not_recovered)


def test_sign_ups_during_the_outage_get_their_email_exactly_once_after_it(
    stack: FaultStack, broker_down
):
    expected = Expected()
    answers = sign_ups(stack, expected, "outage")
    assert all(a.ok for a in answers), "\n".join(map(str, answers))
    not_recovered = recover(stack)
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected), timeout=20)
    assert problems + not_recovered == [], "\n".join(problems + not_recovered)


def test_writes_after_the_broker_is_back_have_their_side_effects(stack: FaultStack):
    stack.broker.stop()
    stack.broker.start()
    expected = Expected()
    writes = writes_of(stack, stack.learners(1), expected, "after")
    writes += sign_ups(stack, expected, "after")
    assert all(w.ok for w in writes), "\n".join(map(str, writes))
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected), timeout=30)
    assert problems == [], "\n".join(problems)
