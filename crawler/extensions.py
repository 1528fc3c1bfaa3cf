"""Crawl progress on the terminal, and a network guard that proves (in tests) that
nothing in the crawler process dials or resolves anything but loopback."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import sys
import time
from typing import TextIO

from scrapy import signals
from twisted.internet import task

logger = logging.getLogger(__name__)


class Progress:
    """Pages/s, onions seen, failures — every few seconds, and a summary at the end. On a
    terminal the line redraws in place; anywhere else each report is a line of its own."""

    def __init__(self, crawler, stream: TextIO | None = None) -> None:
        self.crawler = crawler
        self.interval = crawler.settings.getfloat("ONIONWATCH_PROGRESS_INTERVAL")
        self.summary_file = crawler.settings.get("ONIONWATCH_SUMMARY_FILE")
        self.stream = stream or sys.stderr
        self.redraw = _isatty(self.stream)
        self.started = time.monotonic()
        self.pages = self.failures = 0
        self.onions: set[str] = set()
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item, signal=signals.item_scraped)
        return ext

    def item(self, item, response=None, spider=None) -> None:
        if item.get("failure"):
            self.failures += 1
        else:
            self.pages += 1
            self.onions.add(item.get("onion", ""))

    def opened(self, spider=None) -> None:
        self.started = time.monotonic()
        if self.interval > 0:
            self.loop = task.LoopingCall(self.report)
            self.loop.start(self.interval, now=False)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return (f"crawling: {elapsed:6.1f}s  {self.pages} pages ({self.pages / elapsed:.1f}/s)  "
                f"{len(self.onions)} onions  {self.failures} failures")

    def report(self, final: bool = False) -> None:
        if self.redraw:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def summary(self) -> dict:
        elapsed = time.monotonic() - self.started
        stats = self.crawler.stats.get_stats()

        def group(prefix: str) -> dict[str, int]:
            return {k[len(prefix):]: v for k, v in stats.items() if k.startswith(prefix)}

        caps = group("onionwatch/caps/")
        # links Scrapy's DepthMiddleware / UrlLengthMiddleware dropped are caps too
        for name, key in (("depth", "depth/request_ignored_count"), ("url", "urllength/request_ignored_count")):
            if stats.get(key):
                caps[name] = caps.get(name, 0) + stats[key]
        return {
            "seconds": round(elapsed, 2),
            "pages": self.pages,
            "pages_per_second": round(self.pages / elapsed, 2) if elapsed else 0.0,
            "onions": len(self.onions),
            "failures": self.failures,
            "failure_reasons": group("onionwatch/failure/"),
            "refused": group("onionwatch/refused/"),
            "caps": caps,
            "prefilter": group("onionwatch/prefilter/") or None,  # crawler.prefilter, with --prefilter
            "stored": stats.get("onionwatch/stored", 0),  # acknowledged: journaled (and written, for --output)
            "store_failed": stats.get("onionwatch/store_failed", 0),
            "journaled": stats.get("onionwatch/journaled", 0),
            "index": stats.get("onionwatch/index"),  # crawler.indexer: what reached the index, what did not
            "tor": {"outages_seconds": stats.get("onionwatch/tor/outages", []),
                    "requeued": stats.get("onionwatch/tor/requeued", 0),
                    "unreachable_seconds": stats.get("onionwatch/tor/unreachable_seconds")},
            "finish_reason": stats.get("finish_reason"),
        }

    def closed(self, spider=None, reason=None) -> None:
        if self.loop and self.loop.running:
            self.loop.stop()
        summary = self.summary()
        summary["finish_reason"] = reason
        if self.interval > 0:
            self.report(final=True)
        if self.summary_file:
            with open(self.summary_file, "w") as fh:
                json.dump(summary, fh, indent=2)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class NetworkGuard:
    """Patches the socket layer of this process: a DNS lookup of a .onion name, or any
    connection to a non-loopback address (or to a loopback port not allowed), is
    recorded to ONIONWATCH_GUARD_LOG and fails loudly."""

    def __init__(self, settings) -> None:
        self.log_path = settings.get("ONIONWATCH_GUARD_LOG")
        self.allowed_ports = {int(p) for p in settings.getlist("ONIONWATCH_GUARD_ALLOW_PORTS")}

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.getbool("ONIONWATCH_NETWORK_GUARD"):
            raise NotConfigured
        guard = cls(crawler.settings)
        guard.install()
        return guard

    def _violation(self, kind: str, target: str) -> None:
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps({"kind": kind, "target": target, "at": time.time()}) + "\n")
        raise OSError(f"network guard: {kind} {target} refused")

    def install(self) -> None:
        guard = self
        real_getaddrinfo = socket.getaddrinfo
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex

        def getaddrinfo(host, *args, **kwargs):
            name = host.decode() if isinstance(host, bytes) else str(host or "")
            if name.lower().rstrip(".").endswith(".onion"):
                guard._violation("dns_onion", name)
            if name and not _is_loopback_literal(name) and name != "localhost":
                guard._violation("dns", name)
            return real_getaddrinfo(host, *args, **kwargs)

        def check(address) -> None:
            if isinstance(address, tuple) and len(address) >= 2:
                host, port = address[0], address[1]
                if not _is_loopback_literal(str(host)):
                    guard._violation("connect", f"{host}:{port}")
                if guard.allowed_ports and int(port) not in guard.allowed_ports:
                    guard._violation("connect_port", f"{host}:{port}")

        def connect(sock, address):
            check(address)
            return real_connect(sock, address)

        def connect_ex(sock, address):
            check(address)
            return real_connect_ex(sock, address)

        socket.getaddrinfo = getaddrinfo
        socket.socket.connect = connect
        socket.socket.connect_ex = connect_ex
        logger.info("network guard installed (loopback only, no .onion DNS)")


def _is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
