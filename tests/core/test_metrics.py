import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_metrics_refused_without_token_outside_debug():
    response = Client().get("/metrics")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_metrics_refused_with_wrong_token():
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 403


def test_metrics_served_with_token(settings):
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


def test_metrics_served_to_allow_listed_ip(settings):
    settings.METRICS_ALLOWED_IPS = ["10.1.2.3"]
    response = Client(REMOTE_ADDR="10.1.2.3").get("/metrics")
    assert response.status_code == 200
