"""Fast tests of the crawler's parts: addresses, extraction, policy, SOCKS, guard."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import threading

import pytest
from scrapy.settings import Settings

from crawler.extract import extract
from crawler.middlewares import Blocklist, PolicyRefused, TorRoutingMiddleware
from crawler.onion import find_onions, is_valid_v3, onion_from_pubkey, onion_of_url
from crawler.tor import SOCKS_REASONS, TorPolicyError, TorSocksBackend, TorSocksError

GOOD = onion_from_pubkey(hashlib.sha256(b"lab-market").digest())


def test_v3_checksum_and_version() -> None:
    assert is_valid_v3(GOOD)
    assert is_valid_v3(GOOD.upper())
    assert is_valid_v3(GOOD.removesuffix(".onion"))
    label = GOOD.removesuffix(".onion")
    typo = label[:20] + ("a" if label[20] != "a" else "b") + label[21:] + ".onion"
    assert not is_valid_v3(typo), "one changed character breaks the checksum"
    import base64

    raw = bytearray(base64.b32decode(label.upper()))
    raw[34] = 2  # version byte
    assert not is_valid_v3(base64.b32encode(bytes(raw)).decode().lower() + ".onion")
    assert not is_valid_v3("expyuzz4wqqyqhjn.onion"), "v2-length addresses are not accepted"
    assert not is_valid_v3(label[:55] + "1.onion"), "1 is not base32"
    assert not is_valid_v3("")


def test_onion_of_url_and_find_onions() -> None:
    assert onion_of_url(f"http://{GOOD}/a?b=1") == GOOD
    assert onion_of_url(f"http://www.{GOOD}/") == GOOD
    assert onion_of_url("http://example.com/") is None
    assert onion_of_url("http://[::1") is None
    text = f"mirror: {GOOD.upper()} old: expyuzz4wqqyqhjn.onion and again {GOOD}/x"
    assert find_onions(text) == [GOOD]
    assert find_onions("x" * 56 + ".onion") == []


def test_extract_text_links_title() -> None:
    html = f"""<html lang="vi-VN"><head><title> Chợ  đen </title><style>.x{{}}</style></head>
    <body><script>alert(1)</script><p>Vảy tê tê<br>giá 0.01 BTC</p>
    <a href="/item/1">one</a><a href="javascript:alert(1)">x</a><a href="http://{GOOD}/z">m</a>
    <table><tr><td>Price</td><td>$20</td></tr></table></body></html>"""
    page = extract(html, f"http://{GOOD}/list")
    assert page.title == "Chợ đen"
    assert page.lang == "vi"
    assert "alert" not in page.text
    assert "Vảy tê tê\ngiá 0.01 BTC" in page.text
    assert "Price\n$20" in page.text
    assert page.links == [f"http://{GOOD}/item/1", f"http://{GOOD}/z"]
    assert extract("", "http://x.onion/").text == ""
    assert len(extract("<p>" + "a " * 400000 + "</p>", f"http://{GOOD}/", max_text=1000).text) == 1000


def test_blocklist_md5_and_sha256(tmp_path) -> None:
    f = tmp_path / "block.txt"
    f.write_text(f"# comment\n{hashlib.md5(GOOD.encode()).hexdigest()}\n")
    assert Blocklist.from_files([str(f)]).blocked(GOOD)
    assert Blocklist({hashlib.sha256(GOOD.encode()).hexdigest()}).blocked(GOOD)
    assert not Blocklist(set()).blocked(GOOD)


class _Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str) -> None:
        self.values[key] = self.values.get(key, 0) + 1


def _routing(**overrides) -> TorRoutingMiddleware:
    from crawler.addons import OnionCrawl

    s = Settings()
    s.setmodule("crawler.settings")
    OnionCrawl().update_settings(s)
    s.set("ONIONWATCH_TOR_SOCKS", ["127.0.0.1:9001", "127.0.0.1:9002"])
    for k, v in overrides.items():
        s.set(k, v)
    mw = TorRoutingMiddleware(s)
    mw.stats = _Stats()
    return mw


def test_routing_refuses_clearnet_media_blocklisted(tmp_path) -> None:
    from scrapy import Request

    block = tmp_path / "b.txt"
    block.write_text(hashlib.md5(GOOD.encode()).hexdigest())
    mw = _routing(ONIONWATCH_BLOCKLIST=[str(block)])
    with pytest.raises(PolicyRefused) as e:
        mw.process_request(Request("http://example.com/"))
    assert e.value.reason == "offsite"
    redirected = Request("http://192.0.2.10/", meta={"redirect_urls": ["http://x.onion/"]})
    with pytest.raises(PolicyRefused) as e:
        mw.process_request(redirected)
    assert e.value.reason == "offsite_redirect"
    with pytest.raises(PolicyRefused) as e:
        mw.process_request(Request(f"http://{GOOD}/"))
    assert e.value.reason == "blocked"
    other = onion_from_pubkey(hashlib.sha256(b"other").digest())
    with pytest.raises(PolicyRefused) as e:
        mw.process_request(Request(f"http://{other}/photo.JPG"))
    assert e.value.reason == "non_text_content"


def test_routing_is_stable_and_uses_socks5h() -> None:
    from scrapy import Request

    mw = _routing()
    onions = [onion_from_pubkey(hashlib.sha256(str(i).encode()).digest()) for i in range(50)]
    first = {}
    for o in onions:
        r = Request(f"http://{o}/")
        mw.process_request(r)
        assert r.meta["proxy"].startswith("socks5h://127.0.0.1:900")
        first[o] = r.meta["tor_instance"]
    for o in onions:
        r = Request(f"http://{o}/page")
        mw.process_request(r)
        assert r.meta["tor_instance"] == first[o]
    assert set(first.values()) == {0, 1}, "onions spread over both Tor instances"


class _FakeTorSocks(threading.Thread):
    """A real SOCKS5 listener on loopback that answers like Tor with ExtendedErrors."""

    def __init__(self, reply: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.requests: list[tuple[str, str]] = []

    def run(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(3)
            conn.sendall(b"\x05\x02")
            head = conn.recv(2)
            user = conn.recv(head[1]).decode()
            plen = conn.recv(1)[0]
            conn.recv(plen)
            conn.sendall(b"\x01\x00")
            req = conn.recv(4)
            assert req[3] == 3, "ATYP must be DOMAINNAME: Tor resolves, we never do"
            n = conn.recv(1)[0]
            host = conn.recv(n).decode()
            conn.recv(2)
            self.requests.append((host, user))
            conn.sendall(bytes([5, self.reply, 0, 1, 0, 0, 0, 0, 0, 0]))


@pytest.mark.slow  # starts a loopback SOCKS server
@pytest.mark.parametrize("code,reason", [(0xF0, "onion_descriptor_not_found"), (0xF2, "onion_intro_failed"),
                                         (0xF3, "onion_rendezvous_failed"), (0xF6, "onion_bad_address"),
                                         (0xF7, "onion_intro_timeout"), (0x05, "connection_refused")])
def test_socks_extended_errors_are_named(code: int, reason: str) -> None:
    server = _FakeTorSocks(code)
    server.start()
    backend = TorSocksBackend("127.0.0.1", server.port)
    with pytest.raises(TorSocksError) as e:
        asyncio.run(backend.connect_tcp(GOOD, 80, timeout=5))
    assert e.value.reason == reason == SOCKS_REASONS[code]
    host, user = server.requests[0]
    assert host == GOOD
    assert user and GOOD not in user  # per-onion isolation key, not the address itself


def test_backend_refuses_clearnet_without_connecting() -> None:
    backend = TorSocksBackend("127.0.0.1", 1)  # nothing listens on port 1
    with pytest.raises(TorPolicyError):
        asyncio.run(backend.connect_tcp("example.com", 80, timeout=1))


def test_network_guard_records_and_refuses(tmp_path) -> None:
    from crawler.extensions import NetworkGuard

    log = tmp_path / "guard.jsonl"
    s = Settings({"ONIONWATCH_GUARD_LOG": str(log), "ONIONWATCH_GUARD_ALLOW_PORTS": []})
    saved = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex
    try:
        NetworkGuard(s).install()
        with pytest.raises(OSError):
            socket.getaddrinfo(GOOD, 80)
        with pytest.raises(OSError):
            socket.socket().connect(("192.0.2.1", 80))
        socket.getaddrinfo("127.0.0.1", 80)  # loopback literals are fine
    finally:
        socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex = saved
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert kinds == ["dns_onion", "connect"]


def test_failure_reason_mapping() -> None:
    from scrapy.exceptions import (
        DownloadCancelledError,
        DownloadTimeoutError,
        IgnoreRequest,
    )

    from crawler.outcomes import failure_reason

    assert failure_reason(TorSocksError(0xF0, GOOD)) == "onion_descriptor_not_found"
    assert failure_reason(DownloadTimeoutError("slow")) == "timeout"
    assert failure_reason(DownloadCancelledError("big")) == "too_large"
    assert failure_reason(PolicyRefused("offsite_redirect", "x")) == "offsite_redirect"
    try:
        try:
            raise type("_DecompressionMaxSizeExceeded", (ValueError,), {})("bomb")
        except ValueError as inner:
            raise IgnoreRequest("exceeded") from inner
    except IgnoreRequest as outer:
        assert failure_reason(outer) == "decompression_bomb"
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = TorSocksError(0xF7, GOOD)
    assert failure_reason(wrapped) == "onion_intro_timeout"


def test_seeds_file_and_list(tmp_path) -> None:
    from crawler.spiders.onion import read_seeds

    f = tmp_path / "seeds.txt"
    f.write_text(f"# lab\n{GOOD}\nhttp://{GOOD}/x\n")
    assert read_seeds(str(f)) == [f"http://{GOOD}/", f"http://{GOOD}/x"]
    assert read_seeds(f"{GOOD},http://{GOOD}/y") == [f"http://{GOOD}/", f"http://{GOOD}/y"]
    assert os.path.exists(f)


def test_page_cap_counts_unique_urls_per_onion() -> None:
    from scrapy import Request
    from scrapy.utils.test import get_crawler

    from crawler.dupefilter import OnionCapDupeFilter

    crawler = get_crawler(settings_dict={"ONIONWATCH_MAX_PAGES_PER_ONION": 3})
    crawler.stats = _Stats()
    df = OnionCapDupeFilter.from_crawler(crawler)
    other = onion_from_pubkey(hashlib.sha256(b"other").digest())
    seen = [df.request_seen(Request(f"http://{GOOD}/nav")) for _ in range(10)]
    assert seen == [False] + [True] * 9, "repeated navigation links use one slot"
    assert not df.request_seen(Request(f"http://{GOOD}/a"))
    assert not df.request_seen(Request(f"http://{GOOD}/b"))
    assert df.request_seen(Request(f"http://{GOOD}/c")), "fourth unique page is over the cap"
    assert not df.request_seen(Request(f"http://{other}/")), "the cap is per onion"
    assert crawler.stats.values["onionwatch/caps/pages"] == 1


class Tagging:
    """A processor that attaches a field of its own (kept) and one it does not declare (cut)."""

    fields = ("listings",)

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("TEST_NAME"))

    def __call__(self, records: list[dict]) -> None:
        for r in records:
            r.setdefault("listings", []).append(self.name)
            r["scratch"] = "not stored"


class Absent:
    @classmethod
    def from_crawler(cls, crawler):
        from scrapy.exceptions import NotConfigured

        raise NotConfigured("nothing to do")


def test_processors_run_in_order_after_the_enricher_and_keep_their_fields(tmp_path) -> None:
    from scrapy.utils.test import get_crawler

    import crawler.settings as project
    from crawler.pipelines import StorePipeline
    from crawler.spiders.onion import OnionSpider

    settings = {k: getattr(project, k) for k in dir(project) if k.isupper()}
    out = tmp_path / "out.jsonl"
    settings.update(ONIONWATCH_OUTPUT=str(out), ONIONWATCH_ENRICHER=None, TEST_NAME="p",
                    ONIONWATCH_PROCESSORS=[f"{__name__}.Tagging", f"{__name__}.Absent", f"{__name__}.Tagging"])
    pipeline = StorePipeline.from_crawler(get_crawler(OnionSpider, settings))
    assert [type(p).__name__ for p in pipeline.processors] == ["Tagging", "Tagging"], "NotConfigured is skipped"
    record = {"url": f"http://{GOOD}/", "onion": GOOD, "fetched_at": "2026-01-01T00:00:00Z", "text": "abc"}
    pipeline._enrich_and_store([record])
    pipeline.sink.close()
    stored = json.loads(out.read_text())
    assert stored["listings"] == ["p", "p"] and "scratch" not in stored


def _journal_pages(root, crawl_id: str, urls: list[str], links: dict[str, list[str]] | None = None) -> None:
    from journal import Journal

    j = Journal(root)
    j.roll(crawl_id)
    j.append_many([("capture", {"url": u, "onion": onion_of_url(u), "crawl_id": crawl_id, "depth": 1,
                                "links": (links or {}).get(u, []), "onion_links": []}) for u in urls])
    j.close()


def _crawler(tmp_path, **settings):
    from scrapy.utils.test import get_crawler

    import crawler.settings as project
    from crawler.spiders.onion import OnionSpider

    values = {k: getattr(project, k) for k in dir(project) if k.isupper()}
    values.update(ONIONWATCH_JOURNAL_DIR=str(tmp_path / "journal"), ONIONWATCH_KNOWN_URLS=str(tmp_path / "known.sqlite"),
                  **settings)
    c = get_crawler(OnionSpider, values)
    c.stats = _Stats()
    return c


def test_the_page_cap_counts_what_the_journal_knows_from_earlier_runs(tmp_path) -> None:
    from scrapy import Request

    from crawler.dupefilter import OnionCapDupeFilter

    other = onion_from_pubkey(hashlib.sha256(b"other").digest())
    _journal_pages(tmp_path / "journal", "run1", [f"http://{GOOD}/{i}" for i in range(3)])
    df = OnionCapDupeFilter.from_crawler(_crawler(tmp_path, ONIONWATCH_MAX_PAGES_PER_ONION=3))
    assert not df.request_seen(Request(f"http://{GOOD}/1")), "a known URL may be fetched again (it may have changed)"
    assert df.request_seen(Request(f"http://{GOOD}/1")), "... once per run"
    assert df.request_seen(Request(f"http://{GOOD}/new")), "no new page: the onion is at its cap across runs"
    assert not df.request_seen(Request(f"http://{other}/")), "the cap is per onion"
    df.close("finished")
    # the table is derived: deleted, it is rebuilt from the journal
    (tmp_path / "known.sqlite").unlink()
    df = OnionCapDupeFilter.from_crawler(_crawler(tmp_path, ONIONWATCH_MAX_PAGES_PER_ONION=3))
    assert df.known_counts == {GOOD: 3} and df.request_seen(Request(f"http://{GOOD}/new"))
    df.close("finished")


def test_a_resumed_job_skips_exactly_what_it_journaled(tmp_path) -> None:
    from scrapy import Request

    from crawler.dupefilter import OnionCapDupeFilter

    _journal_pages(tmp_path / "journal", "job1", [f"http://{GOOD}/", f"http://{GOOD}/a"],
                   links={f"http://{GOOD}/": [f"http://{GOOD}/a", f"http://{GOOD}/b", f"http://{GOOD}/c"]})
    _journal_pages(tmp_path / "journal", "other", [f"http://{GOOD}/b"])
    crawler = _crawler(tmp_path, ONIONWATCH_JOBDIR=str(tmp_path / "job"), ONIONWATCH_CRAWL_ID="job1")
    df = OnionCapDupeFilter.from_crawler(crawler)
    assert df.request_seen(Request(f"http://{GOOD}/a")), "journaled by this job: not fetched again"
    assert not df.request_seen(Request(f"http://{GOOD}/b")), "journaled by another crawl: this job still fetches it"
    df.close("finished")
    from crawler.spiders.onion import OnionSpider

    spider = OnionSpider.from_crawler(crawler, seeds=GOOD, crawl_id="job1")
    spider._configure()
    replayed = {r.url: r.meta.get("depth") for r in spider._resume()}
    assert replayed == {f"http://{GOOD}/a": 2, f"http://{GOOD}/b": 2, f"http://{GOOD}/c": 2}, replayed


def test_tor_watch_requeues_what_our_absent_tor_cut_off() -> None:
    import asyncio

    from scrapy import Request
    from scrapy.exceptions import DownloadConnectionRefusedError, DownloadFailedError
    from scrapy.utils.test import get_crawler

    from crawler.tor import TorUnreachableError
    from crawler.torwatch import MAX_REQUEUES, TorWatch
    from procs import free_ports

    dead = free_ports(1)[0]  # nothing listens there: our "Tor" is gone
    watch = TorWatch(get_crawler(settings_dict={"ONIONWATCH_TOR_SOCKS": [f"127.0.0.1:{dead}"]}))
    watch.stats = _Stats()
    downs: list[str] = []
    watch._went_down = downs.append  # the pause itself needs a running engine (the lab tests cover it)
    request = Request(f"http://{GOOD}/x", meta={"proxy": f"socks5h://127.0.0.1:{dead}"})
    try:
        raise DownloadConnectionRefusedError("refused") from TorUnreachableError("SocksPort refused")
    except DownloadConnectionRefusedError as exc:
        refused = exc
    again = asyncio.run(watch.process_exception(request, refused))
    assert again is not None and again.url == request.url and again.dont_filter and again.meta["tor_requeued"] == 1
    cut = asyncio.run(watch.process_exception(request, DownloadFailedError("connection reset")))
    assert cut is not None, "a broken stream and no SOCKS port answering: our Tor, not the onion"
    assert asyncio.run(watch.process_exception(request, TorSocksError(0xF0, GOOD))) is None, "Tor answered: a real outcome"
    worn = request.replace(meta={**request.meta, "tor_requeued": MAX_REQUEUES})
    assert asyncio.run(watch.process_exception(worn, refused)) is None
    assert len(downs) == 2
