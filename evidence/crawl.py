"""WARC files written while crawling: a Scrapy extension, enabled by the crawl command.

    EXTENSIONS = {"evidence.crawl.WarcRecorder": 600}
    ONIONWATCH_WARC_DIR = "/path/to/warcs"     (NotConfigured without it)
    ONIONWATCH_WARC_OPERATOR, ONIONWATCH_WARC_MAX_BYTES (default 1 GiB per file)

Every response the crawl receives becomes a request + response record pair (WARC/1.1,
SHA-256 digests), so the WARC payload digest is the page record's ``sha256``. Scrapy hands
over bodies already decoded (transfer and content encodings removed), so the recorded HTTP
headers drop Content-Encoding / Transfer-Encoding and carry the decoded length; the warcinfo
record says so. Media are never fetched by the crawler; a non-text response that arrives
anyway is recorded without its body.

These files hold raw bodies, personal data included, in clear (0600 files in a 0700
directory): the encrypted snapshot store is the default place for bodies, and ``onionwatch
evidence export`` rebuilds WARC from it. Turn this on only where that is acceptable.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from evidence.warc import Warc

TEXT_TYPES = ("text/", "application/xhtml+xml", "application/xml", "application/json")
_DROP = {b"content-encoding", b"transfer-encoding", b"content-length", b"set-cookie"}
# Our own credentials never go into evidence: a site profile's session cookie or login header
# would let anyone holding the bundle act as our account on the market.
_SECRET_REQUEST_HEADERS = {b"host", b"cookie", b"authorization", b"proxy-authorization"}


def _pairs(headers: Any, drop: set[bytes] = frozenset()) -> list[tuple[str, str]]:  # type: ignore[assignment]
    out = []
    for key, values in headers.items():
        if key.lower() in drop:
            continue
        for v in values:
            out.append((key.decode("latin-1"), v.decode("latin-1")))
    return out


class WarcRecorder:
    def __init__(self, directory: Path, *, operator: str, software: str, max_bytes: int) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.operator, self.software, self.max_bytes = operator, software, max_bytes
        self.crawl_id = "crawl"
        self.warc: Warc | None = None
        self.files: list[Path] = []
        self.records = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcRecorder:
        s = crawler.settings
        directory = s.get("ONIONWATCH_WARC_DIR")
        if not directory:
            raise NotConfigured("ONIONWATCH_WARC_DIR is not set")
        ext = cls(Path(directory), operator=s.get("ONIONWATCH_WARC_OPERATOR") or "unknown",
                  software=s.get("ONIONWATCH_SOFTWARE") or "onionwatch",
                  max_bytes=s.getint("ONIONWATCH_WARC_MAX_BYTES", 1 << 30))
        ext.stats = crawler.stats
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self.crawl_id = str(getattr(spider, "crawl_id", None) or "crawl")

    def _file(self) -> Warc:
        if self.warc is not None and self.warc.path.stat().st_size >= self.max_bytes:
            self.warc.close()
            self.warc = None
        if self.warc is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            path = self.dir / f"onionwatch-{self.crawl_id}-{stamp}-{len(self.files):05d}.warc.gz"
            self.warc = Warc(path, operator=self.operator, crawl=self.crawl_id, software=self.software,
                             extra={"http-payloads": "as decoded by the crawler (transfer and content encodings "
                                                     "removed; Content-Length is the decoded length)",
                                    "route": "Tor (SOCKS, remote DNS); onion services only, no clearnet"})
            self.files.append(path)
        return self.warc

    def response_received(self, response: Any, request: Any, spider: Any) -> None:
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip().lower()
        body = response.body if (not ctype or ctype.startswith(TEXT_TYPES)) else b""
        headers = _pairs(response.headers, _DROP) + [("Content-Length", str(len(body)))]
        req_headers = [("Host", request.url.split("/")[2])] + _pairs(request.headers, _SECRET_REQUEST_HEADERS)
        extra = {}
        if request.meta.get("proxy"):
            extra["WARC-Onionwatch-Tor-Route"] = str(request.meta["proxy"])
        if not body and response.body:
            extra["WARC-Onionwatch-Body"] = f"omitted: {ctype or 'unknown'} is not text ({len(response.body)} bytes)"
        self._file().capture(url=response.url, status=response.status, body=body,
                             fetched_at=datetime.now(UTC).isoformat(timespec="microseconds"),
                             response_headers=headers, request_headers=req_headers, extra=extra)
        self.records += 1
        self.stats.inc_value("onionwatch/warc_records")

    def spider_closed(self, spider: Any) -> None:
        if self.warc is not None:
            self.warc.close()
            self.warc = None
