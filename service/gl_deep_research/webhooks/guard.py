"""SSRF guard for webhook targets: every resolved address of every hop is checked.

A target is rejected when any address its host resolves to is loopback,
private, link-local, multicast, reserved, unspecified or shared (carrier
NAT), unless `WEBHOOK_ALLOW_PRIVATE_TARGETS=true`. Cloud metadata addresses
are rejected even then, because no development setup needs them and a
redirect to them is the classic way to steal credentials. An IPv6 address
that embeds an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, NAT64 or
Teredo) is rejected when the embedded address would be.

`url_problem` checks the URL's syntax. Submission runs it so a malformed URL
gets a 400, and `TargetGuard.check_url` runs it again on every hop, because
httpx raises `InvalidURL` (not an `HTTPError`) on such URLs.
"""

from __future__ import annotations

import ipaddress
import socket
import unicodedata
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
# RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address.
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
# RFC 4291 IPv4-compatible addresses (deprecated): `::a.b.c.d`.
IPV4_COMPATIBLE_PREFIX = ipaddress.ip_network("::/96")
# NOTE: no standard sets a maximum. 2048 is a common de facto limit of browsers and proxies.
MAX_URL_LENGTH = 2048
# Control (Cc), format (Cf, such as zero-width and bidi marks) and surrogate (Cs) characters.
REJECTED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


class UnsafeTarget(ValueError):
    """The webhook URL or one of its redirects points at a forbidden address."""


def resolve_host(host: str, port: int) -> list[str]:
    """Return every address `host` resolves to (blocking DNS lookup)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UnsafeTarget(f"Webhook host {host!r} cannot be resolved: {err}.") from err
    return sorted({str(info[4][0]) for info in infos})


def url_problem(url: str) -> str | None:
    """Return what makes `url` unusable as a webhook target, or None when its syntax is valid.

    The text completes a sentence whose subject is the URL, for example
    "contains whitespace (U+0020) at position 31".
    """
    if len(url) > MAX_URL_LENGTH:
        return f"is {len(url)} characters long, more than the maximum of {MAX_URL_LENGTH}"
    for position, character in enumerate(url):
        code_point = f"U+{ord(character):04X}"
        if unicodedata.category(character) in REJECTED_CATEGORIES:
            return f"contains a control or format character ({code_point}) at position {position}"
        if character.isspace():
            return f"contains whitespace ({code_point}) at position {position}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        return f"cannot be parsed: {err}"
    if not parts.scheme:
        return "has no scheme"
    if parts.scheme not in ("http", "https"):
        return f"has the scheme {parts.scheme!r}, not http or https"
    if not parts.hostname:
        return "has no host"
    if port is not None and not 1 <= port <= 65535:
        return f"has the port {port}, outside 1-65535"
    try:
        httpx.URL(url)
    except httpx.InvalidURL as err:
        return f"is rejected by the HTTP client: {err}"
    return None


def shorten(text: str, limit: int = 100) -> str:
    """Return `repr(text)`, cut to `limit` characters of `text` so error messages stay short."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    """Return the IPv4 addresses that `address` embeds, each with the kind of embedding."""
    found: list[tuple[ipaddress.IPv4Address, str]] = []
    if address.ipv4_mapped is not None:
        found.append((address.ipv4_mapped, "IPv4-mapped"))
    last_32_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    # `::` and `::1` are the IPv6 unspecified and loopback addresses, not IPv4-compatible ones.
    if address in IPV4_COMPATIBLE_PREFIX and int(address) > 1:
        found.append((last_32_bits, "IPv4-compatible"))
    if address in NAT64_PREFIX:
        found.append((last_32_bits, "NAT64"))
    if address.sixtofour is not None:
        found.append((address.sixtofour, "6to4"))
    if address.teredo is not None:
        server, client = address.teredo
        found.append((server, "Teredo server"))
        found.append((client, "Teredo client"))
    return found


def forbidden_reason(address: IPAddress, allow_private: bool) -> str | None:
    """Return why `address` is forbidden as a webhook target, or None when it is allowed.

    An IPv6 address that embeds IPv4 addresses is forbidden when any of them is.
    IPv4-mapped and NAT64 addresses reach exactly the embedded IPv4 address, so
    only that address is judged. Python 3.11 calls all of 64:ff9b::/96 reserved,
    which would reject public targets on IPv6-only networks behind DNS64.
    """
    if isinstance(address, ipaddress.IPv6Address):
        for ipv4, kind in embedded_ipv4(address):
            reason = _own_forbidden_reason(ipv4, allow_private)
            if reason is not None:
                return f"{reason} ({ipv4}, embedded as {kind})"
        if address.ipv4_mapped is not None or address in NAT64_PREFIX:
            return None
    return _own_forbidden_reason(address, allow_private)


def _own_forbidden_reason(address: IPAddress, allow_private: bool) -> str | None:
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if allow_private:
        return None
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_reserved, "a reserved address"),
        (address in SHARED_ADDRESS_SPACE, "a shared (carrier NAT) address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    for matched, reason in checks:
        if matched:
            return reason
    return None


class TargetGuard:
    def __init__(self, allow_private: bool, resolver: Resolver = resolve_host) -> None:
        self.allow_private = allow_private
        self._resolve = resolver

    def check_url(self, url: str) -> None:
        """Raise `UnsafeTarget` unless `url` is valid and every address of its host is allowed."""
        problem = url_problem(url)
        if problem is not None:
            raise UnsafeTarget(f"Webhook URL {shorten(url)} {problem}.")
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            addresses = self._resolve(host, port)
        if not addresses:
            raise UnsafeTarget(f"Webhook host {host!r} resolves to no address.")
        for text in addresses:
            reason = forbidden_reason(ipaddress.ip_address(text.split("%")[0]), self.allow_private)
            if reason is not None:
                raise UnsafeTarget(
                    f"Webhook URL {url!r} resolves to {text}, {reason}; webhooks may only "
                    "target public addresses unless WEBHOOK_ALLOW_PRIVATE_TARGETS=true."
                )
