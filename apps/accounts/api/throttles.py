"""Throttles for the sign-in and account-email endpoints (rates in REST_FRAMEWORK settings)."""

import hashlib

from apps.accounts.email_identity import canonical_email
from apps.core.throttling import ScopedRateThrottle, SimpleRateThrottle


class AuthIpThrottle(ScopedRateThrottle):
    """Per client IP; the view's throttle_scope picks the rate."""


class AuthEmailThrottle(SimpleRateThrottle):
    """Per submitted email address (its canonical form), whichever IPs the attempts come from."""

    scope = "auth_email"

    def get_cache_key(self, request, view):
        email = request.data.get("email") if hasattr(request.data, "get") else None
        if not isinstance(email, str) or not email.strip():
            return None
        digest = hashlib.sha256(canonical_email(email).encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}
