import pytest
from django.db import transaction

from apps.core import events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def received():
    seen: list[events.DomainEvent] = []
    events.subscribe("test.happened", seen.append)
    yield seen
    events.unsubscribe("test.happened", seen.append)


def test_subscribers_hear_an_event_only_after_commit(received):
    with transaction.atomic():
        events.publish("test.happened", thing_id=7)
        assert received == []
    assert [(e.name, e.payload) for e in received] == [("test.happened", {"thing_id": 7})]


def test_nothing_is_announced_when_the_transaction_rolls_back(received):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish("test.happened", thing_id=8)
        raise RuntimeError("the write failed")
    assert received == []


def test_a_failing_handler_does_not_stop_the_others(received, caplog):
    def broken(event):
        raise ValueError("boom")

    events.subscribe("test.happened", broken)
    try:
        with transaction.atomic():
            events.publish("test.happened", thing_id=9)
    finally:
        events.unsubscribe("test.happened", broken)
    assert [e.payload["thing_id"] for e in received] == [9]
    assert any(r.getMessage() == "event_handler_failed" for r in caplog.records)
