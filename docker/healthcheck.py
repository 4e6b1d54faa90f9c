"""Container health probe: GET a health path of the local web process (stdlib only).

    python docker/healthcheck.py [/health/live/|/health/ready/]

Sends the first DJANGO_ALLOWED_HOSTS entry as Host (Django refuses unknown hosts) and
X-Forwarded-Proto: https (as nginx does), so the answer is the app's, not a redirect.
"""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/health/live/"
    hosts = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = (hosts[0] if hosts else "localhost").lstrip(".").replace("*", "health")
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Host": host, "X-Forwarded-Proto": "https", "User-Agent": "lyo-healthcheck"},
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck {path}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
