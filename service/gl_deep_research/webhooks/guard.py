"""SSRF guard for webhook targets: every resolved address of every hop is checked.

A target is rejected when any address its host resolves to is loopback,
private, link-local, multicast, reserved, unspecified or shared (carrier
NAT), unless `WEBHOOK_ALLOW_PRIVATE_TARGETS=true`. Cloud metadata addresses
are rejected even then, because no development setup needs them and a
redirect to them is the classic way to steal credentials.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

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


class UnsafeTarget(ValueError):
    """The webhook URL or one of its redirects points at a forbidden address."""


def resolve_host(host: str, port: int) -> list[str]:
    """Return every address `host` resolves to (blocking DNS lookup)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UnsafeTarget(f"Webhook host {host!r} cannot be resolved: {err}.") from err
    return sorted({str(info[4][0]) for info in infos})


def forbidden_reason(address: IPAddress, allow_private: bool) -> str | None:
    """Return why `address` is forbidden as a webhook target, or None when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
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
        """Raise `UnsafeTarget` unless every address of `url`'s host is allowed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UnsafeTarget(f"Webhook URL {url!r} is not an absolute http(s) URL.")
        host = parts.hostname
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as err:
            raise UnsafeTarget(f"Webhook URL {url!r} has an invalid port: {err}.") from err
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
