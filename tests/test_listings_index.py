"""Listings and identifiers in the real ES-compatible server: idempotent writes (a re-crawl
changes no counts), price history (a changed price gives two points), mirrors and vendorless
sightings kept as one listing, search filters, vendors across onions, pivots."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import Elasticsearch

import index
from index import Names
from index import identifiers as ident_index
from index import listings as L
from listings import ListingExtractor
from listings.identifiers import value_hash
from tests.listing_helpers import KEY, record, renderer

SHARED_BTC = "1N58Qx87TAaVPHGWMK53k7nADuRMFxtnLM"  # SiamChem's, on Golden Lotus, Dream Bazaar and Delta Board


@pytest.fixture(scope="module")
def lab_pages() -> tuple[Any, dict[str, str]]:
    return renderer()


def crawl(es: Elasticsearch, names: Names, lab_pages: Any, pages: list[tuple[str, str]], t: str,
          change: Any = None) -> list[str | None]:
    render, onion_of = lab_pages
    ex = ListingExtractor(KEY)
    recs = []
    for site, path in pages:
        _, html = render(site, path)
        if change:
            html = change(site, path, html)
        recs.append(record(site, path, html, onion_of, fetched_at=t))
    ex(recs)
    return L.store(es, names, recs)


def counts(es: Elasticsearch, names: Names) -> tuple[int, int]:
    return (es.count(index=names.alias("listings"))["count"], es.count(index=names.alias("identifiers"))["count"])


MARKET = [("market", "/"), ("market", "/category/wildlife"), ("market", "/listing/chuanshanjia-scales"),
          ("market", "/vendor/yunnan-jade"), ("market", "/vendor/siamchem"), ("market", "/vendor/hanoi-dragon"),
          ("market", "/vendor/borneo-trader"), ("market", "/escrow")]
BAZAAR = [("bazaar", "/"), ("bazaar", "/browse/sea"), ("bazaar", "/item/sea-yaba-siamchem"), ("bazaar", "/seller/siamchem"),
          ("bazaar", "/seller/redriverlab"), ("bazaar", "/seller/kalimantan-exotics")]
FORUM = [("forum", "/thread/siamchem-official"), ("forum", "/thread/kalimantan-exotics")]


def test_recrawl_changes_no_counts_and_a_new_price_adds_one_point(es: Elasticsearch, names: Names, lab_pages: Any) -> None:
    index.setup(es, names)
    assert crawl(es, names, lab_pages, MARKET, "2026-11-01T10:00:00Z") == [None] * len(MARKET)
    first = counts(es, names)
    assert first[0] >= 10 and first[1] >= 5
    crawl(es, names, lab_pages, MARKET, "2026-11-02T10:00:00Z")
    assert counts(es, names) == first
    (pangolin,) = L.search_listings(es, names, "pangolin")["hits"]
    assert [p["price"] for p in pangolin["prices"]] == [1.2]
    assert (pangolin["first_seen"], pangolin["last_seen"]) == ("2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z")

    def dearer(site: str, path: str, html: str) -> str:
        return html.replace("1.2 XMR", "1.5 XMR")

    crawl(es, names, lab_pages, MARKET, "2026-11-03T10:00:00Z", dearer)
    assert counts(es, names) == first
    (pangolin,) = L.search_listings(es, names, "pangolin")["hits"]
    assert [(p["at"], p["price"], p["currency"]) for p in pangolin["prices"]] == [
        ("2026-11-01T10:00:00Z", 1.2, "XMR"), ("2026-11-03T10:00:00Z", 1.5, "XMR")]
    assert pangolin["price"] == 1.5
    crawl(es, names, lab_pages, MARKET, "2026-11-04T10:00:00Z", dearer)  # the new price, seen again: no point
    assert len(L.search_listings(es, names, "pangolin")["hits"][0]["prices"]) == 2


def test_a_listing_seen_without_its_vendor_is_one_listing(es: Elasticsearch, names: Names, lab_pages: Any) -> None:
    """The market's home page lists titles and prices only: crawled before or after the
    listing's own page, it never makes a second listing."""
    index.setup(es, names)
    crawl(es, names, lab_pages, [("market", "/")], "2026-11-01T10:00:00Z")  # vendorless first
    home_only = counts(es, names)[0]
    crawl(es, names, lab_pages, [("market", "/category/wildlife"), ("market", "/category/drugs"), ("market", "/category/data")],
          "2026-11-01T11:00:00Z")
    hits = L.all_listings(es, names)
    assert all(h["vendor"] for h in hits), [h["title"] for h in hits if not h["vendor"]]
    assert len(hits) == 12 and home_only == 6  # first page of each category: 3 x 4 listings, the home page's 6 among them
    crawl(es, names, lab_pages, [("market", "/")], "2026-11-02T10:00:00Z")  # and vendorless after
    assert counts(es, names)[0] == 12


def test_search_filters(es: Elasticsearch, names: Names, lab_pages: Any) -> None:
    index.setup(es, names)
    crawl(es, names, lab_pages, MARKET + BAZAAR, "2026-11-01T10:00:00Z")
    assert {h["title"] for h in L.search_listings(es, names, "", ships_to="China")["hits"]} >= {"穿山甲鳞片 500克 / pangolin scales 500 g"}
    assert L.search_listings(es, names, "穿山甲")["total"] == 1  # Chinese words by 2-grams
    thb = L.search_listings(es, names, "", currency="THB")["hits"]
    assert thb and all(h["currency"] == "THB" for h in thb)
    cheap = L.search_listings(es, names, "", currency="THB", price_max=5000)["hits"]
    assert [h["title"] for h in cheap] == ["ยาบ้า WY 100 เม็ด ส่งด่วน"]
    assert {h["vendor"] for h in L.search_listings(es, names, "", vendor_norm="siamchem")["hits"]} <= {"SiamChem", "siamchem"}
    _, onion_of = lab_pages
    assert all(onion_of["bazaar"] in h["onions"] for h in L.search_listings(es, names, "", onion=onion_of["bazaar"])["hits"])


def test_pivots_and_vendors_across_onions(es: Elasticsearch, names: Names, lab_pages: Any) -> None:
    index.setup(es, names)
    crawl(es, names, lab_pages, MARKET + BAZAAR + FORUM, "2026-11-01T10:00:00Z")
    _, onion_of = lab_pages
    found = ident_index.pivot(es, names, value_hash("btc", SHARED_BTC, KEY), "btc")
    assert set(found["onions"]) == {onion_of["market"], onion_of["bazaar"], onion_of["forum"]}
    assert found["display"] == SHARED_BTC
    tg = ident_index.pivot(es, names, value_hash("telegram", "kalimantan_exotics", KEY), "telegram")
    assert set(tg["onions"]) == {onion_of["market"], onion_of["bazaar"], onion_of["forum"]}
    assert tg["display"] != "kalimantan_exotics"  # personal: masked
    vendors = {v["name"].lower(): v for v in L.vendors(es, names, min_markets=2)}
    by_norms = {tuple(v["vendor_norms"]): v for v in vendors.values()}
    red = next(v for k, v in by_norms.items() if "redriverlab" in k)
    assert set(red["vendor_norms"]) == {"hanoidragon", "redriverlab"}
    assert {link["kind"] for link in red["links"]} == {"pgp"}  # different names, one key
    siam = next(v for k, v in by_norms.items() if "siamchem" in k)
    assert len(siam["onions"]) == 3 and {"name", "btc", "pgp", "telegram"} <= {link["kind"] for link in siam["links"]}
    btc_link = next(link for link in siam["links"] if link["kind"] == "btc")
    assert btc_link["value"] == SHARED_BTC
    tg_link = next(link for link in siam["links"] if link["kind"] == "telegram")
    assert tg_link["value"] != "siamchem_th"  # links are shown masked when personal
    borneo = next(v for k, v in by_norms.items() if "borneotrader" in k)
    assert {"borneotrader", "kalimantanexotics"} <= set(borneo["vendor_norms"])


def test_personal_values_are_never_in_the_indices(es: Elasticsearch, names: Names, lab_pages: Any) -> None:
    index.setup(es, names)
    crawl(es, names, lab_pages, [("market", "/listing/fullz-us-th-50")] + FORUM + BAZAAR, "2026-11-01T10:00:00Z")
    es.indices.refresh(index=f"{names.alias('listings')},{names.alias('identifiers')}")
    hits = es.search(index=f"{names.alias('listings')},{names.alias('identifiers')}", size=500)["hits"]["hits"]
    dump = str(hits)
    for clear in ("somchai.t@example.com", "jane.p@example.org", "siamchem_th", "+66815550123", "+66895550199"):
        assert clear not in dump
    assert SHARED_BTC in dump  # public identifiers are shown in clear
    handles = [h["_source"] for h in hits if h["_source"].get("kind") == "telegram"]
    assert handles and all(h["display"] == h["masked"] and "_" not in h["display"] for h in handles)
    # a forum author's name is a vendor name (public), even when it spells like their handle
    assert any(h["_source"].get("vendor") == "kalimantan_exotics" for h in hits)


def test_a_failed_page_write_writes_no_listings(es: Elasticsearch, names: Names, lab_pages: Any) -> None:
    index.setup(es, names)
    render, onion_of = lab_pages
    _, html = render("market", "/listing/chuanshanjia-scales")
    rec = record("market", "/listing/chuanshanjia-scales", html, onion_of)
    ListingExtractor(KEY)([rec])
    assert L.store(es, names, [rec], ["page not stored"]) == ["page not stored"]
    assert counts(es, names) == (0, 0)
