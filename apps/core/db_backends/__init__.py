"""Lyo's database engines: Django's own, plus the outbox's pre-commit write.

Django has no "before commit" hook, and the outbox must write the events a transaction
published inside that transaction, in one INSERT (apps.core.outbox). Every COMMIT of an
atomic block (ATOMIC_REQUESTS, services, tasks) goes through DatabaseWrapper.commit(), so the
engines below write the pending events there, then commit. Settings pick the engine with
`lyo_engine()` (lyo/settings/base.py).
"""


class OutboxCommitMixin:
    def commit(self):
        from apps.core.outbox import flush_pending

        if self.connection is not None and not self.get_autocommit():
            # In the transaction, after the last statement of the atomic block: a failure
            # here fails the commit and the block rolls back, events and change together.
            flush_pending(self)
        super().commit()
