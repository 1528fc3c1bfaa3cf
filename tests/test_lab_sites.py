"""The lab's sample sites over plain HTTP on loopback (no Tor): content, expected pages, hostile cases."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
import urllib.error
import urllib.request
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from stdnum import luhn
from stdnum.th import pin

from crawler.onion import is_valid_v3
from lab import (
    ROLES, bulk_sites, decoys, default_configs_dir, expected_pages, fake_onion,
    load_sites, serve_sites, typo_onion,
)

OUTCOMES = {"ok", "bounded", "followed", "not_requested", "too_large", "decompression_bomb",
            "offsite_redirect", "timeout", "non_text_content", "http_error"}
ONION_RE = re.compile(r"\b([a-z2-7]{16,56})\.onion\b")


@pytest.fixture(scope="module")
def lab():
    specs = load_sites() + bulk_sites(3, 45, seed=1)
    onion_of = {s.name: fake_onion(s.name) for s in specs}
    with serve_sites(specs, onion_of) as running:
        running.specs_by_name = {s.name: s for s in specs}  # type: ignore[attr-defined]
        yield running


def get(lab, name: str, target: str, **kw) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", lab.ports[name], timeout=kw.get("timeout", 10))
    conn.request("GET", target)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links += [v for k, v in attrs if k == "href" and v]


def crawl(lab, seed: str = "directory") -> tuple[dict[str, set[str]], dict[tuple[str, str], int]]:
    """Independent breadth-first crawl over loopback, following on-onion links across sites.

    Documented non-ok cases are not fetched here (they get their own tests); everything else
    reached must be 200 text/html. Returns ok targets per site and each target's depth.
    """
    host_to_site = {v: k for k, v in lab.onion_of.items()}
    specs = lab.specs_by_name
    ok: dict[str, set[str]] = {n: set() for n in lab.ports}
    depth = {(seed, "/"): 0}
    queue = deque([(seed, "/")])
    while queue:
        site, target = queue.popleft()
        cases = [c for c in specs[site].cases if c.matches(urlsplit(target).path)]
        if cases and cases[0].expect != "ok":
            continue
        status, headers, body = get(lab, site, target)
        assert status == 200, (site, target, status)
        assert headers["content-type"].startswith("text/html"), (site, target)
        ok[site].add(target)
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        base = f"http://{lab.onion_of[site]}{target}"
        for href in parser.links:
            url = urlsplit(urljoin(base, href))
            if url.scheme != "http" or url.hostname not in host_to_site:
                continue  # clearnet, javascript:, data:, decoys: a crawler never requests them
            key = (host_to_site[url.hostname], url.path + (f"?{url.query}" if url.query else ""))
            if key not in depth:
                depth[key] = depth[(site, target)] + 1
                queue.append(key)
    return ok, depth


def test_sites_have_roles_and_load_from_data():
    specs = load_sites(options=("walls",))  # the lab option sites too: every role has a site
    assert {s.role for s in specs} == ROLES - {"bulk"}
    assert all(s.title and s.description for s in specs)


def test_crawl_from_directory_finds_exactly_the_expected_pages(lab):
    ok, depth = crawl(lab)
    for name, spec in lab.specs_by_name.items():
        assert ok[name] == expected_pages(spec, lab.onion_of), name
    assert max(depth.values()) <= 4  # within a modest crawler depth cap from the seed


def test_placeholders_filled_and_only_lab_or_decoy_onions_mentioned(lab):
    allowed = {h.removesuffix(".onion") for h in lab.onion_of.values()}
    allowed |= {d.removesuffix(".onion") for d in decoys(lab.specs_by_name["directory"], lab.onion_of)}
    for name in ("directory", "market", "forum", "news", "leak", "hostile", "bulk-001"):
        for target in expected_pages(lab.specs_by_name[name], lab.onion_of):
            body = get(lab, name, target)[2].decode("utf-8", "replace")
            assert "{{" not in body and "{%" not in body, (name, target)
            assert set(ONION_RE.findall(body)) <= allowed, (name, target)


def test_directory_links_every_lab_onion_and_carries_decoys(lab):
    body = get(lab, "directory", "/")[2].decode()
    others = {h for n, h in lab.onion_of.items() if n != "directory"}
    assert others <= set(re.findall(r'href="http://([a-z2-7]{56}\.onion)/"', body))
    typo, v2 = decoys(lab.specs_by_name["directory"], lab.onion_of)
    assert typo in body and v2 in body
    assert typo == typo_onion(lab.onion_of["market"]) and not is_valid_v3(typo)
    assert len(v2.removesuffix(".onion")) == 16 and not is_valid_v3(v2)
    assert all(is_valid_v3(h) for h in lab.onion_of.values())
    # onions mentioned only in text, never linked (text harvesting)
    forum = get(lab, "forum", "/")[2].decode()
    assert lab.onion_of["leak"] in forum and f"http://{lab.onion_of['leak']}" not in forum


def test_market_has_regional_languages_and_currencies(lab):
    targets = expected_pages(lab.specs_by_name["market"], lab.onion_of)
    text = "\n".join(get(lab, "market", t)[2].decode() for t in targets)
    needles = ("vảy tê tê", "sisik trenggiling", "穿山甲鳞片", "gỗ trắc", "Dalbergia cochinchinensis",
               "ยาบ้า", "rhino horn", "hornbill", "fullz", "combolist")
    for needle in needles:
        assert needle in text, needle
    for cur in ("BTC", "XMR", "USD", "USDT", "THB", "VND"):
        assert f" {cur}" in text, cur
    assert {m for m in re.findall(r'<html lang="(\w+)"', text)} >= {"en", "vi", "th", "id", "zh"}


def test_injection_page_is_raw_where_intended_and_escaped_elsewhere(lab):
    body = get(lab, "forum", "/thread/injection-vendor-list")[2].decode()
    assert "<script>document.write(" in body and 'onerror="alert(' in body
    assert 'href="javascript:alert(' in body and "position:fixed" in body
    title = re.search(r"<title>(.*?)</title>", body, re.S)[1]
    assert "<script>" not in title and "&lt;script&gt;" in title
    assert "<b onmouseover" not in body  # the author field is data, so it is escaped
    board = get(lab, "forum", "/board/talk")[2].decode()
    assert "<script>alert('title')" not in board and "&lt;script&gt;" in board


def test_hostile_cases_are_documented(lab):
    cases = lab.specs_by_name["hostile"].cases
    assert all(c.expect in OUTCOMES and c.note for c in cases)
    assert {"bounded", "too_large", "decompression_bomb", "offsite_redirect", "followed", "timeout",
            "non_text_content", "not_requested", "ok"} <= {c.expect for c in cases}
    home = get(lab, "hostile", "/")[2].decode()
    assert all(f'href="{c.link}"' in home for c in cases)
    assert '<img src="/img/photo.jpg"' in home


def test_traps_generate_endless_links(lab):
    body = get(lab, "hostile", "/trap/1/2/3")[2].decode()
    assert 'href="/trap/1/2/3/3"' in body
    body = get(lab, "hostile", "/calendar?page=999")[2].decode()
    assert 'href="/calendar?page=1000"' in body and 'href="/calendar?page=998"' in body


def test_redirects_and_binary_content(lab):
    assert get(lab, "hostile", "/go/clearnet")[1]["location"] == "http://example.com/"
    status, headers, _ = get(lab, "hostile", "/go/ip")
    assert status == 301 and headers["location"] == "http://192.0.2.10/"
    assert get(lab, "hostile", "/go/market")[1]["location"] == f"http://{lab.onion_of['market']}/"
    status, headers, body = get(lab, "hostile", "/img/photo.jpg")
    assert headers["content-type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
    status, headers, body = get(lab, "hostile", "/img/banner.html")
    assert headers["content-type"] == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"
    assert get(lab, "hostile", "/download?id=7")[1]["content-type"] == "application/octet-stream"
    assert get(lab, "hostile", "/error")[0] == 500
    assert b"\xc3\x28" in get(lab, "hostile", "/enc/invalid-utf8")[2]
    assert get(lab, "hostile", "/enc/utf16-no-bom")[2][:4] == "<!".encode("utf-16-le")


def _stream(lab, target: str, sink) -> dict[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", lab.ports["hostile"], timeout=30)
    conn.request("GET", target)
    resp = conn.getresponse()
    while chunk := resp.read(1 << 16):
        sink(chunk)
    conn.close()
    return {k.lower(): v for k, v in resp.getheaders()}


def test_gzip_bomb_and_large_pages_stream_without_memory(lab):
    tracemalloc.start()
    try:
        raw = bytearray()
        headers = _stream(lab, "/bomb", raw.extend)
        inflater, expanded = zlib.decompressobj(31), 0
        data = bytes(raw)
        while data:
            expanded += len(inflater.decompress(data, 1 << 20))
            data = inflater.unconsumed_tail
        assert inflater.eof  # CRC and length trailer verified by zlib
        sizes = {}
        for target in ("/big", "/big-chunked"):
            total = [0]
            h = _stream(lab, target, lambda c: total.__setitem__(0, total[0] + len(c)))
            sizes[target] = (total[0], h)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert headers["content-encoding"] == "gzip" and int(headers["content-length"]) == len(raw) < 2 << 20
    assert expanded == 1 << 30
    assert sizes["/big"][0] == 20 << 20 and sizes["/big"][1]["content-length"] == str(20 << 20)
    assert sizes["/big-chunked"][0] == 20 << 20 and sizes["/big-chunked"][1]["transfer-encoding"] == "chunked"
    assert peak < 16 << 20, f"server and client together peaked at {peak >> 20} MiB"


def test_slow_drip_sends_about_one_byte_per_second(lab):
    with socket.create_connection(("127.0.0.1", lab.ports["hostile"]), timeout=5) as sock:
        sock.sendall(b"GET /drip HTTP/1.1\r\nHost: x\r\n\r\n")
        start, buf = time.monotonic(), b""
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(4096)
        head, body = buf.split(b"\r\n\r\n", 1)
        assert b"Content-Length: 600" in head and time.monotonic() - start < 1.0
        while len(body) < 2:
            body += sock.recv(1)
        assert 1.5 < time.monotonic() - start < 4.0


@pytest.mark.slow  # serves the sites on loopback
def test_new_listing_file_appears_on_its_category_page(tmp_path: Path):
    root = tmp_path / "lab"
    shutil.copytree(default_configs_dir(), root)
    specs = load_sites(root)
    onion_of = {s.name: fake_onion(s.name) for s in specs}
    market = next(s for s in specs if s.name == "market")
    with serve_sites([market], onion_of) as running:
        before = expected_pages(market, onion_of)
        (root / "market/listings/zz-new-leak.yaml").write_text(
            "title: 'NEW bank customer DB 90k rows'\ncategory: data\nvendor: datakingz\n"
            "posted: 2099-01-01\nprices: [{amount: 0.01, currency: BTC}]\n"
            "description: 'Fresh leak, sample: new.user@example.com'\n", encoding="utf-8")
        page = urllib.request.urlopen(running.url("market", "/category/data")).read().decode()
        assert 'href="/listing/zz-new-leak"' in page and "NEW bank customer DB" in page
        assert urllib.request.urlopen(running.url("market", "/listing/zz-new-leak")).status == 200
        assert expected_pages(market, onion_of) - before >= {"/listing/zz-new-leak"}


@pytest.mark.slow  # serves the sites on loopback
def test_pages_wait_for_onion_addresses():
    market = next(s for s in load_sites() if s.name == "market")
    with serve_sites([market], {}) as running:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(running.url("market", "/"))
        assert err.value.code == 503
        running.set_onions({"market": fake_onion("m"), "news": fake_onion("n")})
        body = urllib.request.urlopen(running.url("market", "/")).read().decode()
        assert fake_onion("n") in body


def test_synthetic_pii_is_fake_but_valid_format():
    text = "\n".join(p.read_text(encoding="utf-8") for p in default_configs_dir().rglob("*.y*ml"))
    domains = set(re.findall(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", text))
    assert domains and domains <= {"example.com", "example.org", "example.net"}
    thai_ids = re.findall(r"(?<!\d)\d{13}(?!\d)", text)
    assert thai_ids and all(pin.is_valid(n) for n in thai_ids)
    cards = re.findall(r"(?<![\d.])\d{15,16}(?![\d.])", text)
    assert len(cards) >= 5 and all(luhn.is_valid(c) for c in cards)


@pytest.mark.slow  # serves the sites on loopback
def test_bulk_generator_is_deterministic_and_sized():
    big = bulk_sites(50, 200, seed=3)
    assert sum(len(expected_pages(s, {})) for s in big) == 10_000
    a, b = bulk_sites(2, 30, seed=3), bulk_sites(2, 30, seed=4)
    onions = {s.name: fake_onion(s.name) for s in a}
    with serve_sites(a, onions) as ra, serve_sites(b, onions) as rb:
        page = urllib.request.urlopen(ra.url("bulk-000", "/p/7")).read()
        assert page == urllib.request.urlopen(ra.url("bulk-000", "/p/7")).read()
        assert page != urllib.request.urlopen(rb.url("bulk-000", "/p/7")).read()
        assert onions["bulk-001"].encode() in urllib.request.urlopen(ra.url("bulk-000", "/")).read()


def test_64_concurrent_keepalive_clients(lab):
    targets = sorted(expected_pages(lab.specs_by_name["bulk-000"], lab.onion_of))

    def client(i: int) -> int:
        conn, done = http.client.HTTPConnection("127.0.0.1", lab.ports["bulk-000"], timeout=10), 0
        for t in targets[i % 5::5][:8]:
            conn.request("GET", t)
            resp = conn.getresponse()
            done += resp.status == 200 and len(resp.read()) > 0
        conn.close()
        return done

    start = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        done = sum(pool.map(client, range(64)))
    rate = done / (time.monotonic() - start)
    print(f"64 keep-alive clients: {done} pages, {rate:.0f} pages/s")
    assert done == 64 * 8


@pytest.mark.slow  # serves the sites on loopback
def test_cli_serves_from_json_config_and_reloads_onions_on_sighup(tmp_path: Path):
    cfg = tmp_path / "lab.json"
    cfg.write_text(json.dumps({"sites": {"news": {}, "market": {}}}))
    proc = subprocess.Popen([sys.executable, "-m", "lab.server", "--config", str(cfg)],
                            stdout=subprocess.PIPE, text=True)
    try:
        ports = json.loads(proc.stdout.readline())["ports"]
        assert set(ports) == {"news", "market"}
        body = urllib.request.urlopen(f"http://127.0.0.1:{ports['news']}/about").read().decode()
        assert "湄公河观察" in body
        with pytest.raises(urllib.error.HTTPError):  # market links need onions not known yet
            urllib.request.urlopen(f"http://127.0.0.1:{ports['market']}/")
        onions = {"news": fake_onion("news"), "market": fake_onion("market")}
        cfg.write_text(json.dumps({"sites": {n: {"onion": h} for n, h in onions.items()}}))
        proc.send_signal(signal.SIGHUP)
        for _ in range(50):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{ports['market']}/").read().decode()
                break
            except urllib.error.HTTPError:
                time.sleep(0.1)
        assert onions["news"] in body
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


@pytest.mark.slow  # serves the sites on loopback
def test_dropin_dir_adds_listings_while_running(tmp_path) -> None:  # noqa: ANN001
    """A running lab serves listings dropped into its own directory (tests never write configs/)."""
    listings = tmp_path / "dropin" / "market" / "listings"
    listings.mkdir(parents=True)
    cfg = tmp_path / "lab.json"
    cfg.write_text(json.dumps({"dropin_dir": str(tmp_path / "dropin"), "sites": {"market": {"onion": fake_onion("m")}}}))
    proc = subprocess.Popen([sys.executable, "-m", "lab.server", "--config", str(cfg)], stdout=subprocess.PIPE, text=True)
    try:
        port = json.loads(proc.stdout.readline())["ports"]["market"]
        url = f"http://127.0.0.1:{port}/listing/zz-dropin"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url, timeout=5)
        (listings / "zz-dropin.yaml").write_text(
            "title: Dropped-in combolist 10k lines\ncategory: data\nvendor: v\nposted: '2026-12-01'\nlang: en\n"
            "prices: [{amount: 10, currency: USD}]\ndescription: test\n")
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert b"Dropped-in combolist" in resp.read()
    finally:
        proc.terminate()
        proc.wait(10)
