"""The web app's counts by address or by site: the sites/addresses toggle, the stats API
(/api/stats/onions), Tor Metrics beside our counts, and exports (CSV, SVG, PNG) that carry the
method caption. Against the real index (market mirrors + a clone written as crawled pages)."""

from __future__ import annotations

import csv
import io
import re
import struct

import pytest
from elasticsearch import Elasticsearch
from flask import Flask

import index
from index import Names, tor_metrics
from onionwatch.commands.sites import recluster
from onionwatch.web import Backend, TokenStore, create_app
from tests.test_site_counts import TOR_CSV
from tests.test_sites_cli import CLONE, MIRRORS, OTHERS, market_page, other_page

WINDOW = "interval=week&since=2026-02-23&until=2026-03-22"


@pytest.fixture
def web(es: Elasticsearch, names: Names, tmp_path) -> tuple[Flask, str]:
    index.setup(es, names)
    writer = index.PageWriter(es, names, snapshot_key=b"k" * 32)
    pay = "bc1qmarketpayment00000000000000000000000"
    for n, host in enumerate(MIRRORS):
        writer.write(market_page(host, n, pay, [0, 1, 2, 3, 4, 5]))
    writer.write(market_page(CLONE, 3, "bc1qphisherpayment000000000000000000000", [5, 4, 3, 2, 1, 0]))
    for k, host in enumerate(OTHERS):
        writer.write(other_page(host, k))
    assert writer.flush().ok
    run = recluster(es, names, b"k" * 32)
    assert (run["sites"], run["clones"]) == (3, 1)
    march = TOR_CSV.replace("2025-01-01", "2026-03-02").replace("2025-01-02", "2026-03-09") \
        .replace("2025-01-03", "2026-03-16")
    tor_metrics.store(es, names, tor_metrics.parse(march, "hidserv-dir-v3-onions-seen.csv"))
    tokens = TokenStore(tmp_path / "tokens.json")
    token = tokens.create("analyst")
    app = create_app(Backend(es=es, names=names, snapshot_key=lambda: b"k" * 32), tokens, b"s" * 32)
    return app, token


def _get(app: Flask, token: str, path: str):
    return app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.slow
def test_api_counts_sites_and_addresses(web: tuple[Flask, str]) -> None:
    app, token = web
    sites = _get(app, token, f"/api/stats/onions?{WINDOW}&unit=sites").get_json()
    addresses = _get(app, token, f"/api/stats/onions?{WINDOW}").get_json()
    assert (sites["unit"], addresses["unit"], sites["interval"]) == ("sites", "addresses", "week")
    # 1 market (3 mirrors) + 2 forums = 3 sites and 1 clone; 6 addresses
    assert [(r["known"], r["clones"]) for r in sites["rows"]] == [(3, 0), (3, 1), (3, 1), (3, 1)]  # clone: 4 March
    assert [r["known"] for r in addresses["rows"]] == [3, 6, 6, 6]  # mirrors 2 and 3, the clone: 2-4 March
    assert [p["date"] for p in sites["tor_metrics"]] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert [r["tor_onions"] for r in sites["rows"]] == [None, 810000.0, None, 805123.5]
    assert "Counted by site" in sites["caption"][0] and "Jaccard" in sites["caption"][0]
    by = _get(app, token, f"/api/stats/onions?{WINDOW}&unit=sites&by=category").get_json()
    assert {r["category"] for r in by["rows"]} == {"leaked_data", "drugs", "wildlife"}
    assert [r["known"] for r in by["rows"] if r["category"] == "wildlife"] == [1] * 4
    assert _get(app, token, f"/api/stats/onions?{WINDOW}&unit=domains").status_code == 400
    assert _get(app, token, f"/api/stats/onions?{WINDOW}&by=vendor").status_code == 400
    assert app.test_client().get(f"/api/stats/onions?{WINDOW}").status_code == 401


@pytest.mark.slow
def test_page_toggle_and_exports_carry_the_method(web: tuple[Flask, str]) -> None:
    app, token = web
    client = app.test_client()
    assert client.post("/login", data={"token": token, "next": "/stats"}).status_code == 302
    html = client.get(f"/stats?{WINDOW}&unit=sites").get_data(as_text=True)
    assert '<strong id="unit-sites">sites</strong>' in html and 'id="unit-addresses" href="' in html
    assert "Onion sites per week" in html and 'data-series="Tor Metrics v3 estimate"' in html
    assert 'class="caption"' in html and "Counted by site" in html
    toggled = re.search(r'id="unit-addresses" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "Onion addresses per week" in client.get(toggled).get_data(as_text=True)
    text = client.get(f"/stats.csv?{WINDOW}&unit=sites").get_data(as_text=True)
    assert text.startswith("# Counted by site") and "CC BY 3.0" in text
    rows = list(csv.DictReader(io.StringIO("\n".join(x for x in text.splitlines() if not x.startswith("#")))))
    assert [r["known"] for r in rows] == ["3"] * 4 and rows[1]["tor_onions"] == "810000.0"
    svg = client.get(f"/stats.svg?{WINDOW}&unit=sites").get_data(as_text=True)
    assert svg.startswith("<svg") and "Counted by site" in svg and "Tor Metrics: unique .onion addresses" in svg
    png = client.get(f"/stats.png?{WINDOW}&unit=sites").get_data()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] >= 900 and len(png) > 20_000
