"""Production: everything from the environment; secrets have no default and boot fails without."""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CACHE_COUNTER_PREFIXES, CELERY_BROKER_TRANSPORT_OPTIONS, SIMPLE_JWT, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
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
