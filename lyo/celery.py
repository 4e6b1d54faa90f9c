"""The Celery app. Configuration lives in Django settings under the CELERY_ namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lyo.settings.local")

app = Celery("lyo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids travel with tasks and logs are JSON in workers too (see apps.core.logging).
import apps.core.celery_signals  # noqa: E402, F401
