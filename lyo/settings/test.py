"""Tests run against real PostgreSQL and Redis (DATABASE_URL / REDIS_URL override the defaults).

Each pytest-xdist worker gets its own database (pytest-django) and its own Redis database
number, so a worker flushing its cache never touches another's keys.
"""

import os

from .base import *  # noqa: F403
from .base import env

_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_worker_index = int(_worker.removeprefix("gw") or 0)
# Parallel runs on one machine (e.g. two checkouts) can shift to other Redis databases.
_redis_db_offset = int(os.environ.get("LYO_TEST_REDIS_DB_OFFSET", "0"))

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghijklmnop"
SIMPLE_JWT["SIGNING_KEY"] = "test-jwt-signing-key-0123456789abcdefghijklmnop"  # noqa: F405
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/lyo")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# As in production, including the switches for PgBouncer (tests/deploy/test_pgbouncer.py).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DJANGO_DB_PREPARED_STATEMENTS", default=True
):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=0)
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DJANGO_DB_DISABLE_SERVER_SIDE_CURSORS", default=False
)
with_outbox_engine(DATABASES["default"])  # noqa: F405

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
_redis_base = REDIS_URL.rsplit("/", 1)[0]
CACHES = {
    "default": {
        # As in production, with the same degradation when Redis is unreachable.
        "BACKEND": "apps.core.redis_cache.ResilientRedisCache",
        "LOCATION": f"{_redis_base}/{1 + (_redis_db_offset + _worker_index) % 15}",
        "KEY_PREFIX": "lyo-test",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # Generous on a loaded CI machine; the degradation tests use their own, short ones.
            "SOCKET_CONNECT_TIMEOUT": 5,
            "SOCKET_TIMEOUT": 5,
            "COUNTER_PREFIXES": CACHE_COUNTER_PREFIXES,  # noqa: F405
        },
    }
}
CELERY_BROKER_URL = CACHES["default"]["LOCATION"]
CELERY_TASK_ALWAYS_EAGER = True
# Outbox rows are delivered to django.core.mail.outbox unless a test points at its SMTP server.
MAILING_TRANSPORT_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = str(BASE_DIR / ".test-media" / _worker)  # noqa: F405
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
METRICS_TOKEN = "test-metrics-token"
WHITENOISE_USE_FINDERS = True
