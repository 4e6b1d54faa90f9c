"""The API's JWTs: simplejwt's, with the user's token version (User.token_version) in them.

The refresh token carries the version and hands it to every access token made from it. An
access token is refused once the user's version has moved past the one it carries (see
CachedUserJWTAuthentication), which logout, a new password and deactivation do. A token of an
earlier release has no version claim and counts as version 0, the version every account
starts at, so the rollout signs no one out.

The claims a request trusts are checked for shape here before anything looks them up: the
signature proves who issued a token, not that every release wrote what this one expects.
"""

from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken as SimpleJWTRefreshToken

TOKEN_VERSION_CLAIM = "token_version"  # noqa: S105 - a claim name, not a secret
_MAX_ID = 2**63 - 1  # PostgreSQL bigint: a larger id would be a database error, not a miss


class RefreshToken(SimpleJWTRefreshToken):
    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)  # recorded as an OutstandingToken
        token[TOKEN_VERSION_CLAIM] = user.token_version
        return token


def _bounded_int(value, *, minimum: int) -> int | None:
    """An integer claim (or its decimal string, as simplejwt writes user ids), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) <= 19:
        value = int(value)
    if isinstance(value, int) and minimum <= value <= _MAX_ID:
        return value
    return None


def token_user_id(payload) -> int:
    """The user id a validated token names; AuthenticationFailed (401) for any other shape."""
    user_id = _bounded_int(payload.get(api_settings.USER_ID_CLAIM), minimum=1)
    if user_id is None:
        raise AuthenticationFailed("Token contained no recognizable user identification")
    return user_id


def token_version(payload) -> int:
    version = _bounded_int(payload.get(TOKEN_VERSION_CLAIM, 0), minimum=0)
    if version is None:
        raise AuthenticationFailed("Token has no valid version")
    return version
