"""Listings on the lab, end to end: the two markets and the forum crawled through the private
Tor network into the embedded index with `onionwatch crawl`, then `onionwatch listings |
vendors | pivot --json` against the lab's own truth, a re-crawl that changes no counts, a price
change that gives two price points, the shipped leaked-data alert once per listing, and the
web app's listing, vendor and identifier pages in headless Chromium (screenshots in
tests/artifacts/listings/, or $ONIONWATCH_ARTIFACTS/listings).

Run inside the loopback-only namespace (scripts/test.sh)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.listing_truth import facts
from lab.specs import load_sites
from listings.evaluate import FIELDS, rates, same
from listings.records import normalise_title
from onionwatch import es_server
from procs import free_ports
from tests.fixtures_lab import REPO, lab_env, run_onionwatch

pytestmark = pytest.mark.slow

SHARED_BTC = "1N58Qx87TAaVPHGWMK53k7nADuRMFxtnLM"
SHARED_PGP = "D1AEC447E7A763DA305FDC3B16CE0083EF6B2E2C"
ARTIFACTS = Path(os.environ.get("ONIONWATCH_ARTIFACTS", REPO / "tests" / "artifacts")) / "listings"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
DROPPED = "lab-price-change.yaml"
PRICE_LISTING = {
    "title": "Lab price check — sisik trenggiling 2 kg", "category": "wildlife", "vendor": "borneo-trader",
    "posted": "2026-11-30", "lang": "id", "quantity": 2, "unit": "kg", "ships_from": "Medan", "ships_to": "Malaysia",
    "prices": [{"amount": 0.3, "currency": "BTC"}], "description": "Harga bisa berubah.",
}


def _crawl(env: dict, seeds: str) -> dict[str, Any]:
    out = run_onionwatch(["crawl", "--seeds", seeds, "--timeout", "10", "--summary-json",
                          "-s", "ONIONWATCH_DISCOVER=False", "-s", "ONIONWATCH_MAX_PAGES_PER_ONION=200"], env, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout[out.stdout.index("{"):])


def _json(env: dict, *args: str) -> dict[str, Any]:
    out = run_onionwatch([*args, "--json"], env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def crawled(lab: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Golden Lotus, Dream Bazaar and Delta Board crawled once (with one listing dropped into
    the running lab), the listings read back, then crawled again with that listing's price
    changed."""
    home = tmp_path_factory.mktemp("listings-home")
    env = lab_env(lab, home)
    by_name = {s["name"]: s["onion"] for s in lab["sites"]}
    onions = {n: by_name[n] for n in ("market", "bazaar", "forum")}
    dropin = Path(lab["root"]) / "dropin" / "market" / "listings"
    dropin.mkdir(parents=True, exist_ok=True)
    dropped = dropin / DROPPED
    dropped.write_text(yaml.safe_dump(PRICE_LISTING, allow_unicode=True), encoding="utf-8")
    seeds = ",".join(onions.values())
    try:
        started = time.monotonic()
        first = _crawl(env, seeds)
        crawl_s = round(time.monotonic() - started, 1)
        after_first = {"listings": _json(env, "listings"), "vendors": _json(env, "vendors", "--min-markets", "2"),
                       "pivot": _json(env, "pivot", SHARED_BTC)}
        assert run_onionwatch(["alerts", "run"], env).returncode == 0  # the rule's baseline
        time.sleep(1.1)
        alerts_hunt = _json(env, "alerts", "run", "--since", "2000-01-01")
        dropped.write_text(yaml.safe_dump(dict(PRICE_LISTING, prices=[{"amount": 0.25, "currency": "BTC"}]),
                                          allow_unicode=True), encoding="utf-8")
        second = _crawl(env, seeds)
        after_second = {"listings": _json(env, "listings"), "vendors": _json(env, "vendors", "--min-markets", "2"),
                        "pivot": _json(env, "pivot", SHARED_BTC)}
        yield {"env": env, "home": home, "onions": onions, "first": first, "second": second, "crawl_s": crawl_s,
               "after_first": after_first, "after_second": after_second, "alerts": alerts_hunt, "lab": lab,
               "dropin": dropin.parent.parent}
    finally:
        dropped.unlink(missing_ok=True)
        es_server.stop(home / "es")


def _truth(onion_of: dict[str, str], dropin: Path) -> dict[str, list[dict[str, Any]]]:
    """Every listing of each lab market with all the fields its own page states."""
    from lab.content import items

    out: dict[str, list[dict[str, Any]]] = {}
    specs = {s.name: s for s in load_sites()}
    for name in ("market", "bazaar"):
        spec = specs[name]
        coll = next(c for c in spec.collections if "index" in c)
        vendors_coll = next(c for c in spec.collections if c is not coll)
        vendor_items = items(spec, vendors_coll, [], onion_of, dropin)
        names = {v["slug"]: v.get("name") for v in vendor_items}
        out[name] = [facts(item, names.get(item.get("vendor"))) for item in items(spec, coll, [], onion_of, dropin)]
    return out


def test_listings_json_meets_the_lab_truth_per_field_on_both_layouts(crawled: dict[str, Any]) -> None:
    onion_of = {s["name"]: s["onion"] for s in crawled["lab"]["sites"]}
    truth = _truth(onion_of, crawled["dropin"])
    hits = crawled["after_first"]["listings"]["hits"]
    report = {}
    for name, expected in truth.items():
        # the listing whose price the test changes is checked by its own test
        expected = [t for t in expected if t["title"] != PRICE_LISTING["title"]]
        mine = [h for h in hits if h["onion"] == onion_of[name] and h["title"] != PRICE_LISTING["title"]]
        counts: dict[str, dict[str, int]] = {f: {"tp": 0, "fp": 0, "fn": 0} for f in FIELDS}
        left = list(mine)
        for t in expected:
            m = next((h for h in left if normalise_title(h["title"]) == normalise_title(t["title"])), None)
            if m is None:
                for f in FIELDS:
                    counts[f]["fn"] += t[f] is not None
                continue
            left.remove(m)
            for f in FIELDS:
                if t[f] is None and m[f] is None:
                    continue
                if same(f, t[f], m[f]):
                    counts[f]["tp"] += 1
                else:
                    counts[f]["fp"] += m[f] is not None
                    counts[f]["fn"] += t[f] is not None
        for h in left:
            for f in FIELDS:
                counts[f]["fp"] += h[f] is not None
        report[name] = rates({f: Counter(c) for f, c in counts.items()})
        assert len(mine) == len(expected), (name, len(mine), len(expected), [h["title"] for h in left])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "field-rates.json").write_text(json.dumps(report, indent=2))
    for name, fields in report.items():
        for f, r in fields.items():
            if r["tp"] + r["fp"] + r["fn"]:
                assert r["precision"] >= 0.95 and r["recall"] >= 0.95, (name, f, r)


def test_pivot_finds_the_shared_btc_address_on_both_markets_and_the_forum(crawled: dict[str, Any]) -> None:
    out = crawled["after_first"]["pivot"]
    o = crawled["onions"]
    assert out["kind"] == "btc" and out["value"] == SHARED_BTC
    assert {x["onion"] for x in out["occurrences"]} == {o["market"], o["bazaar"], o["forum"]}
    assert all(x["first_seen"] and x["last_seen"] and x["url"] for x in out["occurrences"])


def test_vendors_that_reuse_a_key_or_an_address_are_linked(crawled: dict[str, Any]) -> None:
    vendors = crawled["after_first"]["vendors"]["vendors"]
    red = next(v for v in vendors if {"HanoiDragon", "RedRiverLab"} <= set(v.get("names", [])))
    assert {"kind": "pgp", "value": SHARED_PGP} in red["links"]
    siam = next(v for v in vendors if v["name"].lower() == "siamchem")
    assert {"kind": "btc", "value": SHARED_BTC} in siam["links"] and len(siam["onions"]) == 3
    assert any(link["kind"] == "telegram" for link in siam["links"])
    assert "siamchem_th" not in json.dumps(vendors)


def test_recrawl_changes_no_counts_and_a_price_change_gives_two_points(crawled: dict[str, Any]) -> None:
    first, second = crawled["after_first"], crawled["after_second"]
    assert second["listings"]["total"] == first["listings"]["total"]
    assert len(second["pivot"]["occurrences"]) == len(first["pivot"]["occurrences"])
    assert [v["onions"] for v in second["vendors"]["vendors"]] == [v["onions"] for v in first["vendors"]["vendors"]]
    changed = next(h for h in second["listings"]["hits"] if h["title"] == PRICE_LISTING["title"])
    assert [(p["price"], p["currency"]) for p in changed["prices"]] == [(0.3, "BTC"), (0.25, "BTC")]
    assert changed["price"] == 0.25
    unchanged = [h for h in second["listings"]["hits"] if h["title"] != PRICE_LISTING["title"]]
    assert all(len(h["prices"]) <= 1 for h in unchanged)


def test_dream_bazaar_pages_are_stored_with_the_page_kind_their_structure_shows(crawled: dict[str, Any]) -> None:
    """The crawler's structural hint (crawler/structure.py) reaches the stored page: every
    category table of the table layout is a shop, every item page with a stated price a listing
    (their text alone reads as a shop: a price, a seller, shipping)."""
    from urllib.parse import urlsplit

    bazaar = crawled["onions"]["bazaar"]
    hits = _json(crawled["env"], "search", "--onion", bazaar, "--size", "500")["hits"]
    kinds = {urlsplit(h["url"])._replace(scheme="", netloc="").geturl(): h["page_kind"] for h in hits}
    listings = REPO / "configs" / "lab" / "bazaar" / "listings"
    priced = {f"/item/{p.stem}" for p in listings.glob("*.yaml")
              if any(ch.isdigit() for ch in str(yaml.safe_load(p.read_text(encoding="utf-8")).get("price_text", "")))}
    browse = sorted(p for p in kinds if p.startswith("/browse/"))
    assert browse and {kinds[p] for p in browse} == {"shop"}, {p: kinds[p] for p in browse}
    assert priced and priced <= set(kinds), sorted(priced - set(kinds))[:5]
    assert {kinds[p] for p in priced} == {"listing"}, {p: kinds[p] for p in priced if kinds[p] != "listing"}


def test_the_shipped_rule_alerts_once_per_leaked_data_listing(crawled: dict[str, Any]) -> None:
    (summary,) = [s for s in crawled["alerts"] if s["rule"] == "new leaked-data sale"]
    leaked = [h for h in crawled["after_first"]["listings"]["hits"] if h["category"] == "leaked_data"]
    sales = {(h["vendor"] or "").lower().replace("-", "") + "|" + normalise_title(h["title"]) for h in leaked}
    assert summary["queued"] == len(sales) >= 6, summary
    posts = [json.loads(x) for x in (crawled["home"] / "alerts.jsonl").read_text().splitlines()]
    assert all(p["title"] and p["price"] is not None or p["price_note"] == "contact" for p in posts)
    assert all("<" not in p["snippet"] for p in posts)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "alerts.json").write_text(json.dumps({"queued": summary["queued"], "titles": sorted(p["title"] for p in posts)},
                                                            ensure_ascii=False, indent=2))


# -- the web pages in a real browser -------------------------------------------------------------

@pytest.fixture(scope="module")
def served(crawled: dict[str, Any]) -> Iterator[dict[str, Any]]:
    env, home = crawled["env"], crawled["home"]
    token = run_onionwatch(["token", "create", "listings"], env).stdout.strip()
    port = free_ports(1)[0]
    log = open(home / "serve.log", "w")  # noqa: SIM115 (closed right after the server has it)
    proc = subprocess.Popen([sys.executable, "-m", "onionwatch", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("onionwatch serve did not start: " + (home / "serve.log").read_text()[-2000:])
            time.sleep(0.2)
    try:
        yield {"base": base, "token": token}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(served: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are needed (apt-get install -y chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                 "--disable-dev-shm-usage", "--window-size=1280,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-listings')}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.get(served["base"] + "/listings")
    driver.find_element(By.ID, "token").send_keys(served["token"])
    _click(driver, driver.find_element(By.ID, "login-submit"))
    yield driver
    driver.quit()
    print(f"\nscreenshots of the listing pages: {ARTIFACTS}")


def _click(driver: Any, element: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _shot(driver: Any, name: str) -> None:
    path = ARTIFACTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 800), 4000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    assert path.stat().st_size > 5000


def test_listing_search_vendor_and_identifier_pages_link_to_each_other(served: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(served["base"] + "/listings?q=trenggiling")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.listing")
    assert rows and any("Sisik trenggiling" in r.text for r in rows)
    _shot(browser, "01-listing-search")
    browser.get(served["base"] + "/listings?currency=THB&price_max=5000")
    assert "ยาบ้า WY 100 เม็ด ส่งด่วน" in browser.find_element(By.ID, "listing-table").text
    _shot(browser, "02-listing-filters")
    browser.get(served["base"] + "/listings?vendor=SiamChem")
    _click(browser, browser.find_elements(By.CSS_SELECTOR, "a.vendor-link")[0])
    assert "/vendor/" in browser.current_url
    links = browser.find_element(By.ID, "vendor-links").text
    assert "btc" in links and SHARED_BTC in links and "siamchem_th" not in browser.page_source
    assert len(browser.find_elements(By.CSS_SELECTOR, "#vendor-onions a")) == 3
    _shot(browser, "03-vendor")
    btc = next(a for a in browser.find_elements(By.CSS_SELECTOR, "a.ident-link") if SHARED_BTC in a.text)
    _click(browser, btc)
    assert "/identifier/" in browser.current_url and browser.find_element(By.ID, "ident-value").text == SHARED_BTC
    assert len(browser.find_elements(By.CSS_SELECTOR, "#ident-onions a")) == 3
    _shot(browser, "04-identifier")
    _click(browser, browser.find_elements(By.CSS_SELECTOR, "#ident-vendors a.vendor-link")[0])
    assert "/vendor/" in browser.current_url
    browser.get(served["base"] + "/vendor/redriverlab")
    assert SHARED_PGP in browser.find_element(By.ID, "vendor-links").text
    assert "HanoiDragon" in browser.find_element(By.ID, "vendor-names").text
    _shot(browser, "05-vendor-pgp-link")
