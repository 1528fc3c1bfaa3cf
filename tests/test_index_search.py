"""Search, highlight, paging, PII lookup and stats against a real server (one dataset per module)."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest
from elasticsearch import Elasticsearch

import index
from index import Names, PageWriter
from tests.fixtures_es import drop_prefix, onion, page_record

SHOP, NEWS, THAI, PAGED = onion(10), onion(11), onion(12), onion(13)
H_EMAIL, H_CARD = "e" * 64, "c" * 64


def entity(label: str, h: str) -> dict:
    return {"label": label, "start": 0, "end": 4, "score": 0.99, "masked": "****", "hash": h}


DOCS = [
    page_record(f"http://{SHOP}/pangolin", "Pangolin scales for sale, 1kg 300 USD. Contact ****",
                title="Pangolin scales", categories=["wildlife"], fetched_at="2026-11-20T10:00:00Z",
                page_kind="listing", model_version="offers-test",
                entities=[entity("EMAIL_ADDRESS", H_EMAIL)],
                offers=[{"category": "wildlife", "commodity": "pangolin", "start": 0, "end": 8, "price": 300.0,
                         "currency": "USD", "quantity": 1.0, "unit": "kg"}]),
    page_record(f"http://{NEWS}/seizure", "Police seized pangolin scales in a raid at the port",
                title="Seizure report", fetched_at="2026-11-21T10:00:00Z", page_kind="news"),
    page_record(f"http://{THAI}/th", "ขายเกล็ดตัวลิ่น ราคาถูก ติดต่อทางอีเมล", title="ร้านค้า",
                categories=["wildlife"], lang="th", fetched_at="2026-11-10T10:00:00Z"),
    page_record(f"http://{THAI}/zh", "出售穿山甲鳞片 价格优惠 量大从优", title="商店",
                categories=["wildlife"], lang="zh", fetched_at="2026-10-15T10:00:00Z"),
    page_record(f"http://{SHOP}/pills", "Cheap MDMA pills <script>alert(1)</script> 甲 穿山 shipping",
                title="Pills", categories=["drugs", "leaked_data"], fetched_at="2026-11-22T10:00:00Z",
                entities=[entity("EMAIL_ADDRESS", H_EMAIL), entity("CREDIT_CARD", H_CARD)]),
] + [
    page_record(f"http://{PAGED}/{i}", f"catalogue entry {i}", fetched_at="2026-09-01T00:00:00Z")
    for i in range(7)
]


@pytest.fixture(scope="module")
def names(es: Elasticsearch) -> Iterator[Names]:
    names = Names(f"s{uuid.uuid4().hex[:10]}")
    writer = PageWriter(es, names, snapshot_key=b"k")
    for doc in DOCS:
        writer.write(doc)
    assert writer.flush().ok
    yield names
    drop_prefix(es, names.prefix)


def urls(result: dict) -> list[str]:
    return [h["url"] for h in result["hits"]]


def test_category_filter_separates_offers_from_news(es: Elasticsearch, names: Names) -> None:
    both = index.search(es, names, "pangolin")
    assert sorted(urls(both)) == sorted([f"http://{NEWS}/seizure", f"http://{SHOP}/pangolin"])
    result = index.search(es, names, "pangolin", categories=["wildlife"])
    assert result["total"] == 1 and urls(result) == [f"http://{SHOP}/pangolin"]
    hit = result["hits"][0]
    assert hit["onion"] == SHOP and hit["categories"] == ["wildlife"] and hit["lang"] == "en"
    assert hit["page_kind"] == "listing"
    assert hit["fetched_at"] == "2026-11-20T10:00:00Z" and hit["sha256"] == DOCS[0]["sha256"]
    assert hit["entities"] == [{"label": "EMAIL_ADDRESS", "start": 0, "end": 4, "score": 0.99, "masked": "****"}]
    assert hit["offers"][0]["commodity"] == "pangolin" and hit["score"] > 0


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"onion": SHOP}, [f"http://{SHOP}/pills", f"http://{SHOP}/pangolin"]),
    ({"lang": "th"}, [f"http://{THAI}/th"]),
    ({"page_kind": "news"}, [f"http://{NEWS}/seizure"]),
    ({"page_kind": ["listing", "news"], "onion": SHOP}, [f"http://{SHOP}/pangolin"]),
    ({"since": "2026-11-21", "until": "2026-11-21"}, [f"http://{NEWS}/seizure"]),
    ({"until": "2026-10-15", "categories": "wildlife"}, [f"http://{THAI}/zh"]),
    ({"entity_labels": ["CREDIT_CARD"]}, [f"http://{SHOP}/pills"]),
    ({"pii_hash": H_EMAIL}, [f"http://{SHOP}/pills", f"http://{SHOP}/pangolin"]),
    ({"categories": ["drugs", "leaked_data"]}, [f"http://{SHOP}/pills"]),
    ({"url": [f"http://{SHOP}/pills", f"http://{NEWS}/seizure"]}, [f"http://{SHOP}/pills", f"http://{NEWS}/seizure"]),
])
def test_filters_without_text(es: Elasticsearch, names: Names, kwargs: dict, expected: list[str]) -> None:
    assert urls(index.search(es, names, sort="newest", **kwargs)) == expected


def test_snippets_highlight_matches_and_escape_page_html(es: Elasticsearch, names: Names) -> None:
    (hit,) = index.search(es, names, "mdma")["hits"]
    assert "<mark>MDMA</mark>" in hit["snippet"]
    assert "<script>" not in hit["snippet"] and "&lt;script&gt;" in hit["snippet"]
    no_text = index.search(es, names, "", onion=NEWS)["hits"][0]
    assert no_text["snippet"].startswith("Police seized")  # a snippet even without a text match


def test_thai_and_chinese_queries_match_substrings_only(es: Elasticsearch, names: Names) -> None:
    thai = index.search(es, names, "ตัวลิ่น")
    assert urls(thai) == [f"http://{THAI}/th"] and "<mark>" in thai["hits"][0]["snippet"]
    # 穿山甲 must match as a sequence: the page with 甲 and 穿山 apart is not a hit
    chinese = index.search(es, names, "穿山甲")
    assert urls(chinese) == [f"http://{THAI}/zh"]
    assert "<mark>穿山甲</mark>" in chinese["hits"][0]["snippet"].replace("</mark><mark>", "")
    assert urls(index.search(es, names, "穿山甲 鳞片")) == [f"http://{THAI}/zh"]
    assert index.search(es, names, "穿山甲 pangolin")["total"] == 0


def test_newest_sort_and_search_after_paging_visit_every_hit_once(es: Elasticsearch, names: Names) -> None:
    newest = urls(index.search(es, names, "", sort="newest", size=3))
    assert newest == [f"http://{SHOP}/pills", f"http://{NEWS}/seizure", f"http://{SHOP}/pangolin"]
    for sort in ("newest", "relevance"):
        seen, token, pages = [], None, 0
        while True:  # 7 pages with identical fetched_at: only the tiebreaker orders them
            result = index.search(es, names, "catalogue", sort=sort, size=3, after=token)
            assert result["total"] == 7
            seen += urls(result)
            pages += 1
            token = result["next"]
            if token is None:
                break
        assert pages == 3 and sorted(seen) == sorted(f"http://{PAGED}/{i}" for i in range(7))
        assert len(set(seen)) == 7


def test_pii_lookup_by_hash_reports_where_and_when(es: Elasticsearch, names: Names) -> None:
    email = index.pii_lookup(es, names, H_EMAIL)
    assert email["found"] and email["pages"] == 2 and email["onion_count"] == 1
    assert email["first_seen"] == "2026-11-20T10:00:00Z" and email["last_seen"] == "2026-11-22T10:00:00Z"
    assert email["onions"] == [{"onion": SHOP, "pages": 2, "first_seen": "2026-11-20T10:00:00Z",
                                "last_seen": "2026-11-22T10:00:00Z"}]
    assert [p["url"] for p in email["recent"]] == [f"http://{SHOP}/pills", f"http://{SHOP}/pangolin"]
    assert email["recent"][0]["labels"] == ["EMAIL_ADDRESS"]
    card = index.pii_lookup(es, names, H_CARD.upper())
    assert card["pages"] == 1 and card["recent"][0]["labels"] == ["CREDIT_CARD"]
    nothing = index.pii_lookup(es, names, "0" * 64)
    assert not nothing["found"] and nothing["onions"] == [] and nothing["first_seen"] is None


def test_counts_and_page_record(es: Elasticsearch, names: Names) -> None:
    assert index.counts(es, names) == {
        "pages": 12, "onions": 4, "services": 4,
        "pages_by_category": {"wildlife": 3, "drugs": 1, "leaked_data": 1},
        "offers_by_category": {"wildlife": 1},
    }
    hit = index.search(es, names, "pills")["hits"][0]
    page = index.get_page(es, names, hit["id"])
    assert page["text"] == DOCS[4]["text"] and page["sha256"] == DOCS[4]["sha256"]
    assert all("hash" not in e for e in page["entities"])
    assert index.get_page(es, names, "nope") is None
    assert index.get_service(es, names, SHOP)["page_count"] == 2
