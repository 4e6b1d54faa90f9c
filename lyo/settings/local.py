"""Embedded defaults for a laptop: SQLite, local-memory cache, eager Celery, console email."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-insecure-key-for-development-0123456789")
SIMPLE_JWT["SIGNING_KEY"] = env("LYO_JWT_SIGNING_KEY", default=SECRET_KEY)  # noqa: F405
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Readable log lines at the terminal (production keeps JSON).
LOGGING["handlers"]["console"]["formatter"] = env("LYO_LOG_FORMAT", default="text")  # noqa: F405
