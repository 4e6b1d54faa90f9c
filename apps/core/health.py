"""Readiness checks: each returns nothing on success and raises on failure.

`run_checks` runs them concurrently, each in its own thread, and waits for all of them together
at most HEALTH_CHECK_TIMEOUT_SECONDS: a dependency that accepts connections but never answers
(a frozen Redis or PostgreSQL) makes its check "timeout" instead of hanging the probe until
gunicorn kills the worker. A check still running from an earlier probe is not started again
(its thread ends on its client's own timeout), so a dead dependency cannot pile up threads.

The answer names each check and its status only; what went wrong goes to the log
("health_check_failed"), never to whoever asks.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.core.files.storage import default_storage
from django.db import connections

logger = logging.getLogger("lyo.health")


def check_database() -> None:
    try:
        for alias in connections:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    finally:
        connections.close_all()  # this thread's own connections; the thread ends here


def check_cache() -> None:
    cache = caches["default"]
    probe = getattr(cache, "probe", None)
    if probe is not None:
        probe()  # past the circuit breaker: readiness reports what Redis does now
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=10)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


def check_broker() -> None:
    from lyo.celery import app

    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    # Socket timeouts for a Redis broker (the AMQP transport uses ensure_connection's timeout).
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    with app.connection_for_write(transport_options=options) as connection:
        connection.ensure_connection(max_retries=0, timeout=timeout)


def check_storage() -> None:
    # A HEAD/stat on a key that need not exist proves the backend answers.
    default_storage.exists("health/ready-probe")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "storage": check_storage,
}

_running: dict[str, threading.Thread] = {}
_running_lock = threading.Lock()


def _run_in_thread(name: str, check: Callable[[], None], results: dict) -> threading.Thread | None:
    def run() -> None:
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            logger.warning(
                "health_check_failed",
                extra={"check": name, "error": f"{type(exc).__name__}: {exc}"[:500]},
            )
            outcome = "error"
        else:
            outcome = "ok"
        results[name] = {
            "status": outcome,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    with _running_lock:
        earlier = _running.get(name)
        if earlier is not None and earlier.is_alive():
            return None
        thread = threading.Thread(target=run, name=f"health-{name}", daemon=True)
        _running[name] = thread
        thread.start()
    return thread


def run_checks() -> tuple[bool, dict[str, dict]]:
    started = time.perf_counter()
    deadline = time.monotonic() + settings.HEALTH_CHECK_TIMEOUT_SECONDS
    results: dict[str, dict] = {}
    threads = {name: _run_in_thread(name, check, results) for name, check in CHECKS.items()}
    for thread in threads.values():
        if thread is not None:
            thread.join(max(deadline - time.monotonic(), 0))
    answer: dict[str, dict] = {}
    for name in CHECKS:
        if name in results:
            answer[name] = results[name]
        else:
            if threads[name] is not None:  # a check still running from before was logged then
                logger.warning("health_check_failed", extra={"check": name, "error": "timeout"})
            answer[name] = {
                "status": "timeout",
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            }
    healthy = all(result["status"] == "ok" for result in answer.values())
    return healthy, answer
