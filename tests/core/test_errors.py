"""Every failure leaves the API in the contract's error shape."""

import pytest
from django.test import Client

from apps.accounts.models import User

pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db]


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    assert error["request_id"] == response["X-Request-ID"]
    return error


def test_validation_error_lists_field_errors(api_client):
    response = api_client.post("/api/test/validate/", {"name": "far too long", "age": -1})
    error = assert_error_shape(response, 400, "validation_error")
    assert set(error["details"]) == {"name", "age"}
    assert all(isinstance(message, str) for message in error["details"]["name"])


def test_malformed_json_is_a_clear_400(api_client):
    response = api_client.post(
        "/api/test/validate/", data="{not json", content_type="application/json"
    )
    assert_error_shape(response, 400, "parse_error")


def test_missing_credentials_is_401_not_authenticated(api_client):
    response = api_client.get("/api/test/private/")
    assert_error_shape(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bad_token_is_401_authentication_failed(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    response = api_client.get("/api/test/private/")
    assert_error_shape(response, 401, "authentication_failed")


def test_permission_denied_is_403(api_client, user):
    api_client.force_authenticate(user)
    response = api_client.get("/api/test/forbidden/")
    assert_error_shape(response, 403, "permission_denied")


def test_unknown_api_path_is_json_404():
    response = Client().get("/api/v1/no-such-thing/")
    assert_error_shape(response, 404, "not_found")


def test_unknown_page_outside_api_stays_html():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_wrong_method_is_405(api_client):
    response = api_client.delete("/api/test/validate/")
    assert_error_shape(response, 405, "method_not_allowed")


def test_oversized_body_is_413_before_it_is_read(api_client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    response = api_client.post(
        "/api/test/validate/", data="x" * 2048, content_type="application/json"
    )
    error = assert_error_shape(response, 413, "payload_too_large")
    assert error["details"] == {"max_bytes": 1024}


def test_throttled_is_429_with_retry_after(api_client):
    assert api_client.get("/api/test/throttled/").status_code == 200
    response = api_client.get("/api/test/throttled/")
    error = assert_error_shape(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert error["details"]["retry_after_seconds"] == int(response["Retry-After"])


def test_unhandled_error_is_500_without_traceback_and_rolls_back(api_client, caplog):
    response = api_client.post("/api/test/explode/", {})
    error = assert_error_shape(response, 500, "server_error")
    assert b"secret internal detail" not in response.content
    assert b"Traceback" not in response.content
    assert not User.objects.filter(email="half-written@example.com").exists()
    logged = [r for r in caplog.records if r.name == "lyo.errors"]
    assert logged and logged[0].request_id == error["request_id"]


def test_unhandled_error_in_plain_view_under_api_is_json_500():
    client = Client(raise_request_exception=False)
    response = client.get("/api/test/explode-plain/")
    assert_error_shape(response, 500, "server_error")
    assert b"secret internal detail" not in response.content
