"""Celery tasks of core: the outbox's delivery and its sweeper (apps.core.outbox)."""

from celery import shared_task

from . import outbox


@shared_task(acks_late=True)
def deliver_outbox_events(ids: list[int]) -> int:
    """Run the durable handlers of these outbox rows; a redelivered message handles nothing
    twice (each row is marked delivered with its handlers' writes)."""
    return outbox.deliver(ids)


@shared_task(acks_late=True)
def relay_outbox() -> int:
    """Every minute (settings.PERIODIC_TASKS): hand off what the requests could not."""
    return outbox.relay_pending()
