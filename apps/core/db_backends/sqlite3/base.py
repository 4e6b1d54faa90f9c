from django.db.backends.sqlite3 import base

from apps.core.db_backends import OutboxCommitMixin


class DatabaseWrapper(OutboxCommitMixin, base.DatabaseWrapper):
    pass
