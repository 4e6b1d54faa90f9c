"""Production: everything from the environment; secrets have no default and boot fails without."""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CACHE_COUNTER_PREFIXES, CELERY_BROKER_TRANSPORT_OPTIONS, SIMPLE_JWT, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
# Previous secret keys, still accepted for what they signed (sessions, reset and confirmation
# links) while a rotation settles; docs/operations.md, "Secrets".
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name at least one host")
# Tokens are signed with their own key so rotating one secret does not invalidate the other.
SIMPLE_JWT["SIGNING_KEY"] = env("LYO_JWT_SIGNING_KEY")

# --- Database: PostgreSQL, persistent connections checked before reuse ------------------------
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL down: a request answers 503 (service_unavailable) after at most this many seconds
# instead of hanging (apps.core.middleware.DatabaseUnavailableMiddleware).
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
    "LYO_DB_CONNECT_TIMEOUT", default=3
)
# psycopg prepares what the few server-side-binding cursors run repeatedly (the feed's page
# statement, apps.social.selectors); Django's own cursors never prepare. Set to false behind a
# pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
_postgresql = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if _postgresql and env.bool("DJANGO_DB_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
# Behind PgBouncer in transaction pooling mode a server-side cursor (QuerySet.iterator()) would
# outlive the transaction its server connection belongs to: fetch results client-side instead.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DJANGO_DB_DISABLE_SERVER_SIDE_CURSORS", default=False
)
with_outbox_engine(DATABASES["default"])  # noqa: F405

# --- Redis: cache, sessions (cached_db), throttling and the Celery broker ---------------------
REDIS_URL = env("REDIS_URL")
# A frozen Redis (accepts connections, never answers) may cost a call this long, once per
# process per RETRY_SECONDS: then the circuit breaker answers without the network
# (apps.core.redis_cache, README "Redis, PostgreSQL and the web processes").
REDIS_SOCKET_TIMEOUT = env.float("LYO_REDIS_SOCKET_TIMEOUT", default=0.25)
CACHES = {
    "default": {
        "BACKEND": "apps.core.redis_cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "lyo",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "COUNTER_PREFIXES": CACHE_COUNTER_PREFIXES,
            "RETRY_SECONDS": env.float("LYO_REDIS_RETRY_SECONDS", default=5),
        },
    }
}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu waits on a frozen Redis forever by default, holding the request that publishes for
    # gunicorn's 30 s: bounded connect and read (the read above the 1 s BRPOP workers wait on),
    # one publish retry (for a connection dropped by a restart), so at most ~6 s. Publishing off
    # the request path is the event outbox's part (README, "Side effects: the event outbox").
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "socket_connect_timeout": 1,
        "socket_timeout": 2,
    }
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_ALWAYS_EAGER = False
# RabbitMQ instead (CELERY_BROKER_URL=amqp://...): replicated quorum queues, and every publish
# waits for the broker's confirm, so a task enqueued after commit is on disk on a quorum of
# nodes or the publish fails. acks_late (base.py) means a worker that dies mid-task leaves the
# message unacknowledged, and RabbitMQ hands it to another worker as soon as the connection
# drops (Redis waits for visibility_timeout instead).
if CELERY_BROKER_URL.split("://", 1)[0] in {"amqp", "amqps", "pyamqp"}:
    CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
    # Countdowns and retry backoff use RabbitMQ's native delayed delivery with quorum queues,
    # which routes through topic exchanges.
    CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}

# --- Read replicas (apps.core.db_router): safe requests read there, read-your-writes kept -------
# DATABASE_REPLICA_URLS: comma-separated database URLs of streaming replicas of DATABASE_URL.
DATABASE_REPLICA_URLS = env.list("DATABASE_REPLICA_URLS", default=[])
# A user reads from the primary for this long after a request of theirs wrote.
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=5)
# A replica that did not answer is not tried again for this long (per process).
DATABASE_REPLICA_RETRY_SECONDS = env.int("DATABASE_REPLICA_RETRY_SECONDS", default=10)
# Pins live in Redis like the cache, but a failed lookup must raise (and read the primary)
# instead of looking like "not pinned" as IGNORE_EXCEPTIONS would make it.
DATABASE_REPLICA_PIN_CACHE = "replica_pins"
DATABASE_REPLICA_PIN_REDIS_URL = env("DATABASE_REPLICA_PIN_REDIS_URL", default=REDIS_URL)
for _index, _url in enumerate(DATABASE_REPLICA_URLS):
    _replica = env.db_url_config(_url)
    _replica.update(
        ATOMIC_REQUESTS=False,
        CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"],
        CONN_HEALTH_CHECKS=True,
        DISABLE_SERVER_SIDE_CURSORS=DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"],
        OPTIONS={**DATABASES["default"].get("OPTIONS", {}), **_replica.get("OPTIONS", {})},
    )
    _replica["OPTIONS"].setdefault("connect_timeout", 2)
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_index}"] = _replica
if DATABASE_REPLICA_URLS:
    CACHES[DATABASE_REPLICA_PIN_CACHE] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": DATABASE_REPLICA_PIN_REDIS_URL,
        "KEY_PREFIX": "lyo",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
        },
    }
    DATABASE_ROUTERS = ["apps.core.db_router.ReplicaRouter"]
    MIDDLEWARE = list(MIDDLEWARE)  # noqa: F405
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "apps.core.db_router.ReplicaRoutingMiddleware",
    )

# --- Security ---------------------------------------------------------------------------------
# nginx on the same host by default; docker/compose.production.yml names its nginx's address.
TRUSTED_PROXIES = env.list("LYO_TRUSTED_PROXIES", default=["127.0.0.1/32", "::1/128"])
for _proxy in TRUSTED_PROXIES:
    ipaddress.ip_network(_proxy)  # a typo fails the boot (strict, like gunicorn), not a request
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = False
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health checks and the Prometheus scrape arrive over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Secure-sessionid"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_NAME = "__Secure-csrftoken"
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

# --- Storage: private S3 bucket for media, hashed compressed static files ---------------------
AWS_STORAGE_BUCKET_NAME = env("DJANGO_AWS_STORAGE_BUCKET_NAME")
AWS_S3_REGION_NAME = env("DJANGO_AWS_S3_REGION_NAME", default=None)
AWS_S3_ENDPOINT_URL = env("DJANGO_AWS_S3_ENDPOINT_URL", default=None)
AWS_ACCESS_KEY_ID = env("DJANGO_AWS_ACCESS_KEY_ID", default=None)
AWS_SECRET_ACCESS_KEY = env("DJANGO_AWS_SECRET_ACCESS_KEY", default=None)
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "file_overwrite": False,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("LYO_MEDIA_URL_EXPIRY_SECONDS", default=900),
        },
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Email over SMTP --------------------------------------------------------------------------
MAILING_TRANSPORT_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend"
)
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
EMAIL_HOST = env("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=587)
EMAIL_HOST_USER = env("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=True)

# --- Media (apps.media): S3 specifics -----------------------------------------------------------
# Signature V4 for presigned GETs and the presigned POSTs of direct uploads. Direct uploads
# also need a CORS rule on the bucket allowing POST from the web app's origin.
STORAGES["default"]["OPTIONS"]["signature_version"] = "s3v4"
# --- end Media (apps.media) -------------------------------------------------------------------

# --- Error reporting (Sentry): on only when SENTRY_DSN is set -------------------------------
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import logging

    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    def _sentry_tag_request_id(event, hint):
        # The same id as the X-Request-ID header and every log line of the request or task.
        from apps.core.context import current_request_id

        request_id = current_request_id()
        if request_id:
            event.setdefault("tags", {})["request_id"] = request_id
        return event

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        release=env("SENTRY_RELEASE", default=None),
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(monitor_beat_tasks=False),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        # No cookies, headers with credentials, user emails or IPs leave for Sentry.
        send_default_pii=False,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        before_send=_sentry_tag_request_id,
    )
# --- end Error reporting -------------------------------------------------------------------
