"""Who is asking: the client's address, believing X-Forwarded-For only from our own proxies.

A proxy in TRUSTED_PROXIES (CIDRs; production: LYO_TRUSTED_PROXIES, the nginx in front of the
web replicas) appends the address it received the request from. Walking the header from the
right, every address that is one of our proxies is skipped; the first that is not is the
client. A request that reaches a replica directly (REMOTE_ADDR not a trusted proxy) is
judged by REMOTE_ADDR alone, whatever it wrote into the header, so it cannot pick the address
that per-IP lockouts, throttles, the /metrics allow-list and the audit log see. An entry that
is not an IP address makes the whole header untrustworthy: it is ignored, never an error.

`strip_untrusted_forwarding` (ForwardedHeadersMiddleware) drops X-Forwarded-For and
X-Forwarded-Proto from anyone else before Django or a library reads them (the scheme decides
request.is_secure() through SECURE_PROXY_SSL_HEADER).
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip()) for cidr in proxies)


def _parse(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is that IPv4 client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address) -> bool:
    return any(address in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str:
    """The client's address as text (always a valid IP address), or "" when unknown."""
    remote = _parse(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return ""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded or not _trusted(remote):
        return str(remote)
    hops = [_parse(part) for part in forwarded.split(",")]
    if any(hop is None for hop in hops):
        return str(remote)
    client = remote
    for hop in reversed(hops):
        if not _trusted(client):
            break
        client = hop
    return str(client)


def strip_untrusted_forwarding(request: HttpRequest) -> None:
    remote = _parse(request.META.get("REMOTE_ADDR", ""))
    if remote is None or not _trusted(remote):
        for header in FORWARDING_HEADERS:
            request.META.pop(header, None)
