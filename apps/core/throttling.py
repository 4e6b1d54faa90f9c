"""Throttles keyed on the real client address (apps.core.http.client_ip).

Every API request passes at least one throttle, so its cost is part of every request's. DRF's
own throttles keep a list of timestamps per client in the cache: two round trips (read the
list, write it back) and a pickled list as long as the rate. With Redis as the cache, Lyo's
throttles instead count requests in fixed windows and estimate a sliding window from the
current and the previous window's counts (previous weighted by how much of it still overlaps
the last `duration` seconds): one pipelined round trip per check, a bounded key per client, and
no burst of twice the rate at a window boundary. Refused requests are not counted (like DRF's).
Without Redis (the local settings' memory cache) DRF's implementation is used, and so it is
while Redis is unreachable: the default cache then keeps throttle counters in the process's
memory (apps.core.redis_cache), so every limit still holds per process instead of failing
the request or letting everything through.
"""

import math

from django.core.cache import cache
from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS

from .cache import REDIS_UNREACHABLE, redis_client, redis_unreachable
from .http import client_ip


class SimpleRateThrottle(throttling.SimpleRateThrottle):
    """DRF's rate throttle with one Redis round trip per check (see the module docstring).

    Subclasses set the scope and the cache key as with DRF's (e.g. per submitted email)."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        client = redis_client()
        if client is None:
            return super().allow_request(request, view)
        try:
            return self._allow_in_redis(client)
        except REDIS_UNREACHABLE as error:
            redis_unreachable(error)
            return super().allow_request(request, view)

    def _allow_in_redis(self, client) -> bool:
        now = self.timer()
        window, elapsed = divmod(now, self.duration)
        current = cache.make_key(f"{self.key}:{int(window)}")
        pipe = client.pipeline(transaction=False)
        pipe.incr(current)
        pipe.expire(current, 2 * self.duration)
        pipe.get(cache.make_key(f"{self.key}:{int(window) - 1}"))
        count, _, previous = pipe.execute()
        previous = int(previous or 0)
        overlap = 1 - elapsed / self.duration
        if previous * overlap + count <= self.num_requests:
            return True
        client.decr(current)  # a refused request does not count against the client
        self._wait = self._seconds_until_allowed(count - 1, previous, elapsed)
        return False

    def _seconds_until_allowed(self, count: int, previous: int, elapsed: float) -> float:
        """When previous * overlap + count + 1 first fits the rate again."""
        room = self.num_requests - count - 1
        if previous and room >= 0:
            # Within this window, as the previous one slides out of the last `duration`.
            return max(self.duration * (1 - room / previous) - elapsed, 1)
        # Next window: this window's count becomes the previous one and slides out in turn.
        later = self.duration * (1 - (self.num_requests - 1) / max(count, 1))
        return max(self.duration - elapsed + max(later, 0), 1)

    def wait(self) -> float | None:
        if hasattr(self, "_wait"):
            return math.ceil(self._wait)
        return super().wait()


class ClientIpMixin:
    def get_ident(self, request) -> str:
        return client_ip(request)


# DRF's classes first: ScopedRateThrottle picks its rate in allow_request, then calls ours.
class AnonRateThrottle(ClientIpMixin, throttling.AnonRateThrottle, SimpleRateThrottle):
    pass


class UserRateThrottle(ClientIpMixin, throttling.UserRateThrottle, SimpleRateThrottle):
    pass


class ScopedRateThrottle(ClientIpMixin, throttling.ScopedRateThrottle, SimpleRateThrottle):
    pass


class WriteThrottled:
    """View mixin for per-user write caps: the scoped throttle (the view's throttle_scope)
    counts only unsafe methods, so a GET on the same URL does not spend the caller's write
    budget; the default per-user rate applies to every method. Every API view that writes
    has one (tests/core/test_hostile_input.py walks the URLconf): a specific scope where the
    write is visible to others or costs storage, "writes" (a general cap) elsewhere."""

    throttle_scope: str = "writes"

    def get_throttles(self):
        if self.request.method in SAFE_METHODS:
            return [UserRateThrottle()]
        return [UserRateThrottle(), ScopedRateThrottle()]
