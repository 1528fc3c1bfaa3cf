"""Site rules are data, tested like code: every shipped rule file loads and does what it says
on the pages it is for; a broken rule fails loudly, naming its file."""

from __future__ import annotations

from pathlib import Path

import pytest

import configs
from lab.listing_truth import FIELDS, expected_listings
from listings import ListingExtractor, RuleError, load_rules
from listings.evaluate import add, rates, score_page
from tests.listing_helpers import KEY, lab_sites, record, renderer


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_every_shipped_rule_file_loads() -> None:
    rules = load_rules(configs.path("sites"))
    assert "lab-bazaar" in [r.name for r in rules]


@pytest.mark.parametrize(("body", "message"), [
    ("extract: {match: {title: x}, rows: [{block: 'tr[', fields: {title: td}}]}", "invalid selector"),
    ("extract: {match: {title: x}, rows: [{block: tr, fields: {title: td, colour: td}}]}", "unknown field"),
    ("extract: {match: {title: x}, rows: [{block: tr, fields: {price: td}}]}", "needs a title"),
    ("extract: {rows: [{block: tr, fields: {title: td}}]}", "must match by onions or by a page fingerprint"),
    ("extract: {match: {onions: [not-an-onion]}}", "not v3 onion addresses"),
    ("extract: {match: {title: '('}}", "match.title"),
    ("extract: {match: {title: x}, colour: red}", "unknown key"),
    ("extract: [1, 2]", "must be a mapping"),
])
def test_a_broken_rule_names_its_file_and_problem(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(RuleError, match=message) as err:
        load_rules(write(tmp_path, body, "broken.yaml"))
    assert "broken.yaml" in str(err.value)


def test_files_without_an_extract_key_are_crawl_profiles_only(tmp_path: Path) -> None:
    assert load_rules(write(tmp_path, "name: x\nonions: []\npoliteness: {delay: 2}\n")) == []
    assert load_rules(tmp_path / "missing") == []


def test_a_rule_keyed_by_onion_names_the_market_for_every_mirror(tmp_path: Path) -> None:
    a, b, other = "a" * 56 + ".onion", "b" * 56 + ".onion", "c" * 56 + ".onion"
    write(tmp_path, f"""name: shop
onions: [{a}, {b}]
extract:
  market: Golden Shop
  listing: {{fields: {{title: "h1.t", price: "span.p", vendor: "//a[@rel='author']"}}}}
  generic: false
""")
    ex = ListingExtractor(KEY, sites_dir=tmp_path)
    html = "<html><body><h1 class='t'>Ketamine 20 g</h1><span class='p'>1.5 XMR</span><a rel='author' href='/u/x'>YunnanJade</a></body></html>"
    got = [ex.extract(html, url=f"http://{o}/item/1", onion=o).listings for o in (a, b, other)]
    assert got[0][0]["listing_id"] == got[1][0]["listing_id"] and got[0][0]["market"] == "Golden Shop"
    assert (got[0][0]["price"], got[0][0]["currency"], got[0][0]["vendor"], got[0][0]["source"]) == (1.5, "XMR", "YunnanJade", "rule:shop")
    assert got[2] == []  # not that site: only the generic extractor, and the page states no "Price:" label


def test_the_lab_bazaar_rule_on_its_pages() -> None:
    """The shipped rule for the lab's table market, on the pages the lab renders: it applies
    by fingerprint, names the market, and the rules + generic extractor meet the truth."""
    render, onion_of = renderer()
    specs, _ = lab_sites()
    ex = ListingExtractor(KEY, sites_dir=configs.path("sites"))
    truth = expected_listings(specs["bazaar"], onion_of)
    by_path: dict[str, list[dict]] = {}
    for t in truth:
        by_path.setdefault(t["path"], []).append(t["fields"])
    totals: dict = {}
    sources: set[str] = set()
    for path, expected in by_path.items():
        _, html = render("bazaar", path)
        rec = record("bazaar", path, html, onion_of)
        ex([rec])
        sources |= {x["source"] for x in rec["listings"]}
        assert {x["market"] for x in rec["listings"]} <= {"Dream Bazaar"}
        add(totals, score_page(rec["listings"], expected, FIELDS))
    assert "rule:lab-bazaar" in sources and "labels" in sources
    for field, r in rates(totals).items():
        assert r["precision"] >= 0.95 and r["recall"] >= 0.95, (field, r)
    _, market_home = render("market", "/")
    other = record("market", "/", market_home, onion_of)
    ex([other])
    assert other["listings"] and {x["market"] for x in other["listings"]} == {onion_of["market"]}
