"""Webhook targets on loopback, private, link-local and metadata addresses are rejected.

The guard runs before every connection, including each redirect hop, so these
tests call it and the sender directly. The only real socket is a receiver on
127.0.0.1 that must see no request. No test sends traffic to any other address.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest

from gl_deep_research.settings import Settings
from gl_deep_research.webhooks.guard import TargetGuard, UnsafeTarget, resolve_host
from gl_deep_research.webhooks.secrets import SecretBox
from gl_deep_research.webhooks.sender import WebhookSender
from tests.service.api.receiver import Receiver

pytestmark = pytest.mark.unit

PUBLIC_HOST = "hooks.example"
PUBLIC_ADDRESS = "93.184.216.34"

FORBIDDEN_URLS = [
    ("http://127.0.0.1/hook", "127.0.0.1, a loopback address"),
    ("http://10.0.0.1/hook", "10.0.0.1, a private address"),
    ("http://192.168.1.1/hook", "192.168.1.1, a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a cloud metadata address"),
    ("http://[::1]:8080/hook", "::1, a loopback address"),
    ("http://[fd00::1]/hook", "fd00::1, a private address"),
]


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"unexpected DNS lookup of {host!r}")


def stub_dns(host: str, port: int) -> list[str]:
    """Resolve the public test host to a fixed address and `localhost` through the system."""
    if host == "localhost":
        return resolve_host(host, port)
    assert host == PUBLIC_HOST
    return [PUBLIC_ADDRESS]


def make_sender(
    handler: Any, allow_private: bool = False
) -> tuple[WebhookSender, list[httpx.Request]]:
    """Build a sender whose HTTP client records requests in place of connecting."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        response: httpx.Response = handler(request)
        return response

    sender = WebhookSender(
        Settings(webhook_allow_private_targets=allow_private),
        database=cast(Any, None),
        secrets=SecretBox(None),
        guard=TargetGuard(allow_private=allow_private, resolver=stub_dns),
        transport=httpx.MockTransport(record),
    )
    return sender, seen


@pytest.mark.parametrize(("url", "reason"), FORBIDDEN_URLS)
def test_guard_rejects_literal_address(url: str, reason: str) -> None:
    guard = TargetGuard(allow_private=False, resolver=no_dns)
    with pytest.raises(UnsafeTarget) as raised:
        guard.check_url(url)
    assert str(raised.value) == (
        f"Webhook URL {url!r} resolves to {reason}; webhooks may only target public "
        "addresses unless WEBHOOK_ALLOW_PRIVATE_TARGETS=true."
    )


@pytest.mark.parametrize(("url", "reason"), FORBIDDEN_URLS)
def test_sender_never_connects_to_literal(url: str, reason: str) -> None:
    sender, seen = make_sender(lambda request: httpx.Response(200))
    result = sender._post(url, b"{}", {})
    assert seen == []
    assert result.status_code is None
    assert result.delivered is False
    assert result.error is not None
    assert result.error.startswith("Rejected target: ")
    assert reason in result.error


def test_guard_rejects_localhost_name() -> None:
    # The system resolver maps `localhost` to loopback addresses only.
    guard = TargetGuard(allow_private=False)
    with pytest.raises(UnsafeTarget, match=r"resolves to (127\.0\.0\.1|::1), a loopback address"):
        guard.check_url("http://localhost:9/hook")


def test_guard_rejects_name_resolving_private() -> None:
    guard = TargetGuard(allow_private=False, resolver=lambda host, port: ["192.168.1.1"])
    with pytest.raises(UnsafeTarget, match=r"resolves to 192\.168\.1\.1, a private address"):
        guard.check_url("https://internal.example/hook")


@pytest.mark.parametrize(("url", "reason"), FORBIDDEN_URLS)
def test_redirect_to_forbidden_is_rejected(url: str, reason: str) -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": url})

    sender, seen = make_sender(redirect)
    result = sender._post(f"https://{PUBLIC_HOST}/hook", b"{}", {})
    assert [str(request.url) for request in seen] == [f"https://{PUBLIC_HOST}/hook"]
    assert result.url == url
    assert result.error is not None
    assert result.error.startswith("Rejected target: ")
    assert reason in result.error


def test_redirect_to_localhost_is_rejected() -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "http://localhost:9/admin"})

    sender, seen = make_sender(redirect)
    result = sender._post(f"https://{PUBLIC_HOST}/hook", b"{}", {})
    assert len(seen) == 1
    assert result.url == "http://localhost:9/admin"
    assert result.error is not None
    assert "a loopback address" in result.error


@pytest.mark.parametrize(("url", "reason"), FORBIDDEN_URLS)
def test_allow_private_keeps_metadata_blocked(url: str, reason: str) -> None:
    guard = TargetGuard(allow_private=True, resolver=no_dns)
    if "metadata" in reason:
        with pytest.raises(UnsafeTarget, match="a cloud metadata address"):
            guard.check_url(url)
    else:
        assert guard.check_url(url) is None


@pytest.fixture
def loopback_receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def test_loopback_receiver_gets_nothing(loopback_receiver: Receiver) -> None:
    sender = WebhookSender(
        Settings(webhook_allow_private_targets=False, webhook_timeout_seconds=2),
        database=cast(Any, None),
        secrets=SecretBox(None),
    )
    result = sender._post(loopback_receiver.url, b"{}", {"X-Webhook-Id": "d1"})
    assert result.error is not None
    assert result.error.startswith("Rejected target: ")
    assert "a loopback address" in result.error
    assert loopback_receiver.snapshot() == []

    # The same receiver gets the request once private targets are allowed.
    allowed = WebhookSender(
        Settings(webhook_allow_private_targets=True, webhook_timeout_seconds=2),
        database=cast(Any, None),
        secrets=SecretBox(None),
    )
    assert allowed._post(loopback_receiver.url, b"{}", {"X-Webhook-Id": "d1"}).delivered is True
    assert len(loopback_receiver.snapshot()) == 1
