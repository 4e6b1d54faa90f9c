import pytest
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import UserFactory, client_for


@pytest.fixture
def moderator(db):
    return UserFactory(roles=["moderator"], display_name="Mo")


@pytest.fixture
def moderator_client(moderator):
    return client_for(moderator)


@pytest.fixture
def throttle_rate(monkeypatch):
    """Lower one write scope's per-user rate for a test: throttle_rate("likes", "2/min")."""

    def set_rate(scope: str, rate: str) -> None:
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    return set_rate


def assert_error(response, status: int, code: str) -> dict:
    """The contract's error shape, with the expected status and code."""
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code
    assert error["message"]
    return error
