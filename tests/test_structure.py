"""The crawler's structural page-kind hint (crawler/structure.py) on small HTML samples, and the
hint's way through the crawl: spider → record's transient key → RecordEnricher → the tagger's
page kind → the stored record without the key."""

from __future__ import annotations

import hashlib
import json
import time

import lxml.html
import pytest

from crawler.extract import extract
from crawler.onion import onion_from_pubkey
from crawler.structure import HINTS, structure_hint

ONION = onion_from_pubkey(hashlib.sha256(b"structure-test").digest())
URL = f"http://{ONION}/item/1"


def hint(html: str) -> str | None:
    return structure_hint(lxml.html.document_fromstring(html))


def page(body: str, head: str = "", title: str = "t") -> str:
    return f"<html lang='en'><head><title>{title}</title>{head}</head><body>{body}</body></html>"


PROSE = ("<p>A clean batch that was made in a proper lab. It is the same one that we have had for years and "
         "the people who tried it think that it is as good as the last one.</p>")
KETAMINE = page(
    "<nav><a href='/'>Home</a> <a href='/c/drugs'>Drugs</a></nav><h1>Liquid Ketamine - 1000mg / 10mL</h1>" + PROSE,
    head="""<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
      "name": "Liquid Ketamine - 1000mg / 10mL", "offers": {"@type": "Offer", "price": "95", "priceCurrency": "USD"}}</script>""",
    title="Liquid Ketamine - 1000mg / 10mL",
)


# -- listing and shop --------------------------------------------------------------------------

def test_a_product_page_with_a_schema_org_offer_is_a_listing() -> None:
    assert hint(KETAMINE) == "listing"
    assert extract(KETAMINE, URL).kind == "listing", "the extractor gives the hint (before it drops scripts)"
    microdata = page("""<div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">ARCTIC WOLF HEROIN 0.5G AAA+</h1>
      <div itemprop="offers" itemscope itemtype="https://schema.org/Offer"><span itemprop="price">0.004</span> BTC</div></div>""")
    assert hint(microdata) == "listing", "an Offer inside its Product is that product's"
    standalone_offer = page('<div vocab="https://schema.org/" typeof="Offer"><span property="price">40</span></div>')
    assert hint(standalone_offer) == "listing"


def test_several_schema_org_products_are_a_shop() -> None:
    items = ",".join(f'{{"@type": "ListItem", "position": {i}, "item": {{"@type": "Product", "name": "item {i}"}}}}' for i in range(3))
    html = page("<h1>Catalogue</h1>", head=f'<script type="application/ld+json">{{"@type": "ItemList", "itemListElement": [{items}]}}</script>')
    assert hint(html) == "shop"


def test_a_table_of_items_under_a_price_header_is_a_shop_in_any_language() -> None:
    rows = "".join(f"<tr><td><a href='/item/{i}'>Item {i}</a></td><td>{i}0 USD</td><td><a href='/seller/x'>x</a></td></tr>" for i in range(3))
    assert hint(page(f"<table><tr><th>Item</th><th>Price</th><th>Seller</th></tr>{rows}</table>")) == "shop"
    vi = "<table><thead><tr><th>Sản phẩm</th><th>Giá</th></tr></thead><tbody><tr><td><a href='/sp/1'>Ma túy đá 50g</a></td><td>500k</td></tr></tbody></table>"
    assert hint(page(vi)) == "shop", "one vendor's table with one item is still a shop's list"
    no_links = "<table><tr><th>Year</th><th>Price</th></tr><tr><td>2024</td><td>$120</td></tr><tr><td>2025</td><td>$150</td></tr></table>"
    assert hint(page(no_links)) is None, "a price history table is not a list of items"


def test_repeated_blocks_each_with_a_link_and_a_price_are_a_shop() -> None:
    items = "".join(f"<li><a href='/listing/{i}'>Heroin No4 {i}g</a> — 0.0{i} BTC / {i}50 USD</li>" for i in range(1, 5))
    assert hint(page(f"<h2>Latest listings</h2><ul>{items}</ul>")) == "shop"
    oscar = "".join(f"<li><article class='product_pod'><h3><a href='/p/{i}/'>Item {i}</a></h3><p class='price_color'>£1{i}.00</p></article></li>" for i in range(4))
    assert hint(page(f"<ol class='row'>{oscar}</ol>")) == "shop"


def test_a_product_page_of_its_own_is_a_listing() -> None:
    kv = "<h1>Account Verification Service</h1><table class='item'><tr><th>Price</th><td>$60</td></tr><tr><th>Seller</th><td>x</td></tr></table>"
    assert hint(page(kv)) == "listing"
    th = "<h1>ยาบ้า 100 เม็ด</h1><table><tr><td>ราคา</td><td>4,000 บาท</td></tr></table>"
    assert hint(page(th)) == "listing"
    recommended = "".join(f"<li><article class='product_pod'><a href='/p/{i}/'>Other {i}</a><p>£1{i}.00</p></article></li>" for i in range(4))
    oscar = f"<article class='product_page'><h1>Item</h1><p class='price_color'>£12.00</p></article><ul>{recommended}</ul>"
    assert hint(page(oscar)) == "listing", "a product's page with recommendations beside it is that product's"


# -- forum and paste ---------------------------------------------------------------------------

def test_forum_software_post_markup_is_a_forum() -> None:
    phpbb = page("""<div id="p101" class="post bg2"><div class="inner"><div class="postbody"><h3>Re: WTS</h3>
      <div class="content">Selling 10g, pm me.</div></div><dl class="postprofile"><dt>vendor1</dt></dl></div></div>""")
    assert hint(phpbb) == "forum"
    discourse = page("""<div itemscope itemtype="http://schema.org/DiscussionForumPosting" class="topic-body crawler-post">
      <span itemprop="author">op</span><div itemprop="articleBody">Anyone tried this vendor? $50 for 1g.</div></div>""",
                     head='<meta name="generator" content="Discourse 3.2.0">')
    assert hint(discourse) == "forum"
    assert hint(page("<p>Board index</p>", head='<meta name="generator" content="phpBB">')) == "forum"
    lab_thread = page("<h1>[WTS] ya ba</h1>" + "".join(f"<article id='post-{i}'><h3>u{i} · 2026-10-31</h3><p>$40 per 100</p></article>" for i in (1, 2)))
    assert hint(lab_thread) == "forum"


def test_a_blog_is_not_a_forum() -> None:
    wordpress = "".join(f"<article id='post-{i}' class='post-{i} post type-post hentry'><h2>Seizure {i}</h2><p>Police said.</p></article>" for i in (11, 12))
    assert hint(page(wordpress)) is None
    assert hint(page(wordpress.replace(" type-post hentry", ""), head='<meta name="generator" content="WordPress 6.4">')) is None


def test_paste_software_is_left_to_the_text() -> None:
    """configs/structure.yaml: a "paste" hint cost a leaked-data paste its tag on the lab's pinnwand."""
    pinnwand = page("""<main class="paste-show"><div class="paste-meta"><p>This paste never expires.</p></div>
      <div class="file-container"><div class="files"><div id="ab12" class="file-show lang-text code single">
      <div class="code"><pre>user:pass</pre></div></div></div></div></main>""")
    assert hint(pinnwand) is None


# -- no hint -------------------------------------------------------------------------------------

def test_news_with_prices_mentioned_gets_no_hint() -> None:
    article = page("""<nav><a href="/">News</a> | <a href="/donate">Donate</a></nav><article><h1>Customs seize ivory</h1>
      <p>2026-11-02 · Hai Phong</p><p>Officers caught a man with $4.5 million in elephant ivory, the agency said.</p>
      <p>A kilogram sells for 1,500 USD on the street, according to the report.</p></article>""")
    assert hint(article) is None
    teasers = "".join(f"<li><a href='/a/{i}'>Seizure {i}</a> — officers found ivory worth $1.{i} million in a container at the port.</li>" for i in range(5))
    assert hint(page(f"<ul>{teasers}</ul>")) is None, "an amount inside a sentence is reported, not a price tag"
    assert hint(page("<h1>Forum rules</h1><p>No scams.</p>")) is None
    assert extract(page(PROSE), URL).kind is None


def test_hostile_html_is_bounded() -> None:
    many = page("<table><tr><th>Item</th><th>Price</th></tr>" + "<tr><td><a href='/i'>x</a></td><td>1 BTC</td></tr>" * 50_000 + "</table>"
                + "<div>" * 5000 + "</div>" * 5000 + "<ul>" + "<li><a href='/x'>x</a> 1 BTC</li>" * 50_000 + "</ul>")
    started = time.process_time()
    assert hint(many) == "shop"
    assert time.process_time() - started < 2.0
    broken = page("<h1>x</h1>", head='<script type="application/ld+json">{"@type": "Product", "name": </script>'
                  + '<script type="application/ld+json">' + "[" * 100_000 + "</script>")
    assert hint(broken) is None, "unreadable JSON-LD is no evidence"
    deep = page('<script type="application/ld+json">' + '{"a":' * 400 + '{"@type": "Product"}' + "}" * 400 + "</script>")
    assert hint(deep) == "listing", "nesting is walked without recursion"


def test_the_hints_are_the_taggers_page_kinds_and_the_key_names_agree() -> None:
    from crawler.items import KIND_HINT, shape
    from enrich.pagekind import KINDS
    from enrich.records import KIND_HINT as ENRICH_KEY

    assert set(HINTS) <= set(KINDS)
    assert KIND_HINT == ENRICH_KEY
    record = {"url": URL, "onion": ONION, "fetched_at": "2026-01-01T00:00:00Z", "text": "x", KIND_HINT: "listing"}
    assert KIND_HINT not in shape(record), "the cut to the page record drops it: not stored"


# -- through the crawl -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def enricher():
    from enrich.records import RecordEnricher
    from enrich.tagger import Tagger

    return RecordEnricher(Tagger.load(), b"structure-test-key")


def test_on_a_listing_page_the_cue_less_title_is_an_offer_elsewhere_the_text_decides(enricher) -> None:
    from crawler.items import KIND_HINT

    text = extract(KETAMINE, URL).text
    assert "$" not in text and "USD" not in text, "no price or sale word in the visible text"

    def tagged(kind: str | None) -> dict:
        record = {"url": URL, "text": text, **({KIND_HINT: kind} if kind else {})}
        enricher([record])
        return record

    listing = tagged("listing")
    assert listing["page_kind"] == "listing" and listing["categories"] == ["drugs"]
    assert any(o["commodity"] == "ketamine" for o in listing["offers"])
    prose = tagged(None)
    assert prose["page_kind"] not in ("listing", "shop") and prose["categories"] == [], "unhinted prose: the text decides"
    news = tagged("news")
    assert news["page_kind"] == "news" and news["categories"] == []
    assert tagged("bogus")["categories"] == [], "a kind the tagger does not know is no hint"


def test_the_spider_passes_the_hint_and_the_stored_record_has_the_kind_not_the_key(tmp_path) -> None:
    from scrapy import Request
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    import crawler.settings as project
    from crawler.items import KIND_HINT
    from crawler.pipelines import StorePipeline
    from crawler.spiders.onion import OnionSpider

    settings = {k: getattr(project, k) for k in dir(project) if k.isupper()}
    out = tmp_path / "out.jsonl"
    settings.update(ONIONWATCH_OUTPUT=str(out), ONIONWATCH_ENRICHER="enrich.records.RecordEnricher",
                    ONIONWATCH_PII_KEY="structure-test-key", ONIONWATCH_PROCESSORS=[], ONIONWATCH_FOLLOW_LINKS=False)
    crawler = get_crawler(OnionSpider, settings)
    spider = OnionSpider.from_crawler(crawler, seeds="")
    spider._configure()
    response = HtmlResponse(URL, body=KETAMINE.encode(), encoding="utf-8", request=Request(URL),
                            headers={"Content-Type": "text/html; charset=utf-8"})
    (item,) = [x for x in spider.parse(response) if isinstance(x, dict)]
    assert item[KIND_HINT] == "listing"
    plain = HtmlResponse(URL + "x", body=page(PROSE).encode(), encoding="utf-8", request=Request(URL + "x"),
                         headers={"Content-Type": "text/html"})
    (other,) = [x for x in spider.parse(plain) if isinstance(x, dict)]
    assert KIND_HINT not in other, "no structure, no key"
    pipeline = StorePipeline.from_crawler(crawler)
    pipeline._enrich_and_store([item, other])
    pipeline.sink.close()
    stored = [json.loads(line) for line in out.read_text().splitlines()]
    assert stored[0]["page_kind"] == "listing" and stored[0]["categories"] == ["drugs"]
    assert stored[1]["categories"] == []
    assert all(KIND_HINT not in s for s in stored)
