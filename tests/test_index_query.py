"""Pure tests of the request bodies search builds (no server)."""

from __future__ import annotations

import pytest

from index.query import build_pii_lookup, build_search, decode_after, encode_after, needs_ngram, text_clauses
from index.writer import merge_service, page_id, service_fact

HL = {"encoder": "html", "pre_tags": ["<mark>"], "post_tags": ["</mark>"]}
TEXT_HL = {"fragment_size": 200, "number_of_fragments": 2, "no_match_size": 200}
SOURCE = ["doc_id", "url", "onion", "title", "categories", "fetched_at", "lang", "entities", "offers", "sha256",
          "page_kind"]


def test_plain_query_with_every_filter_builds_exact_body() -> None:
    body = build_search(
        "pangolin scales", categories=["wildlife"], entity_labels="EMAIL_ADDRESS", onion="ABC.onion",
        since="2026-11-01", until="2026-11-30", lang="vi", pii_hash="AB12", url="http://abc.onion/x", sort="newest",
        size=5, page_kind="listing",
    )
    assert body == {
        "query": {"bool": {
            "must": [{"multi_match": {"query": "pangolin scales", "fields": ["title^2", "text"], "operator": "and"}}],
            "filter": [
                {"terms": {"url": ["http://abc.onion/x"]}},
                {"terms": {"categories": ["wildlife"]}},
                {"terms": {"onion": ["abc.onion"]}},
                {"terms": {"lang": ["vi"]}},
                {"terms": {"page_kind": ["listing"]}},
                {"range": {"fetched_at": {"gte": "2026-11-01", "lt": "2026-12-01"}}},
                {"nested": {"path": "entities", "query": {"terms": {"entities.label": ["EMAIL_ADDRESS"]}}}},
                {"nested": {"path": "entities", "query": {"term": {"entities.hash": "ab12"}}}},
            ],
        }},
        "sort": [{"fetched_at": "desc"}, {"doc_id": "asc"}],
        "size": 5,
        "track_total_hits": True,
        "_source": SOURCE,
        "highlight": {**HL, "fields": {"text": TEXT_HL}},
    }


def test_empty_query_matches_all_sorted_by_relevance_with_tiebreaker() -> None:
    body = build_search("")
    assert body["query"] == {"bool": {"must": [{"match_all": {}}], "filter": []}}
    assert body["sort"] == [{"_score": "desc"}, {"fetched_at": "desc"}, {"doc_id": "asc"}]
    assert body["size"] == 20 and "search_after" not in body


def test_thai_and_chinese_terms_become_ngram_phrases_and_latin_words_stay_standard() -> None:
    assert text_clauses("ขายตัวลิ่น pangolin 穿山甲") == [
        {"multi_match": {"query": "pangolin", "fields": ["title^2", "text"], "operator": "and"}},
        {"multi_match": {"query": "ขายตัวลิ่น", "type": "phrase", "fields": ["title.ngram^2", "text.ngram"]}},
        {"multi_match": {"query": "穿山甲", "type": "phrase", "fields": ["title.ngram^2", "text.ngram"]}},
    ]
    body = build_search("穿山甲")
    assert body["highlight"]["fields"]["text.ngram"] == {"fragment_size": 200, "number_of_fragments": 2}
    assert needs_ngram("ลิ่น") and not needs_ngram("ma") and not needs_ngram("甲")


def test_until_with_time_is_inclusive_and_since_date_is_start_of_day() -> None:
    body = build_search("x", since="2026-11-01T08:00:00Z", until="2026-11-02T12:30:00+00:00")
    assert body["query"]["bool"]["filter"] == [
        {"range": {"fetched_at": {"gte": "2026-11-01T08:00:00+00:00", "lte": "2026-11-02T12:30:00+00:00"}}}
    ]


def test_paging_token_round_trips_into_search_after() -> None:
    token = encode_after([1.25, 1795341600000, "abc"])
    assert decode_after(token) == [1.25, 1795341600000, "abc"]
    assert build_search("x", after=token)["search_after"] == [1.25, 1795341600000, "abc"]
    with pytest.raises(ValueError):
        build_search("x", sort="newest", after=token)  # 3 values, newest sorts on 2 keys
    for bad in ("not base64!", encode_after([]), "e30"):  # e30 = "{}"
        with pytest.raises(ValueError):
            decode_after(bad)


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": 501}, {"sort": "oldest"}])
def test_invalid_arguments_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        build_search("x", **kwargs)


def test_pii_lookup_body_uses_sorted_top_hits_for_first_and_last_seen() -> None:
    body = build_pii_lookup("FF00", size=3)
    assert body["query"] == {"bool": {"filter": [
        {"nested": {"path": "entities", "query": {"term": {"entities.hash": "ff00"}}}}]}}  # no scoring: sorted by time
    assert body["size"] == 3
    onions = body["aggs"]["onions"]
    assert onions["terms"] == {"field": "onion", "size": 100}
    assert onions["aggs"]["first"]["top_hits"]["sort"] == [{"fetched_at": "asc"}]
    assert onions["aggs"]["last"]["top_hits"]["sort"] == [{"fetched_at": "desc"}]


def test_page_id_depends_on_url_and_content_only() -> None:
    a = page_id("http://x.onion/a", "00" * 32)
    assert a == page_id("http://x.onion/a", "00" * 32)
    assert a != page_id("http://x.onion/a", "11" * 32)
    assert a != page_id("http://x.onion/b", "00" * 32)


def _fact(t: str, **kw: object) -> dict:
    base = {"onion": "o.onion", "fetched_at": t, "status": 200, "failure": None, "title": "T", "lang": "en",
            "categories": []}
    base.update(kw)
    return service_fact(base)


def test_merge_service_is_order_independent_and_first_seen_never_moves_forward() -> None:
    early = _fact("2026-10-01T00:00:00Z", categories=["drugs"])
    late = _fact("2026-11-01T00:00:00Z", categories=["wildlife"], title="T2")
    failed = _fact("2026-11-05T00:00:00Z", status=None, failure="onion_intro_failed")
    ab = merge_service(merge_service(merge_service(None, late), failed), early)
    ba = merge_service(merge_service(merge_service(None, early), late), failed)
    for merged in (ab, ba):
        assert merged["first_seen"] == "2026-10-01T00:00:00Z"
        assert merged["last_seen"] == "2026-11-01T00:00:00Z"  # the failed check is not a sighting
        assert merged["last_checked"] == "2026-11-05T00:00:00Z"
        assert (merged["last_status"], merged["last_failure"]) == (None, "onion_intro_failed")
        assert merged["categories"] == ["drugs", "wildlife"]
        assert sorted(merged["titles"]) == ["T", "T2"]
    assert merge_service(ab, early) == ab  # idempotent
