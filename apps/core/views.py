import hmac

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from .errors import error_json
from .health import run_checks
from .http import client_ip


@never_cache
@require_GET
@transaction.non_atomic_requests
def health_live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
@transaction.non_atomic_requests  # must answer even when the database is down
def health_ready(request: HttpRequest) -> JsonResponse:
    healthy, checks = run_checks()
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


def _metrics_allowed(request: HttpRequest) -> bool:
    if settings.DEBUG:
        return True
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    presented = header.removeprefix("Bearer ").encode() if header.startswith("Bearer ") else b""
    if token and presented and hmac.compare_digest(presented, token.encode()):
        return True
    return client_ip(request) in settings.METRICS_ALLOWED_IPS


@never_cache
@require_GET
@transaction.non_atomic_requests
def metrics(request: HttpRequest):
    """Prometheus text; aggregates all gunicorn workers when PROMETHEUS_MULTIPROC_DIR is set."""
    if not _metrics_allowed(request):
        return error_json(403, "permission_denied", "Metrics need a valid token.")
    return ExportToDjangoView(request)
