"""Signatures, the SSRF guard and the sender's redirect handling, without services."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import time
from typing import Any, cast

import httpx
import pytest

from gl_deep_research.settings import Settings
from gl_deep_research.webhooks import InvalidSignature, sign, verify_signature
from gl_deep_research.webhooks.guard import (
    TargetGuard,
    UnsafeTarget,
    forbidden_reason,
    url_problem,
)
from gl_deep_research.webhooks.secrets import SecretBox
from gl_deep_research.webhooks.sender import MAX_BACKOFF_SECONDS, WebhookSender, backoff_seconds
from tests.service.support import REPO_ROOT

pytestmark = pytest.mark.unit

SECRET = "whsec-test"
BODY = b'{"task_id":"t1","status":"SUCCESS"}'


def test_signature_matches_contract_format() -> None:
    header = sign(SECRET, BODY, timestamp=1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_verify_accepts_fresh_signature() -> None:
    header = sign(SECRET, BODY, timestamp=1_700_000_000)
    assert verify_signature(SECRET, BODY, header, now=1_700_000_100) == 1_700_000_000


@pytest.mark.parametrize(
    ("secret", "body", "now", "message"),
    [
        ("other-secret", BODY, 1_700_000_000, "does not match"),
        (SECRET, BODY + b" ", 1_700_000_000, "does not match"),
        (SECRET, BODY, 1_700_000_301, "more than the tolerance of 300 s"),
        (SECRET, BODY, 1_699_999_699, "more than the tolerance of 300 s"),
    ],
    ids=["wrong-secret", "changed-body", "stale", "future"],
)
def test_verify_rejects(secret: str, body: bytes, now: float, message: str) -> None:
    header = sign(SECRET, BODY, timestamp=1_700_000_000)
    with pytest.raises(InvalidSignature, match=message):
        verify_signature(secret, body, header, now=now)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=abc,v1=def", "t=1700000000"])
def test_verify_rejects_malformed_header(header: str | None) -> None:
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, BODY, header, now=1_700_000_000)


def test_verify_rejects_non_ascii_digest() -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(SECRET, BODY, "t=1700000000,v1=\u00e9\u00e9", now=1_700_000_000)


def test_verify_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(first: bytes, second: bytes) -> bool:
        compared.append((first, second))
        return compare(first, second)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    header = sign(SECRET, BODY, timestamp=1_700_000_000)
    verify_signature(SECRET, BODY, header, now=1_700_000_000)
    digest = header.split("v1=")[1].encode()
    assert compared == [(digest, digest)]


def docs_verify_function() -> Any:
    """Return the `verify` function that docs/webhooks.md gives receivers to copy."""
    text = (REPO_ROOT / "docs" / "webhooks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    source = next(block for block in blocks if "def verify(" in block)
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    return namespace["verify"]


def test_docs_verify_accepts_signature() -> None:
    verify = docs_verify_function()
    header = sign(SECRET, BODY, timestamp=int(time.time()))
    assert verify(SECRET, BODY, header)
    assert not verify("other-secret", BODY, header)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=abc,v1=00", "t=1700000000", f"t={2**40},v1=\u00e9", "t=\u00b2,v1=00"],
)
def test_docs_verify_rejects_malformed_header(header: str) -> None:
    verify = docs_verify_function()
    assert not verify(SECRET, BODY, header.replace("1700000000", str(int(time.time()))))


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address (127.0.0.1, embedded as IPv4-mapped)"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("169.254.10.10", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("224.0.0.1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a shared (carrier NAT) address"),
    ],
)
def test_guard_rejects_address(address: str, reason: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address), allow_private=False) == reason


@pytest.mark.parametrize(
    ("address", "allow_private", "reason"),
    [
        (
            "2002:a9fe:a9fe::1",
            False,
            "a cloud metadata address (169.254.169.254, embedded as 6to4)",
        ),
        ("2002:a9fe:a9fe::1", True, "a cloud metadata address (169.254.169.254, embedded as 6to4)"),
        ("2002:7f00:1::1", False, "a loopback address (127.0.0.1, embedded as 6to4)"),
        ("2002:0a00:0001::1", False, "a private address (10.0.0.1, embedded as 6to4)"),
        (
            "64:ff9b::a9fe:a9fe",
            True,
            "a cloud metadata address (169.254.169.254, embedded as NAT64)",
        ),
        ("64:ff9b::7f00:1", False, "a loopback address (127.0.0.1, embedded as NAT64)"),
        (
            "::a9fe:a9fe",
            True,
            "a cloud metadata address (169.254.169.254, embedded as IPv4-compatible)",
        ),
        ("::a00:1", False, "a private address (10.0.0.1, embedded as IPv4-compatible)"),
        (
            "::ffff:a9fe:a9fe",
            True,
            "a cloud metadata address (169.254.169.254, embedded as IPv4-mapped)",
        ),
        (
            "::ffff:6464:64c8",
            True,
            "a cloud metadata address (100.100.100.200, embedded as IPv4-mapped)",
        ),
        # Teredo stores the client address with every bit inverted: 0x56015601.
        (
            "2001:0:a9fe:a9fe::",
            True,
            "a cloud metadata address (169.254.169.254, embedded as Teredo server)",
        ),
        (
            "2001:0:5db8:d822:0:0:5601:5601",
            True,
            "a cloud metadata address (169.254.169.254, embedded as Teredo client)",
        ),
    ],
)
def test_guard_checks_embedded_ipv4(address: str, allow_private: bool, reason: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address), allow_private) == reason


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:a9fe:a9fe::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[::a9fe:a9fe]/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
def test_guard_rejects_embedded_metadata_url(url: str) -> None:
    for allow_private in (False, True):
        guard = TargetGuard(allow_private=allow_private, resolver=no_dns)
        with pytest.raises(UnsafeTarget, match="a cloud metadata address"):
            guard.check_url(url)


def test_guard_allows_public_nat64_address() -> None:
    # 64:ff9b::5db8:d822 embeds 93.184.216.34, a public address.
    assert forbidden_reason(ipaddress.ip_address("64:ff9b::5db8:d822"), False) is None


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"unexpected DNS lookup of {host!r}")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "http://127.0.0.1:18438/x\r\nX-Injected: 1",
            "contains a control or format character (U+000D) at position 24",
        ),
        ("http://hooks.example/a\x00b", "contains a control or format character (U+0000)"),
        ("http://hooks.example/a\u200bb", "contains a control or format character (U+200B)"),
        ("http://hooks.example/a b", "contains whitespace (U+0020) at position 22"),
        ("http://hooks.example/a\u3000b", "contains whitespace (U+3000)"),
        ("ftp://hooks.example/", "has the scheme 'ftp', not http or https"),
        ("hooks.example/x", "has no scheme"),
        ("http:///nohost", "has no host"),
        ("http://hooks.example:0/", "has the port 0, outside 1-65535"),
        ("http://hooks.example:99999/", "cannot be parsed: Port out of range 0-65535"),
        ("http://hooks.example:abc/", "cannot be parsed: Port could not be cast"),
        ("http://[::1/", "cannot be parsed: Invalid IPv6 URL"),
        ("http://hooks.example/" + "a" * 2048, "is 2069 characters long, more than the maximum"),
    ],
)
def test_url_problem_names_the_defect(url: str, problem: str) -> None:
    found = url_problem(url)
    assert found is not None
    assert found.startswith(problem)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example/gldr",
        "http://127.0.0.1:18438/x?a=1&b=%0D%0A",
        "http://[::1]:65535/",
        "https://hooks.example:1/" + "a" * 2000,
    ],
)
def test_url_problem_accepts_valid_url(url: str) -> None:
    assert url_problem(url) is None


def test_guard_allows_public_address() -> None:
    assert forbidden_reason(ipaddress.ip_address("93.184.216.34"), allow_private=False) is None


def test_allow_private_still_rejects_metadata() -> None:
    assert forbidden_reason(ipaddress.ip_address("127.0.0.1"), allow_private=True) is None
    metadata = ipaddress.ip_address("169.254.169.254")
    assert forbidden_reason(metadata, allow_private=True) == "a cloud metadata address"


def test_guard_resolves_hostnames() -> None:
    # `localhost` resolves through the system resolver to loopback only.
    with pytest.raises(UnsafeTarget, match="a loopback address"):
        TargetGuard(allow_private=False).check_url("http://localhost:9/hook")


def test_guard_rejects_when_any_address_is_private() -> None:
    guard = TargetGuard(
        allow_private=False, resolver=lambda host, port: ["93.184.216.34", "10.0.0.5"]
    )
    with pytest.raises(UnsafeTarget, match=r"resolves to 10\.0\.0\.5, a private address"):
        guard.check_url("https://mixed.example/hook")


@pytest.mark.parametrize("url", ["ftp://host/x", "http:///nohost", "http://host:99999/"])
def test_guard_rejects_malformed_urls(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        TargetGuard(allow_private=True).check_url(url)


def test_backoff_doubles_with_jitter() -> None:
    for attempt, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0)):
        for _ in range(50):
            delay = backoff_seconds(attempt, base_seconds=2.0)
            assert ceiling / 2 <= delay <= ceiling
    assert backoff_seconds(40, base_seconds=2.0) <= MAX_BACKOFF_SECONDS


PUBLIC_RESOLVER = {"hooks.example": ["93.184.216.34"]}


def make_sender(handler: object) -> tuple[WebhookSender, list[httpx.Request]]:
    """A sender whose HTTP client records requests instead of connecting anywhere."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)  # type: ignore[operator,no-any-return]

    guard = TargetGuard(allow_private=False, resolver=lambda host, port: PUBLIC_RESOLVER[host])
    sender = WebhookSender(
        Settings(),
        database=cast(Any, None),
        secrets=SecretBox(None),
        guard=guard,
        transport=httpx.MockTransport(record),
    )
    return sender, seen


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/hook", "http://[::1]/hook", "http://169.254.169.254/latest"]
)
def test_sender_rejects_before_connecting(url: str) -> None:
    sender, seen = make_sender(lambda request: httpx.Response(200))
    result = sender._post(url, b"{}", {})
    assert result.error is not None
    assert result.error.startswith("Rejected target: ")
    assert result.delivered is False
    assert seen == []


def test_sender_checks_every_redirect() -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "http://10.0.0.7/steal"})

    sender, seen = make_sender(redirect)
    result = sender._post("https://hooks.example/a", b"{}", {})
    assert [str(request.url) for request in seen] == ["https://hooks.example/a"]
    assert result.url == "http://10.0.0.7/steal"
    assert result.error is not None
    assert "10.0.0.7, a private address" in result.error


def test_sender_follows_at_most_five_redirects() -> None:
    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "/again"})

    sender, seen = make_sender(loop)
    result = sender._post("https://hooks.example/start", b"{}", {})
    assert len(seen) == 6
    assert result.error == "More than 5 redirects."


def test_sender_reposts_body_after_redirect() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(308, headers={"Location": "/new"})
        return httpx.Response(204)

    sender, seen = make_sender(answer)
    result = sender._post("https://hooks.example/old", b'{"a":1}', {"X-Webhook-Id": "d1"})
    assert result.delivered is True
    assert result.status_code == 204
    assert [request.method for request in seen] == ["POST", "POST"]
    assert seen[1].content == b'{"a":1}'
    assert seen[1].headers["x-webhook-id"] == "d1"


def test_sender_fails_malformed_url_permanently() -> None:
    sender, seen = make_sender(lambda request: httpx.Response(200))
    result = sender._post("http://127.0.0.1:18438/x\r\nX-Injected: 1", b"{}", {})
    assert seen == []
    assert result.delivered is False
    assert result.permanent is True
    assert result.error == (
        "The webhook URL contains a control or format character (U+000D) at position 24."
    )


@pytest.mark.parametrize(
    "location", ["http://[::1", "http://hooks.example/a\x00b", "http://hooks.example:0/"]
)
def test_sender_rejects_malformed_redirect(location: str) -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": location})

    sender, seen = make_sender(redirect)
    result = sender._post("https://hooks.example/a", b"{}", {})
    assert len(seen) == 1
    assert result.delivered is False
    assert result.status_code is None
    assert result.error is not None
