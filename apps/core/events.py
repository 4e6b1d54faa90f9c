"""Domain events: explicit, in-process publish/subscribe, delivered after the transaction commits.

An app announces something that happened (`publish("lesson.completed", user_id=..., ...)`);
other apps react by subscribing in their AppConfig.ready() (`subscribe("lesson.completed",
handler)`). Handlers run only if the publishing transaction commits — a rolled-back write
announces nothing — and each runs on its own: one failing handler is logged and does not stop
the others. Handlers should be quick; real work belongs in a Celery task they enqueue.
This replaces model signals for business logic: who reacts to what is visible in one place.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger("lyo.events")


@dataclass(frozen=True)
class DomainEvent:
    name: str
    payload: dict[str, Any]
    occurred_at: datetime = field(default_factory=timezone.now)


Handler = Callable[[DomainEvent], None]
_subscribers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(name: str, handler: Handler) -> None:
    if handler not in _subscribers[name]:
        _subscribers[name].append(handler)


def unsubscribe(name: str, handler: Handler) -> None:
    if handler in _subscribers[name]:
        _subscribers[name].remove(handler)


def publish(name: str, /, **payload: Any) -> DomainEvent:
    """Announce `name` with a JSON-ready payload once the current transaction commits."""
    event = DomainEvent(name=name, payload=payload)
    transaction.on_commit(lambda: dispatch(event))
    return event


def dispatch(event: DomainEvent) -> None:
    for handler in list(_subscribers.get(event.name, ())):
        try:
            handler(event)
        except Exception:
            logger.exception(
                "event_handler_failed",
                extra={"event": event.name, "handler": getattr(handler, "__qualname__", "?")},
            )
