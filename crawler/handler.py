"""The only download handler the crawler has: Scrapy's httpx handler with a network
backend that can only speak SOCKS5 to Tor (see tor.TorSocksBackend).

Why this and not privoxy: per-onion IsolateSOCKSAuth needs a SOCKS username per
request, Tor's extended SOCKS error codes must reach us to name failures, and there
is one fewer process per Tor instance. bench/crawl_bench.py measures it against
privoxy and a bare aiohttp-socks client.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpcore2
from scrapy.core.downloader.handlers._httpx import HttpxDownloadHandler, httpx
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.utils._download_handlers import NullCookieJar

from crawler.tor import TorPolicyError, TorSocksBackend


class NonTextContent(IgnoreRequest):
    """Response is media or binary: dropped at the headers, body never read."""

    reason = "non_text_content"


class TorDownloadHandler(HttpxDownloadHandler):
    """Refuses any request without a Tor SOCKS route; enforces a wall-clock timeout
    (a slow-drip server can't hold a slot past DOWNLOAD_TIMEOUT) and drops non-text
    responses before their body is read."""

    def __init__(self, crawler) -> None:  # noqa: ANN001
        settings = crawler.settings
        self._allow_clearnet = settings.getbool("ONIONWATCH_ALLOW_CLEARNET")
        self._text_types = tuple(settings.getlist("ONIONWATCH_TEXT_CONTENT_TYPES"))
        self._keepalive = settings.getint("ONIONWATCH_KEEPALIVE_CONNECTIONS")
        super().__init__(crawler)

    def _make_client(self, proxy_url: str | None = None):  # noqa: ANN202
        if proxy_url is None:
            backend = None  # the default client: can't connect anywhere
        else:
            parts = urlsplit(proxy_url)
            if parts.scheme not in ("socks5h", "socks5"):
                raise TorPolicyError("only a Tor SOCKS proxy is a valid route")
            backend = TorSocksBackend(parts.hostname or "127.0.0.1", parts.port or 9050, self._allow_clearnet)
        transport = httpx.AsyncHTTPTransport(
            verify=self._ssl_context, limits=self._limits, trust_env=False
        )
        # httpx exposes no network_backend argument; swap in a pool that uses ours.
        # Scrapy already bounds concurrency; the pool's job is to keep Tor streams open
        # across many onions (a new stream costs a round trip over a 6-hop rendezvous
        # circuit), so it may hold more idle connections than there are slots, for longer.
        transport._pool = httpcore2.AsyncConnectionPool(
            ssl_context=self._ssl_context,
            max_connections=None,
            max_keepalive_connections=self._keepalive,
            keepalive_expiry=30.0,
            network_backend=backend or _RefuseAll(),
        )
        client = httpx.AsyncClient(cookies=NullCookieJar(), transport=transport)
        for header_name in ("accept", "accept-encoding", "user-agent"):
            client.headers.pop(header_name, None)
        return client

    async def download_request(self, request):  # noqa: ANN001, ANN201
        if not str(request.meta.get("proxy", "")).startswith("socks5"):
            raise TorPolicyError("request reached the handler without a Tor route")
        timeout = request.meta.get("download_timeout", 60.0)
        try:
            return await asyncio.wait_for(super().download_request(request), timeout=timeout)
        except asyncio.TimeoutError as exc:
            raise DownloadTimeoutError(f"download took longer than {timeout} s") from exc

    async def _read_response(self, response, request):  # noqa: ANN001, ANN202
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and not ctype.startswith(self._text_types):
            raise NonTextContent(f"content-type {ctype}")
        return await super()._read_response(response, request)


class _RefuseAll(httpcore2.AsyncNetworkBackend):
    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001
        raise TorPolicyError("no Tor route for this request")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # noqa: ANN001
        raise TorPolicyError("no Tor route for this request")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
