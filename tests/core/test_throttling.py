"""The sliding-window throttles, against this worker's real Redis database."""

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from apps.core.throttling import UserRateThrottle
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MINUTE = 60.0
START = 1_800_000_000.0  # a window boundary (divisible by 60)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def checker(user, clock: Clock, rate: str = "3/min"):
    request = Request(RequestFactory().get("/"))
    request.user = user

    def check() -> tuple[bool, float | None]:
        throttle = UserRateThrottle()
        throttle.rate = rate
        throttle.num_requests, throttle.duration = throttle.parse_rate(rate)
        throttle.timer = clock
        allowed = throttle.allow_request(request, None)
        return allowed, None if allowed else throttle.wait()

    return check


def test_the_rate_holds_within_a_window_and_refusals_say_when_to_come_back():
    clock = Clock(START + 10)
    check = checker(UserFactory(), clock)
    assert [check()[0] for _ in range(3)] == [True, True, True]
    allowed, wait = check()
    assert not allowed
    # Nothing from the previous window: the next window starts in 50 s, and this one's three
    # requests still weigh 3 * (1 - elapsed/60) there, so a request fits once that is <= 2.
    assert wait == 50 + 20


def test_no_burst_of_twice_the_rate_across_a_window_boundary():
    clock = Clock(START + 59)
    check = checker(UserFactory(), clock)
    assert all(check()[0] for _ in range(3))
    clock.now = START + 61  # a new fixed window, but the last minute already had three
    assert check()[0] is False
    clock.now = START + 60 + 20  # two thirds of the old window have slid out: room for one
    assert check()[0] is True
    assert check()[0] is False


def test_refused_requests_do_not_count_against_the_client():
    clock = Clock(START + 1)
    check = checker(UserFactory(), clock)
    assert all(check()[0] for _ in range(3))
    for _ in range(20):
        assert check()[0] is False
    clock.now = START + 2 * MINUTE + 1  # two windows later: only the three allowed ones existed
    assert all(check()[0] for _ in range(3))


def test_each_client_has_its_own_budget():
    clock = Clock(START + 5)
    first, second = checker(UserFactory(), clock), checker(UserFactory(), clock)
    assert all(first()[0] for _ in range(3))
    assert first()[0] is False
    assert second()[0] is True
