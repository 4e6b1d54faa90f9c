"""Cache plumbing shared by the apps' read caches.

- `forget(*keys)`: drop entries now and again once the current transaction commits, so a
  reader that loaded the old rows before the commit cannot leave them cached.
- `redis_client()`: the raw Redis client behind the default cache, for what Django's cache API
  cannot do in one round trip (pipelines, sorted sets, scripts); None when the cache is not
  Redis (the local settings' memory cache) or while Redis is unreachable (apps.core.redis_cache),
  so callers take the same fallback in both cases. A caller whose own call fails with one of
  `REDIS_UNREACHABLE` reports it with `redis_unreachable(error)` and falls back too.
- `redis_client_now()`: the same, after asking Redis itself, past the circuit breaker, for work
  that exists to run once Redis is back and must not wait out the breaker's retry period.
"""

from django.core.cache import cache, caches
from django.db import transaction
from django_redis.cache import RedisCache

from .redis_cache import UNREACHABLE as REDIS_UNREACHABLE
from .redis_cache import ResilientRedisCache

__all__ = [
    "REDIS_UNREACHABLE",
    "forget",
    "redis_client",
    "redis_client_now",
    "redis_configured",
    "redis_unreachable",
]


def forget(*keys: str) -> None:
    """Call inside the transaction that changes what the entries were computed from."""
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def redis_client():
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    if isinstance(backend, ResilientRedisCache) and not backend.available():
        return None
    return backend.client.get_client(write=True)


def redis_client_now():
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    if isinstance(backend, ResilientRedisCache):
        try:
            backend.probe()
        except REDIS_UNREACHABLE:
            return None
    return backend.client.get_client(write=True)


def redis_configured() -> bool:
    """Whether the default cache is Redis at all (reachable or not)."""
    return isinstance(caches["default"], RedisCache)


def redis_unreachable(error: BaseException) -> None:
    """Open the default cache's circuit breaker after a raw-client call failed."""
    backend = caches["default"]
    if isinstance(backend, ResilientRedisCache):
        backend.mark_unreachable(error)
