"""The network edge (issue 13, items 14 and 15): whose forwarding headers are believed, and
what the readiness probe tells strangers. README: Security, "Network edge"."""

import ipaddress
import logging
import runpy
from pathlib import Path

import pytest
import yaml
from allauth.account.adapter import get_adapter
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from apps.accounts.models import AuditEvent
from apps.core.http import client_ip
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NGINX = "10.0.0.2"  # the proxy in front of the replicas
SIGN_IN = "/api/v1/auth/token/"
WRONG = "wrong-password-1"


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    settings.TRUSTED_PROXIES = [f"{NGINX}/32"]
    # What production ran with before: one proxy's X-Forwarded-For believed, from anyone.
    settings.NUM_PROXIES = 1


def sign_in(email, password=WRONG, **extra):
    return APIClient().post(SIGN_IN, {"email": email, "password": password}, **extra).status_code


def request_from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_item14_a_direct_request_cannot_choose_its_address_for_the_lockout(settings):
    """Reaching a replica directly, rotating X-Forwarded-For does not escape the per-IP lock."""
    settings.LOGIN_MAX_FAILURES = 2  # per IP: 2 x 4 = 8 failures
    attacker = "203.0.113.50"
    for attempt in range(8):
        email = f"victim{attempt}@example.com"  # one attempt each: no per-email lock
        assert (
            sign_in(email, REMOTE_ADDR=attacker, HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}")
            == 401
        )
    someone = UserFactory()
    forged = sign_in(
        someone.email, DEFAULT_PASSWORD, REMOTE_ADDR=attacker, HTTP_X_FORWARDED_FOR="192.0.2.99"
    )
    assert forged == 429
    # Through the proxy, the forwarded address is the client's, and others are not locked.
    assert (
        sign_in(
            someone.email, DEFAULT_PASSWORD, REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR="192.0.2.99"
        )
        == 200
    )


def test_item14_through_the_trusted_proxy_the_right_most_untrusted_address_is_the_client():
    assert client_ip(request_from(NGINX, "203.0.113.7")) == "203.0.113.7"
    # Whatever the client wrote to the left of what nginx appended is not believed.
    assert client_ip(request_from(NGINX, "10.9.9.9, 203.0.113.7")) == "203.0.113.7"
    # Directly: the header means nothing.
    assert client_ip(request_from("203.0.113.7", "10.9.9.9")) == "203.0.113.7"
    # IPv4 seen through an IPv6 socket, and IPv6 clients.
    assert client_ip(request_from("::ffff:203.0.113.8")) == "203.0.113.8"
    assert client_ip(request_from(NGINX, "2001:db8::1")) == "2001:db8::1"


def test_item14_several_trusted_proxies_are_walked_from_the_right(settings):
    settings.TRUSTED_PROXIES = [f"{NGINX}/32", "172.16.0.0/12"]
    assert client_ip(request_from(NGINX, "203.0.113.9, 172.16.4.4")) == "203.0.113.9"


@pytest.mark.parametrize(
    "junk", ["not-an-ip", "203.0.113.7, <script>", "999.1.1.1", ", ,", "203.0.113.7:443", "'; --"]
)
def test_item14_a_junk_forwarded_header_is_ignored_never_a_500(junk):
    assert client_ip(request_from(NGINX, junk)) == NGINX
    # Sign-in failures are audited with the address (an inet column): still a plain 401.
    assert sign_in("nobody@example.com", REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=junk) == 401
    assert AuditEvent.objects.get(action="login.failed").ip == NGINX


def test_item14_the_metrics_allow_list_is_not_passed_with_a_forged_header(settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.9"]
    forged = Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="10.0.0.9").get("/metrics")
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "permission_denied"
    assert Client(REMOTE_ADDR="10.0.0.9").get("/metrics").status_code == 200


def test_item14_forwarded_proto_counts_only_from_the_trusted_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    direct = Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_PROTO="https")
    assert direct.get("/api/v1/courses/").status_code == 301  # not believed: plain HTTP
    proxied = Client(REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_PROTO="https")
    assert proxied.get("/api/v1/courses/").status_code == 200


def test_item14_allauths_rate_limits_see_the_same_client_address():
    adapter = get_adapter()
    assert adapter.get_client_ip(request_from(NGINX, "203.0.113.7")) == "203.0.113.7"
    assert adapter.get_client_ip(request_from("203.0.113.5", "10.0.0.9")) == "203.0.113.5"


def test_item14_compose_gunicorn_and_django_trust_only_nginx(monkeypatch):
    compose = yaml.safe_load((ROOT / "docker" / "compose.production.yml").read_text())
    services = compose["services"]
    nginx_address = services["nginx"]["networks"]["backend"]["ipv4_address"]
    subnet = compose["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(nginx_address) in ipaddress.ip_network(subnet)
    web = {**compose["x-app"]["environment"], **services["web"]["environment"]}
    assert web["LYO_TRUSTED_PROXIES"] == f"{nginx_address}/32"
    assert web["GUNICORN_FORWARDED_ALLOW_IPS"] == nginx_address
    # gunicorn's default follows Django's setting; never "everyone".
    monkeypatch.delenv("GUNICORN_FORWARDED_ALLOW_IPS", raising=False)
    monkeypatch.setenv("LYO_TRUSTED_PROXIES", "10.0.0.2/32")
    config = runpy.run_path(str(ROOT / "docker" / "gunicorn.conf.py"))
    assert config["forwarded_allow_ips"] == "10.0.0.2/32"


def test_item15_readiness_names_checks_and_statuses_only(settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    with caplog.at_level(logging.WARNING, logger="lyo.health"):
        response = Client().get("/health/ready/")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["cache"]["status"] == "error"
    for check in body["checks"].values():
        assert set(check) <= {"status", "latency_ms"}
    text = response.content.decode()
    for leak in ("127.0.0.1", "Error", "111", "Connection", "refused"):
        assert leak not in text
    # The details are in the log for whoever runs the service.
    failures = [r for r in caplog.records if r.getMessage() == "health_check_failed"]
    assert any(r.check == "cache" and "127.0.0.1:1" in r.error for r in failures)
