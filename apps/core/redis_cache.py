"""The default cache: Redis, and what each kind of entry does while Redis cannot be reached.

Decided per kind of key (README, "Redis, PostgreSQL and the web processes"):

- Copies of database rows (every read cache: users and permissions, sessions, catalog, course
  pages, gamification summaries, rendered leaderboard pages): while Redis is unreachable reads
  miss and writes are dropped, so every answer comes from PostgreSQL and is as fresh as ever.
  Copies are never kept in process memory, where another process's invalidation could not
  reach them. A process that dropped a write or an invalidation clears the copies once Redis
  answers again, since it cannot know which of them went stale.
- Counters (keys starting with one of OPTIONS["COUNTER_PREFIXES"]: the API throttles, the
  sign-in lockout, allauth's rate limits): kept in this process's memory meanwhile, so every
  limit still holds, per process (a client spread over N processes gets at most N times its
  budget during the outage). A lock started in memory keeps holding in its process after Redis
  is back; counters are not cleared with the copies.

A circuit breaker, shared by every thread of the process, keeps a dead or frozen Redis from
costing every call: the first call that fails (connection refused, or no answer within
SOCKET_TIMEOUT from a frozen server) marks Redis unreachable for OPTIONS["RETRY_SECONDS"];
meanwhile nothing touches the network and the raw client (apps.core.cache.redis_client) is
None, so the throttles and leaderboards take their own fallbacks. Then one call tries again.
"""

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("lyo.cache")

# What "Redis is unreachable" looks like from here (refused, reset, timed out, still loading).
UNREACHABLE = (ConnectionInterrupted, RedisConnectionError, RedisTimeoutError, socket.error)


class _Breaker:
    """One per Redis location and process (Django makes a cache object per thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_until = 0.0
        self.down_since: float | None = None
        self.dropped_writes = False

    def available(self) -> bool:
        return time.monotonic() >= self.down_until


_breakers: dict[str, _Breaker] = {}
_breakers_lock = threading.Lock()
_recovery_hooks: list[Callable[[], None]] = []


def on_recovery(hook: Callable[[], None]) -> None:
    """Run `hook` in the process whose breaker closes again after an outage (an app's
    AppConfig.ready() registers what it must redo, e.g. rewrite what it could not write)."""
    if hook not in _recovery_hooks:
        _recovery_hooks.append(hook)


def _breaker_for(location: str) -> _Breaker:
    with _breakers_lock:
        return _breakers.setdefault(location, _Breaker())


# The answer of each operation on a copy while Redis is unreachable: a miss or a dropped write.
_MISSED: dict[str, Callable[[tuple, dict], Any]] = {
    "get": lambda args, kwargs: args[1] if len(args) > 1 else kwargs.get("default"),
    "get_many": lambda args, kwargs: {},
    "has_key": lambda args, kwargs: False,
    "ttl": lambda args, kwargs: None,
    "keys": lambda args, kwargs: [],
    "iter_keys": lambda args, kwargs: iter(()),
}
_DROPPED: dict[str, Callable[[tuple, dict], Any]] = {
    "set": lambda args, kwargs: False,
    "add": lambda args, kwargs: False,
    "touch": lambda args, kwargs: False,
    "expire": lambda args, kwargs: False,
    "persist": lambda args, kwargs: False,
    "delete": lambda args, kwargs: False,
    "delete_many": lambda args, kwargs: 0,
    "delete_pattern": lambda args, kwargs: 0,
    "set_many": lambda args, kwargs: list(args[0] if args else kwargs.get("data", {})),
    "clear": lambda args, kwargs: False,
}


def _incr_unavailable(args, kwargs):
    raise ValueError("the cache is unavailable")  # Django's answer for a missing key


_DROPPED["incr"] = _DROPPED["decr"] = _incr_unavailable
# Counters keep working in process memory; these operations take a single key.
_COUNTER_OPERATIONS = {"get", "set", "add", "delete", "incr", "decr", "has_key", "touch"}


class ResilientRedisCache(RedisCache):
    """django-redis's cache with the per-kind degradation and the breaker described above.

    OPTIONS: COUNTER_PREFIXES (tuple of key prefixes), RETRY_SECONDS (default 5), and
    django-redis's own (SOCKET_CONNECT_TIMEOUT and SOCKET_TIMEOUT should be a fraction of a
    second). IGNORE_EXCEPTIONS is not used: this class decides what an outage means."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS", {}))
        self._counter_prefixes = tuple(options.pop("COUNTER_PREFIXES", ()))
        self._retry_seconds = float(options.pop("RETRY_SECONDS", 5))
        options.pop("IGNORE_EXCEPTIONS", None)
        super().__init__(server, {**params, "OPTIONS": options})
        self._ignore_exceptions = False
        self._breaker = _breaker_for(str(server))
        self._local = LocMemCache(
            f"lyo-redis-fallback:{server}",
            {"TIMEOUT": params.get("TIMEOUT", 300), "OPTIONS": {"MAX_ENTRIES": 100_000}},
        )

    # --- the breaker ---------------------------------------------------------------------------

    def available(self) -> bool:
        """Whether to use Redis now. The first use after an outage asks Redis (and, when it
        answers, clears the copies and runs the recovery hooks) before anything else."""
        breaker = self._breaker
        if not breaker.available():
            return False
        if breaker.down_since is None:
            return True
        try:
            self.probe()
        except UNREACHABLE:
            return False
        return True

    def mark_unreachable(self, error: BaseException) -> None:
        """Open the breaker (also called by the raw-client users: throttles, leaderboards)."""
        breaker = self._breaker
        with breaker.lock:
            first = breaker.down_since is None
            if first:
                breaker.down_since = time.monotonic()
            breaker.down_until = time.monotonic() + self._retry_seconds
        if first:
            logger.warning(
                "redis_unreachable",
                extra={
                    "error": f"{type(error).__name__}: {error}"[:300],
                    "retry_seconds": self._retry_seconds,
                },
            )

    def mark_dropped_write(self) -> None:
        self._breaker.dropped_writes = True

    def _mark_reachable(self) -> None:
        breaker = self._breaker
        if breaker.down_since is None:
            return
        with breaker.lock:
            if breaker.down_since is None:
                return
            outage = time.monotonic() - breaker.down_since
            breaker.down_since = None
            dropped, breaker.dropped_writes = breaker.dropped_writes, False
        logger.warning("redis_reachable_again", extra={"outage_seconds": round(outage, 1)})
        try:
            if dropped:
                self._clear_copies()
            for hook in list(_recovery_hooks):
                hook()
        except UNREACHABLE as error:  # gone again at once: the next recovery redoes it
            breaker.dropped_writes = breaker.dropped_writes or dropped
            self.mark_unreachable(error)
        except Exception:  # a failing hook must not fail the caller's request
            logger.exception("redis_recovery_hook_failed")

    def probe(self) -> None:
        """Ask Redis now whatever the breaker says (readiness checks); raises when unreachable."""
        try:
            self.client.get_client(write=True).ping()
        except UNREACHABLE as error:
            self.mark_unreachable(error)
            raise
        self._breaker.down_until = 0.0
        self._mark_reachable()

    def _clear_copies(self) -> None:
        """Delete every entry of this cache except the counters (they stay valid)."""
        client = self.client.get_client(write=True)
        prefix_length = len(self.make_key(""))
        doomed = []
        for name in client.scan_iter(match=self.make_key("*"), count=1000):
            key = name.decode() if isinstance(name, bytes) else name
            if not key[prefix_length:].startswith(self._counter_prefixes):
                doomed.append(name)
        for start in range(0, len(doomed), 500):
            client.delete(*doomed[start : start + 500])
        logger.warning("redis_cache_copies_cleared", extra={"entries": len(doomed)})

    # --- operations ----------------------------------------------------------------------------

    def _is_counter(self, operation: str, args: tuple, kwargs: dict) -> bool:
        key = args[0] if args else kwargs.get("key")
        return (
            operation in _COUNTER_OPERATIONS
            and isinstance(key, str)
            and key.startswith(self._counter_prefixes)
        )

    def _call(self, operation: str, args: tuple, kwargs: dict) -> Any:
        counter = self._is_counter(operation, args, kwargs)
        if self.available():
            try:
                result = getattr(super(), operation)(*args, **kwargs)
            except UNREACHABLE as error:
                self.mark_unreachable(error)
            else:
                if counter and operation == "get" and result is None:
                    # A lock or count that began in memory during an outage still holds.
                    return self._local.get(*args, **kwargs)
                return result
        if counter:
            return getattr(self._local, operation)(*args, **kwargs)
        if operation in _MISSED:
            return _MISSED[operation](args, kwargs)
        self.mark_dropped_write()
        return _DROPPED[operation](args, kwargs)


def _operation(name: str):
    def method(self, *args, **kwargs):
        return self._call(name, args, kwargs)

    method.__name__ = name
    return method


for _name in (*_MISSED, *_DROPPED):
    setattr(ResilientRedisCache, _name, _operation(_name))
