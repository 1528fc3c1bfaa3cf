"""Counts for summaries (demo, status pages), computed by aggregations in the index."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from index.names import Names
from index.search import page_counts, service_view

_SERVICE_SORTS = {"last_seen": [{"last_seen": {"order": "desc", "missing": "_last"}}, {"onion": "asc"}],
                  "onion": [{"onion": "asc"}]}


def counts(es: Elasticsearch, names: Names) -> dict[str, Any]:
    """Pages, distinct onions with pages, services known, pages and offers per category."""
    resp = es.search(
        index=names.pages,
        size=0,
        track_total_hits=True,
        aggs={
            "onions": {"cardinality": {"field": "onion"}},
            "categories": {"terms": {"field": "categories", "size": 20}},
            "offers": {"nested": {"path": "offers"},
                       "aggs": {"by_category": {"terms": {"field": "offers.category", "size": 20}}}},
        },
    )
    aggs = resp["aggregations"]
    return {
        "pages": resp["hits"]["total"]["value"],
        "onions": int(aggs["onions"]["value"]),
        "services": es.count(index=names.services)["count"],
        "pages_by_category": {b["key"]: b["doc_count"] for b in aggs["categories"]["buckets"]},
        "offers_by_category": {b["key"]: b["doc_count"] for b in aggs["offers"]["by_category"]["buckets"]},
    }


def services(
    es: Elasticsearch, names: Names, *, category: str | None = None, size: int = 100, sort: str = "last_seen"
) -> list[dict[str, Any]]:
    """Service documents, most recently seen first (or by onion), each with its page count
    (one aggregation for the whole list)."""
    query: dict[str, Any] = {"bool": {"filter": [{"term": {"categories": category}}]}} if category else {"match_all": {}}
    resp = es.search(index=names.services, query=query, size=size, sort=_SERVICE_SORTS[sort])
    docs = [h["_source"] for h in resp["hits"]["hits"]]
    counts = page_counts(es, names, [d["onion"] for d in docs if d.get("onion")])
    return [service_view(d, counts.get(str(d.get("onion")).lower(), 0)) for d in docs]
