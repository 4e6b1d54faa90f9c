"""Lock sign-in after repeated failures, per email address and per client IP.

Counters live in the cache (Redis in production) with a sliding expiry; the lock itself is a
separate key so a locked account stays locked for the whole cooling period even when the
attacker stops. An IP gets a larger allowance than one address, as offices share addresses.

An address is counted by its canonical form (apps.accounts.email_identity), so every spelling
of one account (long s, the Kelvin sign, fullwidth letters, any case) spends the same budget; a
spelling with another canonical form names no account it could unlock. One lockout for every
sign-in path: the API token endpoint (services.token_obtain), the browser login (the allauth
adapter) and the Django admin (admin_site) all go through services.login_* .
"""

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache

from .email_identity import canonical_email

logger = logging.getLogger("lyo.security")

IP_ALLOWANCE_FACTOR = 4


def _key(kind: str, scope: str, value: str) -> str:
    value = canonical_email(value) if scope == "email" else value.strip()
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"lockout:{kind}:{scope}:{digest}"


def _limits() -> dict[str, int]:
    return {
        "email": settings.LOGIN_MAX_FAILURES,
        "ip": settings.LOGIN_MAX_FAILURES * IP_ALLOWANCE_FACTOR,
    }


def _seconds_remaining(scope: str, value: str) -> int:
    until = cache.get(_key("locked", scope, value)) if value else None
    return int(until - time.time()) + 1 if until else 0


def _failure_record(scope: str, value: str, *, limit: int, event: str) -> bool:
    """Count one failure; True when it starts a lock (the counter then starts over)."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    counter = _key("failures", scope, value)
    cache.add(counter, 0, timeout=window)
    try:
        failures = cache.incr(counter)
    except ValueError:  # expired or evicted between add and incr: count from one again
        cache.set(counter, 1, timeout=window)
        failures = 1
    if failures < limit:
        return False
    cache.delete(counter)
    if not cache.add(_key("locked", scope, value), time.time() + window, timeout=window):
        return False
    logger.warning(event, extra={"scope": scope, "failures": failures, "lock_seconds": window})
    return True


def lockout_seconds_remaining(*, email: str, ip: str) -> int:
    """Seconds until sign-in is allowed again for this email or IP; 0 when not locked."""
    return max(_seconds_remaining("email", email), _seconds_remaining("ip", ip))


def login_failure_record(*, email: str, ip: str) -> bool:
    """Count a failed sign-in. Returns True when this failure starts a lockout."""
    started = False
    for scope, value in (("email", email), ("ip", ip)):
        if value and _failure_record(
            scope, value, limit=_limits()[scope], event="login_lockout_started"
        ):
            started = True
    return started


def login_success_record(*, email: str) -> None:
    cache.delete(_key("failures", "email", email))


# A stolen access token must not become a way to guess the account's password: wrong current
# passwords at POST /auth/password/change/ are counted per account and lock that endpoint.


def password_change_seconds_remaining(*, user_id: int) -> int:
    return _seconds_remaining("password_change", str(user_id))


def password_change_failure_record(*, user_id: int) -> bool:
    """Count a wrong current password; True when this one locks password changes."""
    limit = settings.PASSWORD_CHANGE_MAX_FAILURES
    return _failure_record(
        "password_change", str(user_id), limit=limit, event="password_change_lockout_started"
    )


def password_change_success_record(*, user_id: int) -> None:
    cache.delete(_key("failures", "password_change", str(user_id)))
