"""The page fetcher: HTML to text, redirects, limits and the address guard."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fixtures.loopback import LoopbackServer, Reply, page_server_handler

from gl_deep_research.engines.search import PageFetcher, PageFetchError
from gl_deep_research.engines.search import fetch as fetch_module

pytestmark = pytest.mark.unit


@pytest.fixture
def pages() -> Iterator[LoopbackServer]:
    with LoopbackServer(page_server_handler) as server:
        yield server


def test_html_main_text(pages: LoopbackServer) -> None:
    page = PageFetcher(timeout=5, allow_private_addresses=True).fetch(
        pages.url + "/pages/tides.html"
    )

    assert page.title == "Tides"
    assert "Spring tides, with the largest range" in page.text
    assert "Cookie settings" not in page.text
    assert "Topics" not in page.text


def test_redirect_followed(pages: LoopbackServer) -> None:
    page = PageFetcher(timeout=5, allow_private_addresses=True).fetch(
        pages.url + "/redirect/moon.html"
    )

    assert page.url == pages.url + "/pages/moon.html"
    assert "only natural satellite" in page.text


def test_not_found(pages: LoopbackServer) -> None:
    fetcher = PageFetcher(timeout=5, allow_private_addresses=True)

    with pytest.raises(PageFetchError, match="HTTP 404"):
        fetcher.fetch(pages.url + "/pages/missing.html")


def test_plain_text_kept() -> None:
    reply = Reply(body=b"  Plain notes about tides.\n", headers={"Content-Type": "text/plain"})
    with LoopbackServer(lambda request: reply) as server:
        page = PageFetcher(timeout=5, allow_private_addresses=True).fetch(server.url + "/a.txt")

    assert page.text == "Plain notes about tides."


def test_binary_type_rejected() -> None:
    reply = Reply(body=b"%PDF-1.4", headers={"Content-Type": "application/pdf"})
    with LoopbackServer(lambda request: reply) as server:
        fetcher = PageFetcher(timeout=5, allow_private_addresses=True)
        with pytest.raises(PageFetchError, match="application/pdf"):
            fetcher.fetch(server.url + "/a.pdf")


def test_fetch_timeout() -> None:
    slow = Reply(body=b"<p>late</p>", headers={"Content-Type": "text/html"}, delay=5)
    with LoopbackServer(lambda request: slow) as server:
        fetcher = PageFetcher(timeout=0.2, allow_private_addresses=True)
        with pytest.raises(PageFetchError, match=re.escape("timed out after 0.2 s")):
            fetcher.fetch(server.url + "/slow.html")


def test_redirect_loop_stops() -> None:
    loop = Reply(status=302, headers={"Location": "/again"})
    with LoopbackServer(lambda request: loop) as server:
        fetcher = PageFetcher(timeout=5, allow_private_addresses=True)
        with pytest.raises(PageFetchError, match="redirects"):
            fetcher.fetch(server.url + "/start")

    assert len(server.requests) == 6


def test_loopback_blocked_by_default(pages: LoopbackServer) -> None:
    with pytest.raises(PageFetchError, match=re.escape("non-public address 127.0.0.1")):
        PageFetcher(timeout=5).fetch(pages.url + "/pages/tides.html")

    assert pages.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]:8080/",
        "http://0.0.0.0/",
    ],
)
def test_non_public_literals_blocked(url: str) -> None:
    with pytest.raises(PageFetchError, match="non-public address"):
        PageFetcher(timeout=5).fetch(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/", "/relative/path"])
def test_other_schemes_rejected(url: str) -> None:
    with pytest.raises(PageFetchError, match="only absolute http and https"):
        PageFetcher(timeout=5).fetch(url)


def test_redirect_to_blocked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    resolve = fetch_module._addresses

    def resolve_localhost_as_public(host: str, url: str) -> list[Any]:
        if host == "localhost":
            return [ipaddress.ip_address("93.184.215.14")]
        return resolve(host, url)

    monkeypatch.setattr(fetch_module, "_addresses", resolve_localhost_as_public)
    to_metadata = Reply(status=302, headers={"Location": "http://169.254.169.254/latest/"})
    with LoopbackServer(lambda request: to_metadata) as server:
        start = server.url.replace("127.0.0.1", "localhost") + "/go"
        with pytest.raises(PageFetchError, match=re.escape("non-public address 169.254.169.254")):
            PageFetcher(timeout=5).fetch(start)

    assert len(server.requests) == 1
