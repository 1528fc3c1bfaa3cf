"""`onionwatch sites`: crawled pages of a market on three mirrors, a phishing clone that
swaps the payment address, and unrelated sites, clustered from the real index; ids stay
put across runs; the counts by site follow."""

from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

import index
from index import Names, lifespans
from onionwatch.cli import main
from tests.fixtures_es import onion, page_record

MIRRORS = [onion(n) for n in (300, 301, 302)]
CLONE = onion(303)
OTHERS = [onion(n) for n in (304, 305)]
LISTINGS = [
    "Sunda pangolin scales, dried, 1 kg lots, shipped from Hai Phong in vacuum bags, escrow accepted",
    "Raw ivory pieces and carved bangles, private sellers only, worldwide shipping with tracking numbers",
    "Rhino horn powder sold by the gram, lab tested purity certificate included with every order placed",
    "Live slow loris juveniles, captive bred claim, pickup in Bangkok or courier to Kuala Lumpur area",
    "Tiger bone wine bottles, aged five years, discreet packing, bulk discounts for resellers available",
    "Helmeted hornbill casques, polished, sold singly or in sets of three with a display stand included",
]
HTML = """<html><head><title>Green Scale Market</title>
<link rel="icon" href="data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="></head>
<body><div class="nav"><a href="/">Home</a><a href="/vendors">Vendors</a></div>
<ul class="listings">{items}</ul><div class="pay">Send BTC to {pay}</div>
<div class="foot">Mirror {n} of 3. Trusted since 2024.</div></body></html>"""


def market_page(host: str, n: int, pay: str, order: list[int]) -> dict:
    items = "".join(f"<li>{LISTINGS[i]}</li>" for i in order)
    html = HTML.format(items=items, pay=pay, n=n)
    text = " ".join(LISTINGS[i] for i in order) + f" Send BTC to {pay}. Mirror {n} of 3. Trusted since 2024."
    entity = {"label": "CRYPTO", "start": 0, "end": 1, "score": 1.0, "masked": "bc1q…",
              "hash": hashlib.sha256(pay.encode()).hexdigest()}
    return page_record(f"http://{host}/", html, title="Green Scale Market", text=text, entities=[entity],
                       categories=["wildlife"], fetched_at=f"2026-03-0{n + 1}T10:00:00Z")


FORUMS = [
    ("Discussion boards about privacy tools, relay operation, bridges and onion service hosting; rules, "
     "moderators and a weekly digest for members who run their own nodes at home or in data centres"),
    ("A cooking community for fermented foods: kimchi, sourdough, kombucha and miso threads, recipes "
     "swapped between members, photos of jars and a monthly challenge with a shared ingredient list"),
]


def other_page(host: str, k: int) -> dict:
    text = FORUMS[k]
    return page_record(f"http://{host}/", f"<html><body><p>{text}</p></body></html>", title=f"Forum {k}",
                       text=text, fetched_at="2026-03-01T09:00:00Z")


def _cli(args: list[str], es_url: str, prefix: str, home: str) -> str:
    env = {"ONIONWATCH_ES_URL": es_url, "ONIONWATCH_INDEX_PREFIX": prefix, "ONIONWATCH_HOME": home,
           "ONIONWATCH_SNAPSHOT_KEY": "k" * 32}
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_sites_command_groups_mirrors_and_flags_the_clone(es: Elasticsearch, es_url: str, names: Names,
                                                          tmp_path) -> None:
    index.setup(es, names)
    writer = index.PageWriter(es, names, snapshot_key=b"k" * 32)
    pay = "bc1qmarketpayment00000000000000000000000"
    for n, host in enumerate(MIRRORS):
        writer.write(market_page(host, n, pay, [0, 1, 2, 3, 4, 5] if n != 1 else [3, 4, 5, 0, 1, 2]))
    writer.write(market_page(CLONE, 3, "bc1qphisherpayment000000000000000000000", [5, 4, 3, 2, 1, 0]))
    for k, host in enumerate(OTHERS):
        writer.write(other_page(host, k))
    assert writer.flush().ok

    out = json.loads(_cli(["sites", "--json"], es_url, names.prefix, str(tmp_path)))
    # 1 market (3 addresses) + 2 forums; 1 clone (1 address)
    assert out["summary"] == {"sites": 3, "addresses": 5, "clones": 1, "clone_addresses": 1}
    (market,) = out["sites"]  # groups of 2+ only
    assert (market["mirrors"], market["clones"], market["title"]) == (3, 1, "Green Scale Market")
    roles = {o["onion"]: o["role"] for o in market["onions"]}
    assert roles == {**{m: "mirror" for m in MIRRORS}, CLONE: "clone"}
    founder = market["site_id"]
    clone = next(o for o in market["onions"] if o["role"] == "clone")
    assert clone["clone_of"] == founder and clone["site_id"] != founder
    mirror2 = next(o for o in market["onions"] if o["onion"] == MIRRORS[1])
    assert {"text", "title", "template", "favicon"} <= set(mirror2["signals"])  # structure read from snapshots
    assert "Jaccard" in out["method"]

    # ids stay put on a re-run, also with a new mirror joining
    writer.write(market_page(onion(306), 2, pay, [2, 1, 0, 5, 4, 3]))
    assert writer.flush().ok
    again = json.loads(_cli(["sites", "--json", "--all"], es_url, names.prefix, str(tmp_path)))
    market2 = next(s for s in again["sites"] if s["site_id"] == founder)
    assert market2["mirrors"] == 4 and {o["site_id"] for o in market2["onions"] if o["role"] == "mirror"} == {founder}
    assert len(again["sites"]) == 3  # --all lists the single-address forums too

    text = _cli(["sites", "--no-update"], es_url, names.prefix, str(tmp_path))
    assert text.splitlines()[0] == "3 sites (6 addresses as mirrors), 1 clones (1 addresses)"
    assert f"clone   {CLONE}" in text

    # the counts follow the clusters: 1 market site + 2 forums, the clone apart
    rows = lifespans.counts(es, names, unit="sites", interval="month", since="2026-03-01", until="2026-03-31")
    assert (rows[0]["known"], rows[0]["new"], rows[0]["clones"]) == (3, 3, 1)
    addresses = lifespans.counts(es, names, unit="addresses", interval="month", since="2026-03-01",
                                 until="2026-03-31")
    assert addresses[0]["known"] == 7


@pytest.mark.slow
def test_counts_report_carries_tor_metrics_and_a_caption(es: Elasticsearch, es_url: str, names: Names,
                                                          tmp_path) -> None:
    import csv
    import io

    from index import tor_metrics
    from onionwatch import counts
    from tests.test_site_counts import TOR_CSV

    index.setup(es, names)
    writer = index.PageWriter(es, names, snapshot_key=b"k" * 32)
    pay = "bc1qmarketpayment00000000000000000000000"
    for n, host in enumerate(MIRRORS):
        writer.write(market_page(host, n, pay, [0, 1, 2, 3, 4, 5]))
    assert writer.flush().ok
    _cli(["sites", "--json"], es_url, names.prefix, str(tmp_path))
    march = TOR_CSV.replace("2025-01-01", "2026-03-02").replace("2025-01-02", "2026-03-09") \
        .replace("2025-01-03", "2026-03-16")
    tor_metrics.store(es, names, tor_metrics.parse(march, "hidserv-dir-v3-onions-seen.csv"))
    result = counts.onion_stats(es, names, unit="sites", interval="week", since="2026-02-23", until="2026-03-22")
    assert [(r["start"][:10], r["known"], r["new"], r["tor_onions"]) for r in result["rows"]] == [
        ("2026-02-23", 1, 1, None),  # the first mirror was fetched on Sunday 1 March
        ("2026-03-02", 1, 0, 810000.0), ("2026-03-09", 1, 0, None), ("2026-03-16", 1, 0, 805123.5)]
    assert [p["date"] for p in result["tor_metrics"]] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    cap = " ".join(result["caption"])
    assert "Data from 2026-03-01 to 2026-03-03" in cap, [c for c in result["caption"] if "Data from" in c]
    assert "Counted by site" in cap and "Jaccard >= 0.5" in cap and "CC BY 3.0" in cap and "alive: at least one" in cap
    text = counts.to_csv(result)
    assert text.startswith("# Counted by site")
    body = [line for line in text.splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(body))))
    assert rows[1]["known"] == "1" and rows[1]["tor_onions"] == "810000.0" and "category" not in rows[1]
    assert result["refreshed"] is False  # the sites run refreshed; nothing changed since
