import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory, client_for
from tests.smtp import running_smtp_server

# Databases of their own for the suites that run real processes (tests/deploy, tests/faults).
pytest_plugins = ["tests.deploy.fixtures"]


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's load balancing, except that each tests/faults/ module goes to one worker
    whole: its tests share one stack of processes (tests/faults/conftest.py), which two workers
    would each start. (`--dist loadgroup` would do this with marks, but pytest 9 ignores the
    node ids xdist 3.8 rewrites for it.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FaultModulesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid.split("::", 1)[0] if nodeid.startswith("tests/faults/") else nodeid

    return FaultModulesTogether(config, log)


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    return [
        f"lyo database engine: {db['ENGINE']} (host={db.get('HOST') or '-'}, name={db['NAME']})",
        f"lyo cache backend: {settings.CACHES['default']['BACKEND']} "
        f"({settings.CACHES['default'].get('LOCATION', '-')})",
    ]


@pytest.fixture(autouse=True)
def _emails_through_the_outbox(settings):
    """pytest-django swaps EMAIL_BACKEND for locmem; put Lyo's outbox back so tests see the
    real path (outbox row -> Celery task -> MAILING_TRANSPORT_BACKEND, locmem by default)."""
    settings.EMAIL_BACKEND = "apps.mailing.backends.OutboxEmailBackend"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (this worker's own Redis database)."""
    cache.clear()
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def admin_user(db):
    return UserFactory(roles=["admin"])


@pytest.fixture
def user_client(user):
    return client_for(user)


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback receiving everything the outbox delivers."""
    with running_smtp_server(settings) as server:
        yield server
