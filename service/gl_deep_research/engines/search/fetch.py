"""Fetch a web page and turn it into plain text with trafilatura.

Only `http` and `https` URLs are fetched. The URL comes from model output,
so by default a host that is or resolves to a non-global address (loopback,
private, link-local and so on) is rejected before any request is sent.
This keeps the model away from internal services and cloud metadata
endpoints. `allow_private_addresses=True` turns the check off. Redirects are
followed by hand so that every hop passes the same check.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
import trafilatura
from trafilatura import extract_metadata

from gl_deep_research.engines.search.base import PageFetchError
from gl_deep_research.engines.search.http import shared_client

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
# Maximum bytes read from a response body; the rest of a larger page is ignored.
MAX_PAGE_BYTES = 5_000_000
USER_AGENT = "gl-open-deepresearch/0.1 (+page fetcher)"
TEXT_TYPES = ("text/plain", "text/markdown")
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class FetchedPage:
    """The main text of a fetched page; `url` is the final URL after redirects."""

    url: str
    title: str
    text: str


class PageFetcher:
    """Fetch pages with a per-request timeout in seconds."""

    def __init__(self, timeout: float, allow_private_addresses: bool = False) -> None:
        self.timeout = timeout
        self.allow_private_addresses = allow_private_addresses

    def fetch(self, url: str) -> FetchedPage:
        """Fetch `url` and return its main text; raises `PageFetchError` on any failure."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            self._check_url(current)
            status, headers, body = self._get(current)
            if status in (301, 302, 303, 307, 308) and "location" in headers:
                current = urljoin(current, headers["location"])
                continue
            if not 200 <= status < 300:
                raise PageFetchError(current, f"the server returned HTTP {status}.")
            return _to_page(current, headers.get("content-type", ""), body)
        raise PageFetchError(url, f"more than {MAX_REDIRECTS} redirects.")

    def _get(self, url: str) -> tuple[int, httpx.Headers, bytes]:
        headers = {"User-Agent": USER_AGENT}
        try:
            with shared_client().stream(
                "GET", url, headers=headers, timeout=self.timeout, follow_redirects=False
            ) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= MAX_PAGE_BYTES:
                        logger.info("Page %s is larger than %d bytes; truncated", url, len(body))
                        break
                return response.status_code, response.headers, bytes(body[:MAX_PAGE_BYTES])
        except httpx.TimeoutException:
            raise PageFetchError(url, f"timed out after {self.timeout:g} s.") from None
        except httpx.HTTPError as err:
            raise PageFetchError(url, f"the request failed: {err}.") from err

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PageFetchError(url, "only absolute http and https URLs can be fetched.")
        if self.allow_private_addresses:
            return
        # NOTE: the host is resolved again when connecting, so a DNS answer that
        # changes between the check and the request (DNS rebinding) is not caught.
        for address in _addresses(parts.hostname, url):
            if not address.is_global:
                raise PageFetchError(
                    url, f"the host resolves to the non-public address {address}, which is blocked."
                )


def _addresses(host: str, url: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as err:
        raise PageFetchError(url, f"the host name {host!r} could not be resolved: {err}.") from err
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _to_page(url: str, content_type: str, body: bytes) -> FetchedPage:
    media_type = content_type.split(";")[0].strip().lower()
    text = body.decode("utf-8", errors="replace")
    if media_type in TEXT_TYPES:
        return FetchedPage(url=url, title=url, text=text.strip())
    if media_type and media_type not in HTML_TYPES:
        raise PageFetchError(url, f"the content type {media_type!r} is not HTML or plain text.")
    extracted = trafilatura.extract(text, url=url, favor_recall=True)
    if not extracted:
        raise PageFetchError(url, "no main text could be extracted from the HTML.")
    metadata = extract_metadata(text)
    title = metadata.title if metadata is not None and metadata.title else url
    return FetchedPage(url=url, title=str(title), text=str(extracted))
