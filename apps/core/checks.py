"""System checks run by `manage.py check --deploy`: the container entrypoint runs them before
every production process starts, and `.ci/run` before a release, so a server with a
placeholder or weak secret does not boot.

The rules (docs/operations.md, "Secrets"):
- DJANGO_SECRET_KEY: at least 50 characters and 5 distinct ones (Django's own rule for a key
  it calls strong, raised here from a warning to an error), not a known placeholder.
- LYO_JWT_SIGNING_KEY (HMAC): at least 32 bytes, the size of HS256's hash (RFC 7518, 3.2),
  and 5 distinct characters, not a known placeholder, and never the SECRET_KEY (each signs
  other things and is rotated on its own).
`openssl rand -hex 32` (64 characters) passes both.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register

SECRET_KEY_MIN_LENGTH = 50
JWT_KEY_MIN_BYTES = 32
MIN_DISTINCT_CHARACTERS = 5
# Words that mark a value as a stand-in for a secret (the example env file says CHANGE_ME),
# and the non-secret keys this repository itself ships for development, tests and builds.
PLACEHOLDER_MARKERS = ("change_me", "changeme", "change-me", "replace_me", "replace-me")
SHIPPED_KEYS = frozenset(
    {
        "local-insecure-key-for-development-0123456789",
        "collectstatic-only-not-a-secret",
        "test-secret-key-not-for-production-0123456789abcdefghijklmnop",
        "test-jwt-signing-key-0123456789abcdefghijklmnop",
    }
)


def _is_placeholder(key: str) -> bool:
    folded = key.strip().lower()
    return (
        folded in SHIPPED_KEYS
        or folded.startswith("django-insecure-")  # what startproject writes for development
        or any(marker in folded for marker in PLACEHOLDER_MARKERS)
    )


def _weakness(key: str, *, min_length: int, measure: str) -> str | None:
    """Why `key` is unfit to sign anything, or None."""
    if not key:
        return "is empty"
    if _is_placeholder(key):
        return "is a placeholder or a key shipped with the code"
    length = len(key.encode()) if measure == "bytes" else len(key)
    if length < min_length:
        return f"is {length} {measure} long; it needs at least {min_length}"
    if len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_CHARACTERS} distinct characters"
    return None


HINT = "Generate one with `openssl rand -hex 32` (docs/operations.md, Secrets)."


@register(Tags.security, deploy=True)
def secrets_check(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    secret_keys = [("DJANGO_SECRET_KEY", settings.SECRET_KEY)]
    secret_keys += [
        (f"SECRET_KEY_FALLBACKS[{i}]", key)
        for i, key in enumerate(getattr(settings, "SECRET_KEY_FALLBACKS", []))
    ]
    for name, key in secret_keys:
        why = _weakness(str(key), min_length=SECRET_KEY_MIN_LENGTH, measure="characters")
        if why:
            errors.append(Error(f"{name} {why}.", hint=HINT, id="lyo.E001"))

    jwt = settings.SIMPLE_JWT
    if str(jwt.get("ALGORITHM", "HS256")).startswith("HS"):
        jwt_key = str(jwt.get("SIGNING_KEY") or "")
        why = _weakness(jwt_key, min_length=JWT_KEY_MIN_BYTES, measure="bytes")
        if why:
            errors.append(Error(f"LYO_JWT_SIGNING_KEY {why}.", hint=HINT, id="lyo.E002"))
        elif jwt_key in {str(key) for _, key in secret_keys}:
            errors.append(
                Error(
                    "LYO_JWT_SIGNING_KEY is the same as the Django secret key.",
                    hint="Give the API tokens a key of their own. " + HINT,
                    id="lyo.E003",
                )
            )
    return errors
