import json
import logging

import pytest
from django.test import Client

pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db]


def test_sane_client_request_id_is_echoed():
    response = Client().get("/api/test/plain/", HTTP_X_REQUEST_ID="client-abc.123")
    assert response["X-Request-ID"] == "client-abc.123"


@pytest.mark.parametrize("bad_id", ["", "has spaces", "x" * 200, "<script>", "a\nb"])
def test_unsafe_or_missing_request_id_is_replaced(bad_id):
    response = Client().get("/api/test/plain/", HTTP_X_REQUEST_ID=bad_id)
    generated = response["X-Request-ID"]
    assert generated != bad_id
    assert len(generated) == 32 and int(generated, 16) >= 0


def test_each_request_gets_its_own_id():
    client = Client()
    first = client.get("/api/test/plain/")["X-Request-ID"]
    second = client.get("/api/test/plain/")["X-Request-ID"]
    assert first != second


def test_access_log_is_one_json_line_with_the_request_fields(caplog):
    caplog.set_level(logging.INFO, logger="lyo.access")
    Client().get("/api/test/plain/", HTTP_X_REQUEST_ID="trace-me-1")
    records = [r for r in caplog.records if r.name == "lyo.access"]
    assert len(records) == 1
    record = records[0]
    assert (record.method, record.path, record.status) == ("GET", "/api/test/plain/", 200)
    assert record.request_id == "trace-me-1"
    assert record.duration_ms >= 0
    assert record.user_id is None

    formatter = logging.getLogger().handlers[0].formatter
    line = json.loads(formatter.format(record))
    assert line["request_id"] == "trace-me-1"
    assert line["status"] == 200
    assert line["level"] == "INFO"
