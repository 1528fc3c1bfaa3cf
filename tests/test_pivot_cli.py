"""`onionwatch listings | vendors | pivot --json` against the real ES-compatible server, on
lab pages (rendered by the lab's own routing) stored through the listing store: the JSON
shapes scripts rely on, and the pivots the issue asks for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

import index
from index import Names
from index import listings as L
from listings import ListingExtractor
from onionwatch.commands.listings import listings_cmd, pivot_cmd, vendors_cmd
from tests.listing_helpers import KEY, record, renderer

SHARED_BTC = "1N58Qx87TAaVPHGWMK53k7nADuRMFxtnLM"
HIT_KEYS = ["listing_id", "title", "price", "currency", "quantity", "unit", "vendor", "ships_from", "ships_to",
            "category", "site_category", "onion", "url", "first_seen", "last_seen", "prices"]
PAGES = [("market", p) for p in ("/", "/category/wildlife", "/category/data", "/listing/chuanshanjia-scales",
                                 "/vendor/siamchem", "/vendor/hanoi-dragon", "/vendor/borneo-trader", "/vendor/datakingz")] + \
        [("bazaar", p) for p in ("/", "/browse/sea", "/item/sea-yaba-siamchem", "/item/dm-15354", "/seller/siamchem",
                                 "/seller/redriverlab", "/seller/kalimantan-exotics")] + \
        [("forum", p) for p in ("/thread/siamchem-official", "/thread/kalimantan-exotics")]


@pytest.fixture
def stored(es: Elasticsearch, names: Names, es_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.setenv("ONIONWATCH_ES_URL", es_url)
    monkeypatch.setenv("ONIONWATCH_INDEX_PREFIX", names.prefix)
    monkeypatch.setenv("ONIONWATCH_HOME", str(tmp_path))
    monkeypatch.setenv("ONIONWATCH_PII_KEY", KEY.decode())
    index.setup(es, names)
    render, onion_of = renderer()
    recs = [record(s, p, render(s, p)[1], onion_of) for s, p in PAGES]
    ListingExtractor(KEY)(recs)
    assert L.store(es, names, recs) == [None] * len(recs)
    return onion_of


def cli(cmd: Any, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cmd, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_listings_json_contract(stored: dict[str, str]) -> None:
    out = cli(listings_cmd)
    assert out["total"] == len(out["hits"]) > 20
    for h in out["hits"]:
        assert list(h) == HIT_KEYS
        assert all(set(p) == {"at", "price", "currency"} for p in h["prices"])
    pangolin = cli(listings_cmd, "pangolin", "--ships-to", "china", "--price-max", "2", "--currency", "xmr")
    assert [h["title"] for h in pangolin["hits"]] == ["穿山甲鳞片 500克 / pangolin scales 500 g"]
    assert cli(listings_cmd, "--vendor", "Siam-Chem")["total"] >= 3
    assert cli(listings_cmd, "--onion", stored["forum"])["total"] == 0
    assert cli(listings_cmd, "--since", "2030-01-01")["total"] == 0
    assert all(h["category"] == "leaked_data" for h in cli(listings_cmd, "--category", "leaked_data")["hits"])


def test_pivot_the_shared_btc_address_finds_both_markets_and_the_forum(stored: dict[str, str]) -> None:
    out = cli(pivot_cmd, SHARED_BTC)
    assert (out["kind"], out["value"]) == ("btc", SHARED_BTC)
    assert {o["onion"] for o in out["occurrences"]} == {stored["market"], stored["bazaar"], stored["forum"]}
    for o in out["occurrences"]:
        assert {"onion", "url", "listing_id", "first_seen", "last_seen"} <= set(o)


def test_pivot_a_handle_hashes_it_first_and_shows_it_masked(stored: dict[str, str]) -> None:
    out = cli(pivot_cmd, "@kalimantan_exotics")
    assert out["kind"] == "telegram" and out["value"] != "kalimantan_exotics" and out["value"].startswith("k•")
    assert {o["onion"] for o in out["occurrences"]} == {stored["market"], stored["bazaar"], stored["forum"]}
    # (the forum author is named kalimantan_exotics: a vendor name, public; the handle itself is not shown)
    assert "kalimantan_exotics" not in json.dumps([{k: v for k, v in o.items() if k != "vendor"} for o in out["occurrences"]])


def test_pivot_a_key_fingerprint_and_a_vendor_name(stored: dict[str, str]) -> None:
    fpr = "D1AE C447 E7A7 63DA 305F  DC3B 16CE 0083 EF6B 2E2C"  # HanoiDragon's = RedRiverLab's key
    out = cli(pivot_cmd, fpr)
    assert out["kind"] == "pgp" and {o["onion"] for o in out["occurrences"]} == {stored["market"], stored["bazaar"]}
    vendor = cli(pivot_cmd, "SiamChem")
    assert vendor["kind"] == "vendor" and {o["onion"] for o in vendor["occurrences"]} >= {stored["market"], stored["bazaar"]}
    bad = CliRunner().invoke(pivot_cmd, [SHARED_BTC[:-1] + "X", "--kind", "btc", "--json"])
    assert bad.exit_code == 2 and "not a valid btc identifier" in bad.output


def test_vendors_on_two_markets_say_what_links_them(stored: dict[str, str]) -> None:
    out = cli(vendors_cmd, "--min-markets", "2")
    assert out["vendors"] and all(set(v) >= {"name", "onions", "links"} and len(v["onions"]) >= 2 for v in out["vendors"])
    by_name = {v["name"].lower(): v for v in out["vendors"]}
    red = next(v for v in out["vendors"] if {"HanoiDragon", "RedRiverLab"} <= set(v["names"]))
    assert [link["kind"] for link in red["links"]] == ["pgp"]
    assert red["links"][0]["value"] == "D1AEC447E7A763DA305FDC3B16CE0083EF6B2E2C"
    siam = by_name["siamchem"]
    assert {"btc", "pgp", "name"} <= {link["kind"] for link in siam["links"]} and len(siam["onions"]) == 3
    assert {"kind": "btc", "value": SHARED_BTC} in siam["links"]
    text = CliRunner().invoke(vendors_cmd, ["--min-markets", "3"]).output
    assert "SiamChem" in text and "linked by: " in text
