"""Domain events: explicit publish/subscribe, delivered only if the publishing transaction commits.

An app announces something that happened (`publish("lesson.completed", user_id=..., ...)`);
other apps react by subscribing in their AppConfig.ready(). Who reacts to what is visible in
one place; this replaces model signals for business logic. Two kinds of subscriber:

- `subscribe(name, handler)`: in-process, run right after the commit (caches, quick reads).
  Lost if the process dies between the commit and the handler, so nothing that must happen.
- `subscribe(name, handler, durable=True)`: whatever must not be lost (XP, notifications,
  leaderboards). The event is written to the outbox in the publishing transaction and the
  handler runs in a Celery worker, at least once per event and in practice once: the worker
  marks the event delivered in the handler's own transaction (apps.core.outbox). Durable
  handlers must still be idempotent (a handler's effects outside the database, or a row
  delivered again after a crash in between): the XP ledger's unique source keys are the model.

Either way a rolled-back write announces nothing, and each handler runs on its own: one failing
in-process handler is logged and does not stop the others.
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
_durable_subscribers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(name: str, handler: Handler, *, durable: bool = False) -> None:
    registry = _durable_subscribers if durable else _subscribers
    if handler not in registry[name]:
        registry[name].append(handler)


def unsubscribe(name: str, handler: Handler) -> None:
    for registry in (_subscribers, _durable_subscribers):
        if handler in registry[name]:
            registry[name].remove(handler)


def publish(name: str, /, **payload: Any) -> DomainEvent:
    """Announce `name` with a JSON-ready payload once the current transaction commits."""
    from . import outbox

    event = DomainEvent(name=name, payload=payload)
    if _durable_subscribers.get(name):
        outbox.track(event)
    if _subscribers.get(name):
        transaction.on_commit(lambda: dispatch(event))
    return event


def dispatch(event: DomainEvent) -> None:
    """Run the in-process subscribers of `event` (after the commit)."""
    for handler in list(_subscribers.get(event.name, ())):
        try:
            handler(event)
        except Exception:
            logger.exception(
                "event_handler_failed",
                extra={"event": event.name, "handler": getattr(handler, "__qualname__", "?")},
            )


def run_durable_handlers(event: DomainEvent) -> None:
    """Run the durable subscribers of `event` (in the worker, inside the delivery transaction).
    Unlike `dispatch`, a failure propagates: the delivery is rolled back and tried again."""
    for handler in list(_durable_subscribers.get(event.name, ())):
        handler(event)
