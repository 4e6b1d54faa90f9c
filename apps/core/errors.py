"""The one place where failures become the API's error shape.

`{"error": {"code", "message", "details", "request_id"}}` for every 4xx/5xx: DRF exceptions,
Django's Http404/PermissionDenied/ValidationError, throttling, oversized bodies and anything
unhandled (500, logged with the request id, never a traceback in the body). PostgreSQL out of
reach (refused, dropped, or no connection within its connect_timeout) is 503
`service_unavailable`, here inside DRF views and in DatabaseUnavailableMiddleware outside them.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from .context import current_request_id

logger = logging.getLogger("lyo.errors")


class ApplicationError(exceptions.APIException):
    """Base for errors raised by services; subclasses pick the status and code."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "The request could not be processed."

    def __init__(self, message: str | None = None, *, details: dict | None = None):
        super().__init__(detail=message or self.default_detail, code=self.default_code)
        self.details = details or {}


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class PayloadTooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class MalformedRequest(ApplicationError):
    """Input no endpoint could accept: NUL characters, invalid UTF-8, JSON nested too deeply
    (apps.core.parsers, apps.core.middleware.MalformedRequestMiddleware)."""

    default_code = "malformed_request"
    default_detail = "The request is malformed."


class UnsupportedMediaType(ApplicationError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_media_type"
    default_detail = "This type of content is not accepted."


class ServiceUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "The service is unavailable; try again shortly."


# What the database driver raises when PostgreSQL cannot be reached or the connection dropped;
# its other transient failures (a deadlock victim, a cancelled statement) share the class and,
# being worth a retry as well, the answer.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def database_unavailable(exc: BaseException) -> ServiceUnavailable:
    logger.warning(
        "database_unavailable", extra={"exception": f"{type(exc).__name__}: {exc}"[:300]}
    )
    return ServiceUnavailable()


def error_body(code: str, message: str, details: dict | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": current_request_id(),
        }
    }


def error_json(status_code: int, code: str, message: str, details: dict | None = None):
    """The error shape for plain Django views and middleware (outside DRF)."""
    return JsonResponse(error_body(code, message, details), status=status_code)


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _stringify(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stringify(item) for item in value]
    return str(value)


def _validation_details(detail: Any) -> dict:
    if isinstance(detail, dict):
        return {
            key: _stringify(value if isinstance(value, list | dict) else [value])
            for key, value in detail.items()
        }
    items = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": _stringify(items)}


def _code_for(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "validation_error"
    if isinstance(exc, exceptions.AuthenticationFailed):
        # simplejwt's InvalidToken and friends are AuthenticationFailed subclasses.
        return "authentication_failed"
    return exc.default_code


def _message_for(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "Invalid input."
    detail = exc.detail
    if isinstance(detail, dict):
        detail = detail.get("detail", exc.default_detail)
    if isinstance(detail, list):
        detail = detail[0] if detail else exc.default_detail
    return str(detail)


def api_exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DATABASE_UNAVAILABLE):
        exc = database_unavailable(exc)

    # An error response must not commit the request's half-done writes. Views that run
    # outside the request transaction (apps.core.api.NonAtomicAPIView) opt out.
    if getattr(context.get("view"), "atomic_request", True):
        set_rollback()

    if not isinstance(exc, exceptions.APIException):
        request = context.get("request")
        logger.exception(
            "unhandled_exception",
            extra={"path": getattr(request, "path", None), "exception": type(exc).__name__},
        )
        return Response(
            error_body("server_error", "Something went wrong on our side."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if isinstance(exc, exceptions.ValidationError):
        details = _validation_details(exc.detail)
    else:
        details = getattr(exc, "details", None) or {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        retry_after = int(exc.wait + 0.999)
        headers["Retry-After"] = str(retry_after)
        details = {"retry_after_seconds": retry_after}
    return Response(
        error_body(_code_for(exc), _message_for(exc), details),
        status=exc.status_code,
        headers=headers,
    )


# --- Django-level handlers: JSON under the API, Django's own pages elsewhere -------------------


def wants_json(request: HttpRequest) -> bool:
    """Paths answered in the contract's error shape even outside DRF (the API, health, metrics)."""
    return request.path.startswith(("/api/", "/health/", "/metrics"))


def bad_request(request: HttpRequest, exception: Exception, *args, **kwargs):
    if isinstance(exception, RequestDataTooBig):
        return error_json(413, "payload_too_large", "The request body is too large.")
    if wants_json(request):
        return error_json(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception, *args, **kwargs)


def permission_denied(request: HttpRequest, exception: Exception, *args, **kwargs):
    if wants_json(request):
        return error_json(403, "permission_denied", "You do not have permission to do this.")
    return defaults.permission_denied(request, exception, *args, **kwargs)


def page_not_found(request: HttpRequest, exception: Exception, *args, **kwargs):
    if wants_json(request):
        return error_json(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception, *args, **kwargs)


def server_error(request: HttpRequest, *args, **kwargs):
    if wants_json(request) or not settings.TEMPLATES:
        return error_json(500, "server_error", "Something went wrong on our side.")
    return defaults.server_error(request, *args, **kwargs)
