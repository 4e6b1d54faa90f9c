"""Cache for the public catalog and course pages — an optimisation only.

Keys carry a version number; a change bumps the version after commit, so readers never see an
entry computed before the change. The version is read *before* the database, so a reader
racing a writer can only store stale data under the old (already abandoned) version.
Set COURSES_CACHE_SECONDS = 0 to switch caching off: answers are identical either way.

Each learner's set of enrolled courses is cached too (course pages and lesson access ask
"enrolled?" on every request): dropped when the learner enrolls or leaves, at once and again
after commit, like the versions above.
"""

import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from apps.core.cache import forget

CATALOG_VERSION_KEY = "courses:catalog:version"


def _course_version_key(slug: str) -> str:
    return f"courses:course:{slug}:version"


def _version(key: str) -> int:
    version = cache.get(key)
    if version is None:
        cache.add(key, 1, timeout=None)
        version = cache.get(key) or 1
    return version


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # never set (or evicted): any new value differs from what readers used
        cache.set(key, 2, timeout=None)


def catalog_invalidate(*, slug: str | None = None) -> None:
    """Call inside the writing transaction; the bump happens after commit."""

    def bump() -> None:
        _bump(CATALOG_VERSION_KEY)
        if slug is not None:
            _bump(_course_version_key(slug))

    transaction.on_commit(bump)


def cached(key_parts: tuple, compute: Callable[[], Any], *, slug: str | None = None) -> Any:
    """Serve `compute()` from the cache under the catalog's (or one course's) version."""
    seconds = settings.COURSES_CACHE_SECONDS
    if not seconds:
        return compute()
    version_key = _course_version_key(slug) if slug is not None else CATALOG_VERSION_KEY
    version = _version(version_key)
    digest = hashlib.sha256(repr(key_parts).encode()).hexdigest()[:32]
    key = f"courses:v{version}:{digest}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=seconds)
    return value


def _enrolled_key(user_id: int) -> str:
    return f"courses:enrolled:{user_id}"


def enrolled_courses_cached(*, user_id: int, compute: Callable[[], frozenset]) -> frozenset:
    seconds = settings.COURSES_CACHE_SECONDS
    if not seconds:
        return compute()
    return cache.get_or_set(_enrolled_key(user_id), compute, timeout=seconds)


def enrolled_courses_invalidate(*, user_id: int) -> None:
    """Call inside the writing transaction."""
    forget(_enrolled_key(user_id))
