"""Downloader middlewares: the Tor route and the onion-only policy are enforced here,
for every request any spider makes (start requests, links, redirects, retries)."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import (
    MetaRefreshMiddleware,
    RedirectMiddleware,
)
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest

from crawler.onion import onion_of_url
from crawler.tor import CIRCUIT_REASONS, TorSocksError, host_digest, newnym

logger = logging.getLogger(__name__)


class PolicyRefused(IgnoreRequest):
    """Refused before any packet left: `reason` is the named outcome on the record."""

    def __init__(self, reason: str, message: str, target: str | None = None) -> None:
        self.reason = reason
        self.target = target
        super().__init__(message)


class Blocklist:
    """Onion addresses never to request, stored as hex MD5 or SHA-256 of the host
    (the form Ahmia publishes), so the list itself doesn't spread the addresses."""

    def __init__(self, hashes: set[str]) -> None:
        self.hashes = {h.strip().lower() for h in hashes if h.strip()}

    @classmethod
    def from_files(cls, paths: list[str]) -> Blocklist:
        hashes: set[str] = set()
        for path in paths:
            p = Path(path)
            if p.exists():
                for line in p.read_text().splitlines():
                    line = line.split("#", 1)[0].strip()
                    if line:
                        hashes.add(line)
        return cls(hashes)

    def blocked(self, onion: str) -> bool:
        data = onion.lower().encode()
        return (
            hashlib.md5(data).hexdigest() in self.hashes
            or hashlib.sha256(data).hexdigest() in self.hashes
        )


class TorRoutingMiddleware:
    """Last middleware before the download handler: onion-only, blocklist, no media,
    and a Tor SOCKS route with a stable onion → Tor instance mapping."""

    def __init__(self, settings) -> None:
        self.socks = settings.getlist("ONIONWATCH_TOR_SOCKS")
        if not self.socks:
            raise ValueError("ONIONWATCH_TOR_SOCKS is empty: the crawler has no Tor route")
        self.allow_clearnet = settings.getbool("ONIONWATCH_ALLOW_CLEARNET")
        self.blocklist = Blocklist.from_files(
            settings.getlist("ONIONWATCH_BLOCKLIST_DEFAULT") + settings.getlist("ONIONWATCH_BLOCKLIST"))
        self.media_ext = tuple(settings.getlist("ONIONWATCH_MEDIA_EXTENSIONS"))
        self.max_url = settings.getint("URLLENGTH_LIMIT")

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler.settings)
        mw.stats = crawler.stats
        return mw

    def instance_for(self, onion: str) -> int:
        digest = hashlib.sha256(onion.encode()).digest()
        return int.from_bytes(digest[:4], "big") % len(self.socks)

    def process_request(self, request):
        onion = onion_of_url(request.url)
        if onion is None and not self.allow_clearnet:
            reason = "offsite_redirect" if request.meta.get("redirect_urls") else "offsite"
            self.stats.inc_value(f"onionwatch/refused/{reason}")
            raise PolicyRefused(reason, "refused a request that would leave the onion space")
        if onion and self.blocklist.blocked(onion):
            self.stats.inc_value("onionwatch/refused/blocked")
            raise PolicyRefused("blocked", f"{host_digest(onion)} is on the blocklist")
        if len(request.url) > self.max_url:
            raise PolicyRefused("url_too_long", "URL longer than URLLENGTH_LIMIT")
        path = urlsplit(request.url).path.lower()
        if path.endswith(self.media_ext):
            self.stats.inc_value("onionwatch/refused/media")
            raise PolicyRefused("non_text_content", "media is not downloaded")
        index = self.instance_for(onion or "")
        request.meta["proxy"] = f"socks5h://{self.socks[index]}"
        request.meta["tor_instance"] = index


class _OnionOnlyRedirects:
    """Refuse an off-onion redirect where it is made, so it is recorded on the page that
    redirected (not lost to the dupefilter) and never reaches the scheduler."""

    def process_response(self, request, response):
        result = super().process_response(request, response)
        if (isinstance(result, Request) and onion_of_url(result.url) is None
                and not self.crawler.settings.getbool("ONIONWATCH_ALLOW_CLEARNET")):
            kind = (result.meta.get("redirect_reasons") or ["redirect"])[-1]
            self.crawler.stats.inc_value("onionwatch/refused/offsite_redirect")
            raise PolicyRefused("offsite_redirect", f"refused {kind} redirect off the onion space", result.url)
        return result


class OnionRedirectMiddleware(_OnionOnlyRedirects, RedirectMiddleware):
    pass


class OnionMetaRefreshMiddleware(_OnionOnlyRedirects, MetaRefreshMiddleware):
    pass


class DecompressionBomb(IgnoreRequest):
    """The body grew past DOWNLOAD_MAXSIZE while being decompressed."""

    reason = "decompression_bomb"


class BoundedHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decompression, with its one refusal (the size cap, its only IgnoreRequest)
    named as a failure reason."""

    def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            raise DecompressionBomb(str(exc)) from exc


class TorFailureMiddleware:
    """Retries circuit-level onion failures and asks Tor for new circuits (NEWNYM)
    after repeated ones; a missing descriptor is final, not retried."""

    def __init__(self, settings, stats) -> None:
        self.controls = settings.getlist("ONIONWATCH_TOR_CONTROL")
        self.threshold = settings.getint("ONIONWATCH_NEWNYM_AFTER")
        self.stats = stats
        self.consecutive: dict[int, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler.settings, crawler.stats)
        mw.crawler = crawler
        return mw

    def process_response(self, request, response):
        self.consecutive[request.meta.get("tor_instance", 0)] = 0
        return response

    def process_exception(self, request, exception):
        err = _find(exception, TorSocksError)
        if err is None:
            return None
        self.stats.inc_value(f"onionwatch/socks/{err.reason}")
        if err.reason not in CIRCUIT_REASONS:
            return None
        index = request.meta.get("tor_instance", 0)
        with self._lock:
            self.consecutive[index] = self.consecutive.get(index, 0) + 1
            trip = self.consecutive[index] >= self.threshold
            if trip:
                self.consecutive[index] = 0
        if trip and index < len(self.controls):
            threading.Thread(target=self._newnym, args=(index,), daemon=True).start()
        return get_retry_request(request, spider=self.crawler.spider, reason=err.reason)

    def _newnym(self, index: int) -> None:
        host, _, port = self.controls[index].rpartition(":")
        try:
            if newnym(int(port), host or "127.0.0.1"):
                self.stats.inc_value("onionwatch/newnym")
        except Exception as exc:  # control port trouble must not kill the crawl
            logger.warning("NEWNYM on Tor instance %d failed: %s", index, exc)


def _find(exc: BaseException | None, kind: type) -> BaseException | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kind):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
