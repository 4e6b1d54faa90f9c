from django.db.backends.postgresql import base

from apps.core.db_backends import OutboxCommitMixin


class DatabaseWrapper(OutboxCommitMixin, base.DatabaseWrapper):
    pass
