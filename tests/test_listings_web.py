"""The web app's listing search, vendor page and identifier page (Flask test client on the
real ES-compatible server): each links to the others, crawled text stays text, personal
identifiers stay masked."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

import index
from index import Names
from index import listings as L
from listings import ListingExtractor
from onionwatch.web import Backend, TokenStore, create_app
from tests.fixtures_es import drop_prefix
from tests.listing_helpers import KEY, record, renderer

PAGES = [("market", "/category/wildlife"), ("market", "/vendor/hanoi-dragon"), ("market", "/vendor/siamchem"),
         ("bazaar", "/seller/redriverlab"), ("bazaar", "/seller/siamchem"), ("bazaar", "/browse/sea"),
         ("forum", "/thread/siamchem-official")]
HOSTILE_TITLE = "<script>alert(1)</script> ivory <img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def names(es: Elasticsearch) -> Iterator[Names]:
    names = Names(f"l{uuid.uuid4().hex[:10]}")
    index.setup(es, names)
    render, onion_of = renderer()
    recs = [record(s, p, render(s, p)[1], onion_of) for s, p in PAGES]
    hostile = f"<html><body><h1>{HOSTILE_TITLE.replace('<', '&lt;')}</h1><p>Vendor: x&lt;b&gt;y</p><p>Price: $5</p></body></html>"
    recs.append(record("market", "/listing/hostile", hostile, onion_of))
    ListingExtractor(KEY)(recs)
    assert L.store(es, names, recs) == [None] * len(recs)
    yield names
    drop_prefix(es, names.prefix)


@pytest.fixture(scope="module")
def web(es: Elasticsearch, names: Names, tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    tokens = TokenStore(tmp_path_factory.mktemp("tok") / "t.json")
    app = create_app(Backend(es=es, names=names, snapshot_key=lambda: b"k"), tokens, b"s" * 32)
    c = app.test_client()
    assert c.post("/login", data={"token": tokens.create("analyst"), "next": "/listings"}).status_code == 302
    return c


def test_listing_search_links_vendors_and_identifiers(web: FlaskClient) -> None:
    html = web.get("/listings?q=tê+tê").get_data(as_text=True)
    assert "Vảy tê tê khô — 1 kg" in html and 'href="/vendor/hanoidragon"' in html
    thb = web.get("/listings?currency=THB&price_max=5000").get_data(as_text=True)
    assert "ยาบ้า WY 100 เม็ด ส่งด่วน" in thb and "Vảy tê tê" not in thb
    siam = web.get("/listings?vendor=Siam-Chem").get_data(as_text=True)
    assert "ยาบ้า WY 100 เม็ด ส่งด่วน" in siam and "Vảy tê tê" not in siam
    assert web.get("/listings?price_min=abc").status_code == 400
    assert web.get("/listings?onion=not-an-onion").status_code == 400


def test_vendor_page_shows_onions_links_and_identifiers(web: FlaskClient) -> None:
    html = web.get("/vendor/redriverlab").get_data(as_text=True)
    assert "HanoiDragon" in html and "RedRiverLab" in html  # one vendor group, two names
    assert "D1AEC447E7A763DA305FDC3B16CE0083EF6B2E2C" in html and "pgp" in html
    ident = re.search(r'href="(/identifier/[0-9a-f]{24})"', html).group(1)
    page = web.get(ident).get_data(as_text=True)
    assert 'href="/vendor/hanoidragon"' in page and 'href="/vendor/redriverlab"' in page
    assert web.get("/vendor/nobody-at-all").status_code == 404


def test_identifier_page_masks_personal_data(web: FlaskClient) -> None:
    html = web.get("/vendor/siamchem").get_data(as_text=True)
    assert "siamchem_th" not in html
    idents = re.findall(r'href="(/identifier/[0-9a-f]{24})"><code>([^<]*)</code>', html)
    telegram = [path for path, shown in idents if shown.startswith("s•")]
    assert telegram, idents
    page = web.get(telegram[0]).get_data(as_text=True)
    assert "Personal data: shown masked" in page and "siamchem_th" not in page
    assert web.get("/identifier/" + "0" * 24).status_code == 404 and web.get("/identifier/xyz").status_code == 404


def test_crawled_text_stays_text(web: FlaskClient) -> None:
    html = web.get("/listings?q=ivory").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "<img src=x" not in html
