"""Our own Tor gone mid-crawl: detected, the crawl paused, then resumed or stopped — never a
green run with half the pages.

A downloader middleware (first to see a download's exception) tells "the onion failed"
from "our Tor is not there": the SOCKS port refused the connection (TorUnreachableError),
or a connection-level failure after which the SOCKS port no longer answers (Tor killed
with streams open: they break, then the port is gone). Such a request is not a failure of
the page: it is not recorded, it goes back into the queue, and the engine pauses. A probe
then tries the SOCKS port (a SOCKS5 greeting) and, when given, the control port (bootstrap
at 100 %) with exponential back-off (tenacity) for up to ONIONWATCH_TOR_WAIT seconds:

* Tor back: the crawl resumes (one line says so and how long it waited);
* still gone: one line "Tor is unreachable: …" and the crawl stops with finish reason
  ``tor_unreachable`` (the CLI exits non-zero); what was fetched is journaled, and a resume
  with ``--jobdir`` fetches the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import (
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from tenacity import RetryCallState, wait_exponential

from crawler.outcomes import exception_chain
from crawler.tor import TorPolicyError, TorSocksError, TorUnreachableError

logger = logging.getLogger(__name__)

FINISH_REASON = "tor_unreachable"
MAX_REQUEUES = 20  # a request sent back more often than this fails as it would have anyway
_NETWORK_ERRORS = (DownloadConnectionRefusedError, DownloadFailedError, ResponseDataLossError, DownloadTimeoutError)


async def socks_answers(host: str, port: int, timeout: float = 3.0) -> bool:
    """True if a SOCKS5 server answers a greeting on host:port."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"\x05\x01\x00")
        await writer.drain()
        reply = await asyncio.wait_for(reader.readexactly(2), timeout)
        return reply[0] == 5
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        writer.close()


def bootstrapped(control: str) -> bool:
    """True if the Tor behind this control port reports 100 % bootstrap."""
    from stem.control import Controller

    host, _, port = control.rpartition(":")
    try:
        with Controller.from_port(address=host or "127.0.0.1", port=int(port)) as c:
            c.authenticate()
            return "PROGRESS=100" in c.get_info("status/bootstrap-phase", "")
    except Exception:  # noqa: BLE001 - any failure here means "not ready yet"
        return False


class TorWatch:
    def __init__(self, crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.socks = s.getlist("ONIONWATCH_TOR_SOCKS")
        self.controls = s.getlist("ONIONWATCH_TOR_CONTROL")
        self.wait = s.getfloat("ONIONWATCH_TOR_WAIT", 180.0)
        self.max_backoff = s.getfloat("ONIONWATCH_TOR_PROBE_MAX", 10.0)
        self.down_since: float | None = None
        self.recovery: asyncio.Task | None = None
        self.closing: asyncio.Future | None = None
        self.outages: list[float] = []
        self.stopped = False
        self._probe_cache: dict[str, tuple[float, bool]] = {}

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    # -- telling our Tor's absence from an onion's failure ----------------------------------
    async def _socks_alive(self, proxy: str) -> bool:
        now = time.monotonic()
        cached = self._probe_cache.get(proxy)
        if cached and now - cached[0] < 1.0:
            return cached[1]
        parts = urlsplit(proxy)
        alive = await socks_answers(parts.hostname or "127.0.0.1", parts.port or 9050, timeout=3.0)
        self._probe_cache[proxy] = (now, alive)
        return alive

    async def process_exception(self, request, exception):
        # Also while stopping: a request cut off by our Tor's absence goes back to the queue
        # (dropped there when the crawl closes), never into the journal as the page's failure.
        chain = list(exception_chain(exception))
        if any(isinstance(e, (TorSocksError, TorPolicyError)) for e in chain):
            return None  # Tor answered (the onion failed) or our policy refused: a real outcome
        proxy = str(request.meta.get("proxy") or "")
        if any(isinstance(e, TorUnreachableError) for e in chain):
            down = True
        elif isinstance(exception, _NETWORK_ERRORS) and proxy:
            down = not await self._socks_alive(proxy)
        else:
            return None
        if not down:
            return None
        requeued = int(request.meta.get("tor_requeued", 0))
        if requeued >= MAX_REQUEUES:
            return None
        self._went_down(proxy)
        self.stats.inc_value("onionwatch/tor/requeued")
        retry = request.copy()
        retry.meta["tor_requeued"] = requeued + 1
        retry.dont_filter = True  # already counted by the dupefilter when first scheduled
        return retry

    # -- pausing and probing -----------------------------------------------------------------
    def _went_down(self, proxy: str) -> None:
        if self.down_since is not None:
            return
        self.down_since = time.monotonic()
        self.crawler.engine.pause()
        where = urlsplit(proxy).netloc.rsplit("@", 1)[-1] if proxy else ",".join(self.socks)
        logger.warning("Tor is unreachable (SOCKS %s does not answer): crawl paused, waiting up to %.0f s for it",
                       where, self.wait)
        self.recovery = asyncio.ensure_future(self._recover(where))

    async def _tor_ready(self) -> bool:
        for i, socks in enumerate(self.socks):
            host, _, port = socks.rpartition(":")
            if not await socks_answers(host or "127.0.0.1", int(port)):
                return False
            if i < len(self.controls) and not await asyncio.to_thread(bootstrapped, self.controls[i]):
                return False
        return True

    async def _recover(self, where: str) -> None:
        wait = wait_exponential(multiplier=0.5, min=0.5, max=self.max_backoff)
        attempt = 0
        assert self.down_since is not None
        deadline = self.down_since + self.wait
        while not self.stopped:
            if await self._tor_ready():
                took = time.monotonic() - self.down_since
                self.outages.append(round(took, 1))
                self.stats.set_value("onionwatch/tor/outages", list(self.outages))
                self.down_since = None
                self._probe_cache.clear()
                logger.info("Tor is back after %.1f s: crawl resumed", took)
                self.crawler.engine.unpause()
                return
            if time.monotonic() >= deadline:
                break
            attempt += 1
            state = RetryCallState(None, None, (), {})
            state.attempt_number = attempt
            await asyncio.sleep(min(float(wait(state)), max(0.0, deadline - time.monotonic())))
        if self.stopped:
            return
        self.stopped = True
        took = time.monotonic() - self.down_since
        self.stats.set_value("onionwatch/tor/unreachable_seconds", round(took, 1))
        logger.error("Tor is unreachable: SOCKS %s has not answered for %.0f s; the crawl stops. What was fetched "
                     "is journaled; run the same crawl with --jobdir again to fetch the rest", where, took)
        self.crawler.engine.unpause()  # let the engine close: nothing more is requested
        # its own task, like Scrapy's CloseSpider: spider_closed (sent while closing) ends this one
        self.closing = asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=FINISH_REASON))

    def spider_closed(self, spider=None, reason=None) -> None:
        self.stopped = True
        if self.recovery is not None and not self.recovery.done():
            self.recovery.cancel()
