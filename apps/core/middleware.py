import logging
import time

from django.conf import settings

from .context import request_id_var, sanitize_request_id
from .errors import DATABASE_UNAVAILABLE, database_unavailable, error_json
from .http import strip_untrusted_forwarding

access_logger = logging.getLogger("lyo.access")

REQUEST_ID_HEADER = "X-Request-ID"


class ForwardedHeadersMiddleware:
    """X-Forwarded-For/-Proto only from TRUSTED_PROXIES: dropped from anyone else before any
    other code (Django's is_secure(), a library) can read them (apps.core.http)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        strip_untrusted_forwarding(request)
        return self.get_response(request)


class RequestIdMiddleware:
    """Accept a sane incoming X-Request-ID or make one; expose it on the response and in logs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = sanitize_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class AccessLogMiddleware:
    """One JSON line per request: method, path, status, duration, user and request id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        access_logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
                "request_id": getattr(request, "request_id", None),
            },
        )
        return response


class RequestSizeLimitMiddleware:
    """Refuse bodies over MAX_REQUEST_BODY_BYTES by their declared length, before reading them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_json(400, "bad_request", "Content-Length is not a number.")
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return error_json(
                413,
                "payload_too_large",
                "The request body is too large.",
                {"max_bytes": settings.MAX_REQUEST_BODY_BYTES},
            )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """PostgreSQL out of reach outside DRF's handler (the request transaction cannot begin,
    a plain Django view): 503 `service_unavailable` in the error shape, not a 500 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        error = database_unavailable(exception)
        return error_json(error.status_code, error.default_code, str(error.detail))
