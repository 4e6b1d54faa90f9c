"""Core's one table: the outbox of domain events that leave the process (apps.core.outbox)."""

from django.db import models
from django.db.models import Q


class OutboxEvent(models.Model):
    """A domain event with durable subscribers, written in the transaction that made it happen.

    `relayed_at` is the last time the sweeper handed it to the broker (the request's own
    hand-off after commit writes nothing, to keep the write path one INSERT); `delivered_at` is
    set by the worker in the same transaction as the handlers' writes, so an event handed off
    twice is handled once. Rows delivered long ago are pruned by the sweeper.
    """

    name = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    relayed_at = models.DateTimeField(null=True, blank=True)
    relay_count = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The sweeper's question: what is not delivered yet, oldest first.
            models.Index(
                fields=["occurred_at"],
                condition=Q(delivered_at__isnull=True),
                name="core_outbox_pending",
            ),
            models.Index(
                fields=["delivered_at"],
                condition=Q(delivered_at__isnull=False),
                name="core_outbox_delivered",
            ),
        ]

    def __str__(self) -> str:
        state = "delivered" if self.delivered_at else "pending"
        return f"{self.name} #{self.pk} ({state})"
