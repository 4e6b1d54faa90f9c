"""Cache plumbing shared by the apps' read caches.

- `forget(*keys)`: drop entries now and again once the current transaction commits, so a
  reader that loaded the old rows before the commit cannot leave them cached.
- `redis_client()`: the raw Redis client behind the default cache, or None when the cache is
  not Redis (the local settings' memory cache), for what Django's cache API cannot do in one
  round trip (pipelines, sorted sets, scripts).
"""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction


def forget(*keys: str) -> None:
    """Call inside the transaction that changes what the entries were computed from."""
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def redis_client():
    if not settings.CACHES["default"]["BACKEND"].startswith("django_redis."):
        return None
    from django_redis import get_redis_connection

    return get_redis_connection("default")
