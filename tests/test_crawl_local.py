"""`onionwatch crawl` end to end in seconds, without the lab: a loopback SOCKS5 server that
answers like Tor and relays to a local site standing in for two onions. Checks the wiring
the lab tests take minutes to reach: add-on settings reach the spider, depth is Scrapy's
(DEPTH_LIMIT, a discovered onion starts again at 0), --max-depth 0, quiet stderr."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.onion import onion_from_pubkey
from tests.test_liveness_checker import TorLikeSocks

pytestmark = pytest.mark.slow  # starts loopback servers

REPO = Path(__file__).resolve().parent.parent
A = onion_from_pubkey(hashlib.sha256(b"local-a").digest())
B = onion_from_pubkey(hashlib.sha256(b"local-b").digest())


class Chain(BaseHTTPRequestHandler):
    """/ links /1, /n links /n+1 (a chain 20 deep), and every page links onion B's front page."""

    def do_GET(self) -> None:
        n = 0 if self.path == "/" else int(self.path.strip("/") or 0)
        body = (f"<html><head><title>page {n}</title></head><body><p>page {n}</p>"
                f'<a href="/{n + 1}">next</a><a href="http://{B}/">other onion</a>'
                f'<a href="/photo.jpg">photo</a></body></html>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def tor_like() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Chain)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = TorLikeSocks(server.server_address[1], {A: "up", B: "up"})
    yield proxy.addr
    proxy.close()
    server.shutdown()
    server.server_close()


def crawl(socks: str, tmp: Path, *args: str) -> tuple[list[dict], dict, str]:
    out = tmp / f"out-{len(list(tmp.iterdir()))}.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "onionwatch", "crawl", "--seeds", A, "--socks", socks, "--no-enrich",
         "--output", str(out), "--summary-json", "-s", "ONIONWATCH_STORE_MAX_WAIT=0.1", *args],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "ONIONWATCH_HOME": str(tmp), "PYTHONUNBUFFERED": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return records, json.loads(proc.stdout[proc.stdout.index("{"):]), proc.stderr


def test_depth_is_scrapys_and_resets_on_a_new_onion(tor_like: str, tmp_path: Path) -> None:
    records, summary, stderr = crawl(tor_like, tmp_path, "--max-depth", "3")
    depth = {(r["onion"], r["url"].rsplit("/", 1)[1]): r["depth"] for r in records}
    assert {d for (o, _), d in depth.items() if o == A} == {0, 1, 2, 3}, depth
    assert depth[(B, "")] == 0, "a discovered onion starts again at depth 0"
    assert {d for (o, _), d in depth.items() if o == B} == {0, 1, 2, 3}
    assert summary["pages"] == 8 and summary["onions"] == 2 and summary["caps"]["depth"] >= 2
    assert all(set(r) == set(records[0]) for r in records) and "raw" not in records[0]
    assert "\r" not in stderr and all(line.startswith(("crawling: ", "warning: ")) for line in stderr.splitlines())


def test_max_depth_zero_fetches_only_the_seed_and_other_onions_front_pages(tor_like: str, tmp_path: Path) -> None:
    records, _, _ = crawl(tor_like, tmp_path, "--max-depth", "0")
    assert sorted(r["url"] for r in records) == sorted([f"http://{A}/", f"http://{B}/"])
    records, _, _ = crawl(tor_like, tmp_path, "--max-depth", "0", "-s", "ONIONWATCH_DISCOVER=0")
    assert [r["url"] for r in records] == [f"http://{A}/"]


def test_verbose_shows_the_framework_log(tor_like: str, tmp_path: Path) -> None:
    _, _, stderr = crawl(tor_like, tmp_path, "--max-depth", "0", "--verbose")
    assert "[scrapy" in stderr and "INFO" in stderr
