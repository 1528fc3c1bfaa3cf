"""The crawl-time WARC writer, driven with real Scrapy requests and responses."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from scrapy.http import HtmlResponse, Request, Response
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from evidence import warc
from evidence.crawl import WarcRecorder
from tests.test_evidence_data import MARKET


def test_records_responses_with_sha256_and_decoded_headers(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"ONIONWATCH_WARC_DIR": str(tmp_path / "w"), "ONIONWATCH_WARC_OPERATOR": "op",
                                         "STATS_CLASS": MemoryStatsCollector})
    crawler.stats = MemoryStatsCollector(crawler)
    rec = WarcRecorder.from_crawler(crawler)

    class Spider:
        crawl_id = "c42"

    rec.spider_opened(Spider())
    body = b"<html><body>Pangolin scales</body></html>"
    req = Request(f"http://{MARKET}/listing/1", headers={"User-Agent": "UA", "Cookie": "session=SECRET-SESSION",
                                                         "Authorization": "Basic c2VjcmV0"}, meta={"proxy": "socks5h://127.0.0.1:9050"})
    resp = HtmlResponse(req.url, status=200, body=body, request=req,
                        headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip",
                                 "Set-Cookie": "session=SECRET-SESSION"})
    rec.response_received(resp, req, Spider())
    img = Response(f"http://{MARKET}/a.png", status=200, body=b"\x89PNG....", headers={"Content-Type": "image/png"})
    rec.response_received(img, Request(img.url), Spider())
    rec.spider_closed(Spider())
    (path,) = rec.files
    assert path.name.startswith("onionwatch-c42-") and (path.stat().st_mode & 0o777) == 0o600
    records = list(warc.read(path))
    assert [r.rec_type for r in records] == ["warcinfo", "request", "response", "request", "response"]
    page = records[2]
    assert page.payload_sha256 == hashlib.sha256(body).hexdigest() == warc.hex_of_label(page.payload_digest)
    assert page.headers["WARC-Onionwatch-Tor-Route"] == "socks5h://127.0.0.1:9050" and page.status == 200
    raw = gzip.decompress(path.read_bytes())
    assert b"Content-Encoding" not in raw and b"User-Agent: UA" in raw and b"c42" in raw
    assert b"SECRET-SESSION" not in raw and b"c2VjcmV0" not in raw, "our own session and login never enter evidence"
    assert b"\x89PNG" not in raw and records[4].payload_sha256 == hashlib.sha256(b"").hexdigest()
    assert crawler.stats.get_value("onionwatch/warc_records") == 2
