"""Alert state in Elasticsearch: per-rule watermarks, fired alerts (dedup + delivery queue),
and the page reads alert evaluation needs.

Query-based, so it works without the percolator: a rule is a search over pages indexed
since its watermark (``indexed_at``, set once when a page document is created). An alert's
``_id`` is derived from rule + listing fingerprint and created with ``op_type=create``, so
the same listing can fire a rule only once whatever re-scans happen. Alerts are updated
whole with ``if_seq_no``/``if_primary_term`` (no scripts), which also lets concurrent
runners claim an alert without delivering it twice.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterator, Sequence

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from index.names import Names
from index.query import build_search

WATERMARK, ALERT = "watermark", "alert"
PAGE_SOURCE = ["doc_id", "url", "onion", "title", "text", "categories", "entities", "sha256", "indexed_at",
               "fetched_at", "lang"]


def alert_id(rule: str, fingerprint: str) -> str:
    """The one document a (rule, listing) pair can ever create."""
    return hashlib.sha256(f"{ALERT}\n{rule}\n{fingerprint}".encode()).hexdigest()[:40]


def _watermark_id(rule: str) -> str:
    return f"{WATERMARK}-" + hashlib.sha256(rule.encode()).hexdigest()[:32]


def get_watermark(es: Elasticsearch, names: Names, rule: str) -> dict[str, Any] | None:
    """{watermark, floor} of a rule, or None before its first run."""
    try:
        return es.get(index=names.alerts, id=_watermark_id(rule))["_source"]
    except NotFoundError:
        return None


def set_watermark(es: Elasticsearch, names: Names, rule: str, watermark: str, floor: str, now: str) -> None:
    """Record how far a rule has read (``watermark``) and the earliest time it may re-scan (``floor``)."""
    es.index(index=names.alerts, id=_watermark_id(rule), refresh=True,
             document={"kind": WATERMARK, "rule": rule, "watermark": watermark, "floor": floor, "updated_at": now})


def pages_since(
    es: Elasticsearch,
    names: Names,
    since: str,
    *,
    query: str = "",
    categories: Sequence[str] = (),
    entity_labels: Sequence[str] = (),
    lang: Sequence[str] = (),
    onion: Sequence[str] = (),
    page_size: int = 200,
) -> Iterator[dict[str, Any]]:
    """Pages matching a search (the `onionwatch search` language) indexed at or after ``since``,
    oldest first, each with its highlighted ``snippet``."""
    body = build_search(query, categories=list(categories), entity_labels=list(entity_labels), lang=list(lang),
                        onion=list(onion), size=page_size)
    body["query"]["bool"]["filter"].append({"range": {"indexed_at": {"gte": since}}})
    body["sort"] = [{"indexed_at": "asc"}, {"doc_id": "asc"}]
    body["_source"] = PAGE_SOURCE
    body.pop("track_total_hits", None)
    while True:
        hits = es.search(index=names.pages, **body)["hits"]["hits"]
        for h in hits:
            hl = h.get("highlight") or {}
            yield dict(h["_source"], snippet=" … ".join(hl.get("text.ngram") or hl.get("text") or []))
        if len(hits) < page_size:
            return
        body["search_after"] = hits[-1]["sort"]


def first_page_per_url(es: Elasticsearch, names: Names, urls: Sequence[str]) -> dict[str, str]:
    """{url: doc_id of its earliest-fetched page document}: a page whose URL had an earlier
    document is not new, only changed."""
    urls = sorted(set(urls))
    if not urls:
        return {}
    resp = es.search(index=names.pages, size=0, query={"terms": {"url": urls}}, aggs={"by_url": {
        "terms": {"field": "url", "size": len(urls)},
        "aggs": {"first": {"top_hits": {"size": 1, "_source": ["doc_id"],
                                        "sort": [{"fetched_at": "asc"}, {"doc_id": "asc"}]}}},
    }})
    return {b["key"]: b["first"]["hits"]["hits"][0]["_source"]["doc_id"]
            for b in resp["aggregations"]["by_url"]["buckets"]}


def enqueue(es: Elasticsearch, names: Names, doc: dict[str, Any]) -> bool:
    """Create a fired alert (state ``queued``); False when this rule already fired for this listing."""
    try:
        es.create(index=names.alerts, id=alert_id(doc["rule"], doc["fingerprint"]),
                  document=dict(doc, kind=ALERT), refresh=True)
        return True
    except ConflictError:
        return False


def undelivered(es: Elasticsearch, names: Names, rule: str | None = None, *, size: int = 500) -> list[dict[str, Any]]:
    """Queued alerts, oldest first, each as {id, seq_no, primary_term, source} for ``save_alert``."""
    flt: list[dict[str, Any]] = [{"term": {"kind": ALERT}}, {"term": {"state": "queued"}}]
    if rule:
        flt.append({"term": {"rule": rule}})
    resp = es.search(index=names.alerts, query={"bool": {"filter": flt}}, size=size, seq_no_primary_term=True,
                     sort=[{"created_at": "asc"}, {"fingerprint": "asc"}])
    return [{"id": h["_id"], "seq_no": h["_seq_no"], "primary_term": h["_primary_term"], "source": h["_source"]}
            for h in resp["hits"]["hits"]]


def save_alert(es: Elasticsearch, names: Names, alert: dict[str, Any]) -> dict[str, Any] | None:
    """Write an alert back if nobody changed it since it was read; the alert with its new
    seq_no, or None on a conflict (another runner got there first)."""
    try:
        resp = es.index(index=names.alerts, id=alert["id"], document=alert["source"], refresh=True,
                        if_seq_no=alert["seq_no"], if_primary_term=alert["primary_term"])
    except ConflictError:
        return None
    return dict(alert, seq_no=resp["_seq_no"], primary_term=resp["_primary_term"])


def fired(es: Elasticsearch, names: Names, rule: str | None = None, *, size: int = 50) -> list[dict[str, Any]]:
    """Fired alerts, newest first (delivered and still queued)."""
    flt: list[dict[str, Any]] = [{"term": {"kind": ALERT}}]
    if rule:
        flt.append({"term": {"rule": rule}})
    resp = es.search(index=names.alerts, query={"bool": {"filter": flt}}, size=size,
                     sort=[{"created_at": "desc"}, {"fingerprint": "asc"}])
    return [h["_source"] for h in resp["hits"]["hits"]]
