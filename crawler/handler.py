"""The only download handler the crawler has: it owns one httpcore connection pool per Tor
SocksPort, whose network backend (tor.TorSocksBackend) can only speak SOCKS5 to Tor.

Built on Scrapy's public handler API (BaseDownloadHandler, the documented download
exceptions, responsetypes) and httpcore's public pool, so no Scrapy internals are involved.

Why this and not privoxy: per-onion IsolateSOCKSAuth needs a SOCKS username per request,
Tor's extended SOCKS error codes must reach us to name failures, and there is one fewer
process per Tor instance. bench/crawl_bench.py measures it against privoxy and a bare
aiohttp-socks client.

Honoured: DOWNLOAD_TIMEOUT (wall clock, so a slow drip ends too), DOWNLOAD_MAXSIZE /
DOWNLOAD_WARNSIZE (and their meta keys), DOWNLOAD_FAIL_ON_DATALOSS,
DOWNLOAD_VERIFY_CERTIFICATES. Not emitted: the headers_received / bytes_received signals.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from io import BytesIO
from urllib.parse import urlsplit

import httpcore2
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from crawler.tor import TorPolicyError, TorSocksBackend

logger = logging.getLogger(__name__)


class NonTextContent(IgnoreRequest):
    """Response is media or binary: dropped at the headers, body never read."""

    reason = "non_text_content"


class TorDownloadHandler(BaseDownloadHandler):
    """Refuses any request without a Tor SOCKS route; enforces a wall-clock timeout and the
    size caps, and drops non-text responses before their body is read."""

    lazy = False

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        s = crawler.settings
        self.allow_clearnet = s.getbool("ONIONWATCH_ALLOW_CLEARNET")
        self.text_types = tuple(s.getlist("ONIONWATCH_TEXT_CONTENT_TYPES"))
        self.keepalive = s.getint("ONIONWATCH_KEEPALIVE_CONNECTIONS")
        self.maxsize = s.getint("DOWNLOAD_MAXSIZE")
        self.warnsize = s.getint("DOWNLOAD_WARNSIZE")
        self.fail_on_dataloss = s.getbool("DOWNLOAD_FAIL_ON_DATALOSS")
        self.ssl_context = _ssl_context(s.getbool("DOWNLOAD_VERIFY_CERTIFICATES"))
        self.pools: dict[str, httpcore2.AsyncConnectionPool] = {}

    def pool_for(self, proxy_url: str) -> httpcore2.AsyncConnectionPool:
        """One pool per Tor SocksPort. Scrapy already bounds concurrency; the pool's job is
        to keep Tor streams open across many onions (a new stream costs a round trip over a
        6-hop rendezvous circuit), so it may hold more idle connections than there are
        slots, for longer."""
        pool = self.pools.get(proxy_url)
        if pool is None:
            parts = urlsplit(proxy_url)
            if parts.scheme not in ("socks5h", "socks5"):
                raise TorPolicyError("only a Tor SOCKS proxy is a valid route")
            backend = TorSocksBackend(parts.hostname or "127.0.0.1", parts.port or 9050, self.allow_clearnet)
            pool = httpcore2.AsyncConnectionPool(
                ssl_context=self.ssl_context, max_connections=None, max_keepalive_connections=self.keepalive,
                keepalive_expiry=30.0, network_backend=backend,
            )
            self.pools[proxy_url] = pool
        return pool

    async def download_request(self, request) -> Response:
        proxy = str(request.meta.get("proxy") or "")
        if not proxy.startswith("socks5"):
            raise TorPolicyError("request reached the handler without a Tor route")
        timeout = float(request.meta.get("download_timeout", 60.0))
        started = time.monotonic()
        try:
            response = await asyncio.wait_for(self._fetch(request, self.pool_for(proxy), timeout), timeout=timeout)
        except TimeoutError as exc:
            raise DownloadTimeoutError(f"download took longer than {timeout} s") from exc
        request.meta["download_latency"] = time.monotonic() - started
        return response

    async def _fetch(self, request, pool: httpcore2.AsyncConnectionPool, timeout: float) -> Response:
        headers = request.headers.copy()
        headers.pop(b"Proxy-Authorization", None)
        extensions = {"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}}
        try:
            async with pool.stream(request.method, request.url, headers=headers.to_tuple_list(),
                                   content=request.body or None, extensions=extensions) as resp:
                return await self._read(request, resp)
        except httpcore2.TimeoutException as exc:
            raise DownloadTimeoutError(f"timed out after {timeout} s") from exc
        except httpcore2.ConnectError as exc:
            raise DownloadConnectionRefusedError(str(exc)) from exc
        except (httpcore2.NetworkError, httpcore2.ProtocolError, httpcore2.UnsupportedProtocol) as exc:
            raise DownloadFailedError(f"{type(exc).__name__}: {exc}") from exc

    async def _read(self, request, resp: httpcore2.Response) -> Response:
        headers = Headers(resp.headers)
        ctype = (headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip().lower()
        if ctype and not ctype.startswith(self.text_types):
            raise NonTextContent(f"content-type {ctype}")
        maxsize = request.meta.get("download_maxsize", self.maxsize)
        warnsize = request.meta.get("download_warnsize", self.warnsize)
        length = headers.get(b"Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if maxsize and expected and expected > maxsize:
            raise DownloadCancelledError(f"Content-Length {expected} exceeds DOWNLOAD_MAXSIZE {maxsize}")
        body = BytesIO()
        received = 0
        flags: list[str] = []
        try:
            async for chunk in resp.aiter_stream():
                body.write(chunk)
                received += len(chunk)
                if maxsize and received > maxsize:
                    raise DownloadCancelledError(f"body exceeds DOWNLOAD_MAXSIZE {maxsize}")
        except httpcore2.RemoteProtocolError as exc:
            if request.meta.get("download_fail_on_dataloss", self.fail_on_dataloss):
                raise ResponseDataLossError(str(exc)) from exc
            flags.append("dataloss")
        if warnsize and received > warnsize:
            logger.debug("%s: body of %d bytes is over DOWNLOAD_WARNSIZE", request.url, received)
        data = body.getvalue()
        http_version = resp.extensions.get("http_version", b"HTTP/1.1")
        respcls = responsetypes.from_args(headers=headers, url=request.url, body=data)
        return respcls(url=request.url, status=resp.status, headers=headers, body=data, flags=flags,
                       protocol=http_version.decode("ascii", "replace"))

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.aclose()


def _ssl_context(verify: bool) -> ssl.SSLContext:
    """Onion services authenticate by their address; their certificates are usually
    self-signed, so they are checked only when DOWNLOAD_VERIFY_CERTIFICATES says so."""
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
