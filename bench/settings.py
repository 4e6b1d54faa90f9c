"""Production settings for the load benchmark: real PostgreSQL and Redis, dummy secrets.

Only differences from lyo.settings.production, each for a reason:
- dummy secrets and local hosts (nothing here is reachable from outside the machine);
- plain HTTP on 127.0.0.1 (no TLS terminator in front of gunicorn), so no HTTPS redirect;
- local file storage instead of S3 (no media endpoint is benchmarked);
- throttles raised so the load generator measures the code, not the rate limiter;
- long-lived access tokens so the tokens minted before a run stay valid during it;
- ROOT_URLCONF = bench.urls, which adds the bare baseline endpoint (never in lyo.urls).
"""

import os

_DEFAULTS = {
    "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-not-for-prod",
    "LYO_JWT_SIGNING_KEY": "bench-only-jwt-signing-key-0123456789abcdefghijklmnopqrstuvwxyz",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_AWS_STORAGE_BUCKET_NAME": "lyo-bench-unused",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
}
for _name, _value in _DEFAULTS.items():
    os.environ.setdefault(_name, _value)
# Never the developer's or CI's DATABASE_URL/REDIS_URL: the seeder drops and fills this database.
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lyo_bench"
)
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6391/0")

from datetime import timedelta  # noqa: E402

from lyo.settings.production import *  # noqa: E402, F403
from lyo.settings.production import BASE_DIR, REST_FRAMEWORK, SIMPLE_JWT, STORAGES  # noqa: E402

ROOT_URLCONF = "bench.urls"
DEBUG = False

STORAGES = {
    **STORAGES,
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # No collectstatic before a bench run; the API serves no static files.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = str(BASE_DIR / "bench" / "results" / "media")

# The load generator is one client address doing thousands of requests a second.
_RATES = REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(_RATES, "1000000/min")
SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] = timedelta(hours=6)

# Plain HTTP on loopback: secure-only cookies would never come back (no endpoint here uses them).
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
