import logging
import time
from urllib.parse import unquote_to_bytes

from django.conf import settings

from .context import request_id_var, sanitize_request_id
from .errors import DATABASE_UNAVAILABLE, database_unavailable, error_json, wants_json
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


class MalformedRequestMiddleware:
    """400 `malformed_request` for a path or query string holding a NUL (`%00`) or bytes that
    are not UTF-8, before any view or query sees them: Django would hand a NUL on to
    PostgreSQL (a 500: text cannot contain NUL) and replaces invalid UTF-8 silently."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Django re-escapes the path's bytes that are not UTF-8 (`caf%E9`) and keeps a NUL;
        # unquoting path_info recovers both (a literal "%00" or "%E9" in a path, sent as
        # %2500, is refused too: no Lyo URL has one). The query string is still escaped.
        for part, raw in (
            ("path", unquote_to_bytes(request.path_info)),
            ("query", unquote_to_bytes(request.META.get("QUERY_STRING", ""))),
        ):
            if b"\x00" in raw:
                return self._refuse(part, "nul_character", "may not contain NUL (%00)")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return self._refuse(part, "invalid_encoding", "is not valid UTF-8")
        return self.get_response(request)

    def _refuse(self, part: str, reason: str, what: str):
        return error_json(
            400,
            "malformed_request",
            f"The request's {part} {what}.",
            {"reason": reason, "location": part},
        )


class JsonNotFoundMiddleware:
    """An unknown API path is a 404 in the error shape under DEBUG too: there Django answers
    with its technical HTML page instead of handler404 (and `make run` is where client
    developers meet it first). JSON 404s from views pass unchanged."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and wants_json(request)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return error_json(404, "not_found", "Not found.")
        return response


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
