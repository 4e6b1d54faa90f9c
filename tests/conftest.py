import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    return [
        f"lyo database engine: {db['ENGINE']} (host={db.get('HOST') or '-'}, name={db['NAME']})",
        f"lyo cache backend: {settings.CACHES['default']['BACKEND']} "
        f"({settings.CACHES['default'].get('LOCATION', '-')})",
    ]


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
