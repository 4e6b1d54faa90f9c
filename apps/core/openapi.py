"""OpenAPI generation: every operation documents the API-wide error responses.

Every 4xx/5xx body has one shape (apps.core.errors), published once as the `ErrorResponse`
component. `LyoAutoSchema` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) adds to each operation the
error statuses it can really answer with, unless the view declared its own for that status:

- 400 always (malformed JSON or Content-Length, validation errors);
- 401 when the view authenticates (a bad or expired token is refused even where anonymous
  access is allowed);
- 403 always (role checks, unverified email, resources the caller can see but not change);
- 404 when the operation has path or query parameters or a body (which can name something
  that does not exist or is not visible, e.g. an avatar's media id);
- 409 on writes (state conflicts); 413 and 415 when it takes a request body;
- 429 (throttled, with Retry-After) and 500 always.

Every response also documents the `X-Request-ID` header the middleware sets.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

ERROR_COMPONENT = "ErrorResponse"
ERROR_SCHEMA = {
    "type": "object",
    "description": "The body of every 4xx and 5xx response.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable snake_case code, e.g. validation_error, not_found.",
                    "example": "validation_error",
                },
                "message": {"type": "string", "description": "Human-readable explanation."},
                "details": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Field errors for validation_error ({field: [messages]}), "
                    "retry_after_seconds when throttled, otherwise extra context or {}.",
                },
                "request_id": {
                    "type": "string",
                    "nullable": True,
                    "description": "Also in the X-Request-ID header and the server logs.",
                },
            },
            "required": ["code", "message", "details", "request_id"],
        }
    },
    "required": ["error"],
}
ERROR_DESCRIPTIONS = {
    "400": "Malformed request or invalid input (validation_error, with field details).",
    "401": "Missing, invalid or expired credentials.",
    "403": "Authenticated but not allowed (or email not verified).",
    "404": "No such resource, or not visible to the caller.",
    "409": "Conflicts with the current state of the resource.",
    "413": "Request body too large.",
    "415": "Unsupported content type.",
    "429": "Too many requests; retry after Retry-After seconds.",
    "500": "Unexpected server error (no details are leaked).",
}
REQUEST_ID_HEADER = {
    "X-Request-ID": {
        "description": "Request id, echoed from the request when sane, else generated.",
        "schema": {"type": "string"},
    }
}
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
BODY_METHODS = {"POST", "PUT", "PATCH"}


class LyoAutoSchema(AutoSchema):
    def _error_statuses(self, operation: dict) -> list[str]:
        statuses = ["400"]
        if getattr(self.view, "authentication_classes", None):
            statuses.append("401")
        statuses.append("403")
        if "{" in self.path or operation.get("parameters") or operation.get("requestBody"):
            statuses.append("404")
        if self.method in WRITE_METHODS:
            statuses.append("409")
        if self.method in BODY_METHODS:
            statuses += ["413", "415"]
        statuses += ["429", "500"]
        return statuses

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        component = ResolvedComponent(
            name=ERROR_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            object=ERROR_COMPONENT,
            schema=ERROR_SCHEMA,
        )
        registry.register_on_missing(component)
        responses = operation.setdefault("responses", {})
        for status in self._error_statuses(operation):
            if status in responses:
                continue
            headers = dict(REQUEST_ID_HEADER)
            if status == "429":
                headers.update(RETRY_AFTER_HEADER)
            responses[status] = {
                "description": ERROR_DESCRIPTIONS[status],
                "headers": headers,
                "content": {"application/json": {"schema": component.ref}},
            }
        for response in responses.values():
            response.setdefault("headers", {}).update(REQUEST_ID_HEADER)
        return operation
