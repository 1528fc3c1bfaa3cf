"""Alert rules on listings, identifiers and vendors against the real ES-compatible server,
with lab pages tagged by the real tagger and extracted by the real extractor: the shipped
leaked-data rule fires once per new listing (not per page; a re-crawl or a mirror adds
nothing) with what, who, price and where; identifier and vendor rules fire once per new onion."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch

import alerts as alerting
import index
from crawler.extract import extract
from crawler.items import shape
from enrich.records import RecordEnricher
from enrich.tagger import Tagger
from index import Names
from index import listings as L
from listings import ListingExtractor
from tests.listing_helpers import KEY, record, renderer

SHARED_BTC = "1N58Qx87TAaVPHGWMK53k7nADuRMFxtnLM"
DATA_PAGES = [("market", "/"), ("market", "/category/data"), ("market", "/category/data?page=2"),
              ("market", "/vendor/datakingz"), ("market", "/listing/fullz-us-th-50"), ("market", "/listing/thai-telco-db"),
              ("market", "/category/wildlife"), ("market", "/listing/chuanshanjia-scales")]


@pytest.fixture(scope="module")
def pipeline() -> Any:
    render, onion_of = renderer()
    enricher = RecordEnricher(Tagger.load(), KEY)
    extractor = ListingExtractor(KEY)

    def crawl(es: Elasticsearch, names: Names, pages: list[tuple[str, str]], t: str, onion: str | None = None) -> None:
        recs = []
        for site, path in pages:
            _, html = render(site, path)
            r = record(site, path, html, onion_of, fetched_at=t)
            if onion:  # a mirror: the same site at another onion
                r["onion"], r["url"] = onion, r["url"].replace(onion_of[site], onion)
            got = extract(html, r["url"])
            r.update(title=got.title, text=got.text)
            recs.append(r)
        enricher(recs)
        extractor(recs)
        for r in recs:  # as the store pipeline does: cut to the page record, keep the processor's fields
            cut = shape(r)
            cut.update((k, r[k]) for k in ListingExtractor.fields)
            r.clear()
            r.update(cut)
        pages = index.PageWriter(es, names, snapshot_key=b"k" * 32)  # the page first, as the sink does
        errors = pages.store(recs)
        pages.refresh()
        assert L.store(es, names, recs, errors) == [None] * len(recs)

    return crawl, onion_of


def config(home: Path, rules: list[dict[str, Any]] | None = None) -> alerting.AlertConfig:
    home.mkdir(exist_ok=True)
    (home / "alerts.yaml").write_text(yaml.safe_dump({"channels": {"default": [f"jsonl:{home}/alerts.jsonl"]},
                                                      "rules": rules or []}))
    return alerting.load_config(home=home)


def delivered(home: Path) -> list[dict[str, Any]]:
    path = home / "alerts.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def run(es: Elasticsearch, names: Names, cfg: alerting.AlertConfig, rule: str) -> dict[str, Any]:
    (summary,) = alerting.run(es, names, cfg, rule_name=rule, pii_key=KEY)
    return summary


def test_the_shipped_rule_fires_once_per_new_leaked_data_listing(es: Elasticsearch, names: Names, pipeline: Any,
                                                                 tmp_path: Path) -> None:
    crawl, onion_of = pipeline
    index.setup(es, names)
    cfg = config(tmp_path / "home")
    rule = "new leaked-data sale"
    assert cfg.rule(rule).target == "listings"
    assert run(es, names, cfg, rule)["baseline"]
    crawl(es, names, DATA_PAGES, "2026-11-22T10:00:00Z")
    first = run(es, names, cfg, rule)
    leaked = L.all_listings(es, names, "", category="leaked_data")
    titles = {x["title"] for x in leaked}
    assert len(titles) == 6  # the six data listings of Golden Lotus, each shown on several pages
    assert first["queued"] == first["delivered"] == 6 and first["pending"] == 0
    posts = delivered(tmp_path / "home")
    assert {p["title"] for p in posts} == titles and len(posts) == 6
    fullz = next(p for p in posts if p["title"].startswith("Fullz pack"))
    assert (fullz["vendor"], fullz["price"], fullz["currency"], fullz["onion"]) == ("datakingz", 0.0025, "BTC", onion_of["market"])
    assert fullz["snippet"].startswith("Fullz pack TH/US") and "0.0025 BTC for 50 records" in fullz["snippet"]
    assert "<" not in fullz["snippet"] and "&" not in fullz["snippet"] and "Escrow" not in fullz["snippet"]  # no nav, no HTML
    assert fullz["categories"] == ["leaked_data"] and fullz["evidence_sha256"] and fullz["page_id"]
    assert "somchai" not in json.dumps(posts)  # the sample rows' personal data never reaches an alert
    # the same pages again, and the market mirrored on another onion: no new sale
    crawl(es, names, DATA_PAGES, "2026-11-23T10:00:00Z")
    crawl(es, names, DATA_PAGES, "2026-11-23T11:00:00Z", onion="m" * 56 + ".onion")
    again = run(es, names, cfg, rule)
    assert again["queued"] == 0 and len(delivered(tmp_path / "home")) == 6


def test_an_identifier_rule_fires_once_per_new_onion(es: Elasticsearch, names: Names, pipeline: Any, tmp_path: Path) -> None:
    crawl, onion_of = pipeline
    index.setup(es, names)
    crawl(es, names, [("market", "/vendor/siamchem")], "2026-11-20T10:00:00Z")  # known before the rule starts
    time.sleep(1.1)  # indexed_at has 1 s resolution: what is stored before the baseline stays old
    cfg = config(tmp_path / "home", [{"name": "siamchem wallet", "target": "identifiers", "identifiers": [SHARED_BTC],
                                      "channels": ["default"]},
                                     {"name": "siamchem handle", "target": "identifiers",
                                      "identifier_hashes": [alerting.split_identifiers(["@siamchem_th"], KEY)[1][0]],
                                      "channels": ["default"]}])
    assert run(es, names, cfg, "siamchem wallet")["baseline"] and run(es, names, cfg, "siamchem handle")["baseline"]
    crawl(es, names, [("market", "/vendor/siamchem"), ("bazaar", "/seller/siamchem"), ("forum", "/thread/siamchem-official")],
          "2026-11-22T10:00:00Z")
    wallet = run(es, names, cfg, "siamchem wallet")
    handle = run(es, names, cfg, "siamchem handle")
    assert wallet["queued"] == 2 and handle["queued"] == 2  # bazaar and forum: new; the market was known
    posts = delivered(tmp_path / "home")
    assert {(p["rule"], p["onion"]) for p in posts} == {(r, onion_of[s]) for r in ("siamchem wallet", "siamchem handle")
                                                        for s in ("bazaar", "forum")}
    assert all(p["identifier"] == SHARED_BTC for p in posts if p["rule"] == "siamchem wallet")
    assert "siamchem_th" not in json.dumps(posts)  # the handle is personal: masked in the payload
    crawl(es, names, [("bazaar", "/seller/siamchem"), ("bazaar", "/")], "2026-11-23T10:00:00Z")
    assert run(es, names, cfg, "siamchem wallet")["queued"] == 0


def test_a_vendor_rule_fires_when_the_vendor_reaches_a_new_market(es: Elasticsearch, names: Names, pipeline: Any,
                                                                  tmp_path: Path) -> None:
    crawl, onion_of = pipeline
    index.setup(es, names)
    crawl(es, names, [("market", "/vendor/siamchem")], "2026-11-20T10:00:00Z")
    time.sleep(1.1)
    cfg = config(tmp_path / "home", [{"name": "siamchem moves", "target": "vendors", "vendors": ["Siam Chem"],
                                      "channels": ["default"]}])
    assert run(es, names, cfg, "siamchem moves")["baseline"]
    crawl(es, names, [("market", "/listing/yaba-tablets-200"), ("bazaar", "/seller/siamchem"),
                      ("forum", "/thread/siamchem-official")], "2026-11-22T10:00:00Z")
    fired = run(es, names, cfg, "siamchem moves")
    posts = delivered(tmp_path / "home")
    assert fired["queued"] == 2 and {p["onion"] for p in posts} == {onion_of["bazaar"], onion_of["forum"]}
    assert all(p["kind"] == "vendor" and "SiamChem" in p["snippet"] for p in posts)
    assert run(es, names, cfg, "siamchem moves")["queued"] == 0


def test_rules_that_cannot_work_are_refused() -> None:
    with pytest.raises(alerting.AlertConfigError, match="target must be one of"):
        alerting.Rule.from_dict({"name": "x", "target": "planets"})
    with pytest.raises(alerting.AlertConfigError, match="names what to watch"):
        alerting.Rule.from_dict({"name": "x", "target": "identifiers"})
    with pytest.raises(ValueError, match="not an identifier"):
        alerting.split_identifiers(["hello world"], KEY)
