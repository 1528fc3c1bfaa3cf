"""Fast tests (no Tor, no server): back-off arithmetic, the recrawl plan's order and its
conditional headers, lab latency and ETags, and dead v3 addresses."""

from __future__ import annotations

from crawler.prefilter import BackoffState
from crawler.recrawl import RecrawlState, plan
from lab.dead import dead_onions, valid_v3
from lab.latency import Latency, etag, not_modified

A, B, C = dead_onions(3, seed="unit")  # valid v3 addresses (crawler.onion checks them)


def test_backoff_grows_and_clears(tmp_path):
    s = BackoffState(tmp_path / "b.sqlite", base=10, factor=2, cap=35)
    assert s.dead(A, "x", now=0) == 10
    assert s.waiting([A, B], now=5) == {A: 10}
    assert s.waiting([A], now=10) == {}  # expired: looked up again
    assert s.dead(A, "x", now=10) == 30
    assert s.dead(A, "x", now=30) == 65  # capped at 35 s
    s.alive(A)
    assert s.failures(A) == 0 and s.waiting([A], now=31) == {}


def test_plan_new_onions_then_changed_then_age_and_category(tmp_path):
    st = RecrawlState(tmp_path / "r.sqlite")
    st.fetched(f"http://{A}/old", "h1", None, None, now=0)
    st.fetched(f"http://{A}/recent", "h1", '"e1"', "Mon, 01 Jan 2026 00:00:00 GMT", now=900)
    st.fetched(f"http://{A}/changes", "h1", None, None, now=900)
    assert st.fetched(f"http://{A}/changes", "h2", None, None, now=900) is True
    st.fetched(f"http://{B}/market", "h1", None, None, now=900)
    st.seen_onions([C], ["market"], source=B, now=900)
    order = plan(st, now=1000, base_interval=100)
    # overdue ratio = age / interval: old 1000/100, market 100/(100/4), changes 100/(100/2), recent 100/100
    assert [v.url for v in order] == [f"http://{C}/", f"http://{A}/old", f"http://{B}/market",
                                      f"http://{A}/changes", f"http://{A}/recent"]
    assert order[-1].headers == {"If-None-Match": '"e1"', "If-Modified-Since": "Mon, 01 Jan 2026 00:00:00 GMT"}
    assert len(plan(st, now=1000, max_pages=2)) == 2
    assert {v.url for v in plan(st, now=1000, onions={B})} == {f"http://{B}/market"}
    st.unchanged(f"http://{A}/old", now=1000)
    assert st.page(f"http://{A}/old")["unchanged"] == 1 and st.page(f"http://{A}/old")["changes"] == 0


def test_latency_and_etag():
    lat = Latency.parse("0.5-3")
    assert lat and all(0.5 <= lat.of(f"s{i}") <= 3 for i in range(50))
    assert lat.of("market") == Latency(0.5, 3).of("market")  # reproducible
    assert Latency.parse(None) is None and Latency.parse(0) is None
    tag = etag(b"page")
    assert not_modified(tag, tag) and not_modified(f'W/"x", {tag}', tag) and not not_modified('"x"', tag)
    assert not not_modified(None, tag)


def test_dead_addresses_are_valid_v3_and_distinct():
    d = dead_onions(300)
    assert len(set(d)) == 300 and all(valid_v3(o) for o in d)
    assert dead_onions(3) == d[:3]
    assert not valid_v3(d[0][:-7] + "x.onion")


def test_recrawl_state_is_private_at_rest(tmp_path):
    """It names every page crawled: owner-only, with SQLite's -wal/-shm files too."""
    state = RecrawlState(tmp_path / "crawl-state" / "recrawl.sqlite")
    state.fetched("http://a.onion/", "ab" * 32, None, None)
    files = sorted(p.name for p in (tmp_path / "crawl-state").iterdir())
    assert "recrawl.sqlite" in files
    assert {f: oct(((tmp_path / "crawl-state") / f).stat().st_mode & 0o777) for f in files} == dict.fromkeys(files, "0o600")
