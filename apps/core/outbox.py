"""The transactional outbox: domain events with durable subscribers survive a broker outage.

Path of an event that has durable subscribers (`events.subscribe(name, handler, durable=True)`):

1. `events.publish` keeps it pending in the current transaction (an on-commit callback, so a
   rolled-back savepoint or transaction drops it exactly as Django drops its callbacks).
2. Just before COMMIT, Lyo's database engine (apps.core.db_backends) writes every pending event
   of the transaction with ONE multi-row INSERT: the events commit with the change or not at all.
3. After COMMIT, one Celery message carries the new rows' ids (`deliver_outbox_events`),
   published with no retry (NO_RETRY): a dead broker costs the request one refused
   connection, not a retry loop, and the rows wait for the sweeper.
4. The worker locks each row (SKIP LOCKED), runs the durable handlers and marks the row
   delivered in the same transaction: an event handed off twice is handled once.
5. The sweeper (`relay_outbox`, every minute from celery-beat; `manage.py relay_outbox` by
   hand) re-sends rows still undelivered after OUTBOX_RELAY_AFTER_SECONDS, and prunes rows
   delivered more than OUTBOX_RETENTION_HOURS ago.

Where the pre-commit INSERT cannot happen (no transaction: autocommit; or a database engine
without the hook), the after-commit callback writes the row itself before handing it off: not
atomic with the change, but still durable across a broker outage.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu import pools

from .models import OutboxEvent

logger = logging.getLogger("lyo.outbox")

LAST_ERROR_MAX_CHARS = 2000


class _Batch:
    """The outbox rows one transaction wrote; handed to the broker once, in one message."""

    def __init__(self, ids: list[int]):
        self.ids = ids
        self.relayed = False

    def relay_once(self) -> None:
        if not self.relayed:
            self.relayed = True
            relay(self.ids)


class PendingEvent:
    """The on-commit callback of one published event that has durable subscribers."""

    def __init__(self, event):
        self.event = event
        self.batch: _Batch | None = None

    def row(self) -> OutboxEvent:
        return OutboxEvent(
            name=self.event.name, payload=self.event.payload, occurred_at=self.event.occurred_at
        )

    def __call__(self) -> None:
        if self.batch is None:  # not written before the commit (see the module docstring)
            row = self.row()
            row.save()
            self.batch = _Batch([row.pk])
        self.batch.relay_once()


def track(event) -> None:
    """Keep `event` pending in the current transaction (called by events.publish)."""
    transaction.on_commit(PendingEvent(event), robust=True)


def flush_pending(connection) -> int:
    """Write the transaction's pending events, one multi-row INSERT (called just before COMMIT
    by apps.core.db_backends). Returns how many rows were written.

    The pending events are read from the connection's on-commit callbacks (`run_on_commit`,
    where Django already dropped those of rolled-back savepoints), so the outbox keeps no
    bookkeeping of its own that could disagree with Django's."""
    pending = [
        callback
        for _, callback, _ in connection.run_on_commit
        if isinstance(callback, PendingEvent) and callback.batch is None
    ]
    if not pending:
        return 0
    rows = OutboxEvent.objects.using(connection.alias).bulk_create([p.row() for p in pending])
    batch = _Batch([row.pk for row in rows])
    for callback in pending:
        callback.batch = batch
    return len(rows)


# In the request, after the commit: one connection attempt, no retry loop, and short socket
# timeouts on a connection pool of its own (kombu's Redis transport waits forever by default).
# Measured with a broker that refuses connections: ~2 ms to give up this way, ~600 ms with
# Celery's default publish retries, ~6 s with retry=False (kombu then opens the channel under
# its own connection retries); with a frozen broker (accepts, never answers): ~0.5 s, instead
# of hanging the request for good.
NO_RETRY = {"max_retries": 0}
REQUEST_TRANSPORT_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def relay(ids: list[int], *, patient: bool = False) -> bool:
    """Hand outbox rows to the broker in one message. Never raises: False when the broker
    refused (the rows stay pending for the sweeper). `patient`: Celery's default publish
    retries and connection, for the sweeper (not in a request)."""
    from .tasks import deliver_outbox_events

    return hand_off(deliver_outbox_events, ids, patient=patient)


def hand_off(task, *args, patient: bool = False) -> bool:
    """Send `task(*args)` to the broker the way a request may (see REQUEST_TRANSPORT_OPTIONS):
    never raises, False when the broker is down or frozen. The caller's own outbox row is what
    makes the work durable; its sweeper sends again what was not handed off."""
    try:
        if patient:
            task.apply_async(args=list(args))
        else:
            with _request_producer(task.app) as producer:
                task.apply_async(
                    args=list(args), producer=producer, retry=True, retry_policy=NO_RETRY
                )
    # Any broker or transport failure: the rows are safe and the sweeper resends them.
    except Exception as exc:  # noqa: BLE001
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("outbox_relay_failed: %s", error, extra={"task": task.name, "error": error})
        return False
    return True


def _request_producer(app):
    options = {**app.conf.broker_transport_options, **REQUEST_TRANSPORT_OPTIONS}
    connection = app.connection_for_write(transport_options=options)
    # One pool per broker URL and options (kombu keys its pools by both), kept for reuse.
    return pools.producers[connection].acquire(block=True)


def deliver(ids: list[int]) -> int:
    """Run the durable handlers of these outbox rows, each row in its own transaction with its
    `delivered_at` mark (worker side). A row already delivered, or pruned, is skipped; a row
    another worker is delivering is waited for, then skipped. A failing handler rolls its
    row's transaction back and leaves it pending for the sweeper. A database session ended
    under the worker (a failover, `pg_terminate_backend`) is reconnected and the row tried once
    more, so the award does not wait for the sweeper's resend. Returns rows delivered."""
    delivered = 0
    for outbox_id in ids:
        for attempt in (1, 2):
            try:
                delivered += _deliver_one(outbox_id)
            except (OperationalError, InterfaceError) as exc:
                if attempt == 1 and not connection.in_atomic_block:
                    logger.warning("outbox_delivery_reconnects", extra={"outbox_id": outbox_id})
                    connection.close()
                    continue
                _record_failure(outbox_id, exc)
            # A handler failed: record it; the sweeper resends the row.
            except Exception as exc:  # noqa: BLE001
                _record_failure(outbox_id, exc)
            break
    return delivered


def _deliver_one(outbox_id: int) -> int:
    from . import events

    with transaction.atomic():
        row = (
            OutboxEvent.objects.select_for_update()
            .filter(pk=outbox_id, delivered_at__isnull=True)
            .first()
        )
        if row is None:
            return 0
        events.run_durable_handlers(
            events.DomainEvent(name=row.name, payload=row.payload, occurred_at=row.occurred_at)
        )
        OutboxEvent.objects.filter(pk=row.pk).update(delivered_at=timezone.now())
    return 1


def _record_failure(outbox_id: int, exc: Exception) -> None:
    logger.error("outbox_delivery_failed", exc_info=exc, extra={"outbox_id": outbox_id})
    try:
        OutboxEvent.objects.filter(pk=outbox_id).update(
            failures=F("failures") + 1,
            last_error=f"{type(exc).__name__}: {exc}"[:LAST_ERROR_MAX_CHARS],
        )
    # The database itself may be what failed: the row stays pending, uncounted, for the sweeper.
    except Exception:
        logger.exception("outbox_failure_not_recorded", extra={"outbox_id": outbox_id})


def pending_due(*, now=None, everything: bool = False):
    """Undelivered rows the sweeper should hand off again: never relayed by it and older than
    OUTBOX_RELAY_AFTER_SECONDS (the request's own hand-off failed or was lost), or relayed
    longer than OUTBOX_RESEND_AFTER_SECONDS ago (`everything`: all undelivered rows). Rows
    that failed OUTBOX_MAX_FAILURES times wait for a person (`manage.py reconcile`)."""
    now = now or timezone.now()
    pending = OutboxEvent.objects.filter(
        delivered_at__isnull=True, failures__lt=settings.OUTBOX_MAX_FAILURES
    )
    if not everything:
        first_due = now - timedelta(seconds=settings.OUTBOX_RELAY_AFTER_SECONDS)
        again_due = now - timedelta(seconds=settings.OUTBOX_RESEND_AFTER_SECONDS)
        due = Q(relayed_at__isnull=True, occurred_at__lt=first_due) | Q(relayed_at__lt=again_due)
        pending = pending.filter(due)
    return pending.order_by(Coalesce("relayed_at", "occurred_at"), "id")


def relay_pending(*, batch_size: int = 500, now=None, everything: bool = False) -> int:
    """The sweeper: hand off due rows (locked with SKIP LOCKED, so concurrent sweepers and a
    worker delivering a row never collide), mark them relayed, prune old delivered rows.
    `everything`: every undelivered row, due or not (after an outage, by hand). Returns how
    many rows were handed off; raises nothing when the broker is down (0)."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            pending_due(now=now, everything=everything)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:batch_size]
        )
        # Published while the rows are locked: a worker that gets the message first waits for
        # this commit (deliver locks the row), then finds it pending and delivers it.
        if ids and relay(ids, patient=True):
            OutboxEvent.objects.filter(pk__in=ids).update(
                relayed_at=now, relay_count=F("relay_count") + 1
            )
        else:
            ids = []
    outbox_prune(now=now)
    if ids:
        logger.info("outbox_relayed", extra={"count": len(ids)})
    return len(ids)


def relay_undelivered(name: str, *, limit: int = 100) -> int:
    """Hand off now the undelivered events called `name` (a recovery hook: what waited for a
    dependency to come back need not wait for the sweeper). Never raises for the broker."""
    ids = list(
        OutboxEvent.objects.filter(
            name=name, delivered_at__isnull=True, failures__lt=settings.OUTBOX_MAX_FAILURES
        )
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    if ids and relay(ids):
        return len(ids)
    return 0


def outbox_prune(*, now=None, batch_size: int = 5000) -> int:
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.OUTBOX_RETENTION_HOURS)
    old = OutboxEvent.objects.filter(delivered_at__lt=cutoff).values_list("pk", flat=True)
    deleted, _ = OutboxEvent.objects.filter(pk__in=list(old[:batch_size])).delete()
    return deleted


STUCK_AFTER = timedelta(hours=1)


def stuck_check(*, repair: bool) -> list:
    """Reconciliation (`core.outbox`): events undelivered for an hour or given up on after
    OUTBOX_MAX_FAILURES. Repair clears their failures and relays them now."""
    from .reconcile import Drift

    now = timezone.now()
    stuck = OutboxEvent.objects.filter(delivered_at__isnull=True).filter(
        Q(failures__gte=settings.OUTBOX_MAX_FAILURES) | Q(occurred_at__lt=now - STUCK_AFTER)
    )
    rows = list(stuck.order_by("id").values_list("pk", "name", "failures", "last_error"))
    drifts = [
        Drift("core.outbox", f"event {pk} ({name})", "delivered", f"pending, {failures} failures")
        for pk, name, failures, _ in rows
    ]
    if repair and rows:
        OutboxEvent.objects.filter(pk__in=[row[0] for row in rows]).update(
            failures=0, relayed_at=None, last_error=""
        )
        relay_pending(everything=True, now=now)
    return drifts
